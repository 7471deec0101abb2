"""Pure extraction: page bytes and URL in, an `ExtractedArticle` out. Integrity checks (integrity.py),
dates (dates.py), one adapter per known layout family (lepetitjournal.py). Never imports Scrapy or the store,
so stored pages can be read again without a crawl.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from parsel import Selector

from monitor.extract.integrity import (ExtractionError, PageError, candidate_encodings, check_complete, decode,
                                       has_mojibake)
from monitor.items import ExtractedArticle

Extractor = Callable[[Selector, str], ExtractedArticle]

__all__ = ["ExtractionError", "Extractor", "PageError", "read_article", "read_stored"]


def read_article(body: bytes, url: str, content_type: str | None, fallback_encoding: str,
                 extractor: Extractor) -> tuple[str, ExtractedArticle]:
    """The article on a whole page, and the encoding it was read in.

    Raises PageError when the page cannot be trusted (cut short, or no encoding reads it cleanly) and
    ExtractionError when it holds no article the extractor can read. When the HTTP header and the page
    disagree on the encoding, each is tried and the one whose article text decodes cleanly is kept."""
    check_complete(body)
    candidates = candidate_encodings(body, content_type, fallback_encoding)
    if len(candidates) == 1:
        text = decode(body, candidates[0], strict=False) or ""
        return candidates[0], extractor(Selector(text=text), url)
    for encoding in candidates:
        text = decode(body, encoding, strict=True)
        if text is None:
            continue
        article = extractor(Selector(text=text), url)
        if not has_mojibake(" ".join([article.title, article.lead, *article.body])):
            return encoding, article
    raise PageError(f"the article does not read cleanly as {' or '.join(candidates)} (header and page "
                    "disagree on the encoding)")


def read_stored(page: bytes, url: str, encoding: str, readers: Sequence[Extractor]) -> ExtractedArticle | None:
    """A stored page read again, decoded as it was when stored, by the first of `readers` that can read it;
    None when none can."""
    text = decode(page, encoding or "utf-8", strict=False) or ""
    for reader in dict.fromkeys(readers):
        try:
            return reader(Selector(text=text), url)
        except ExtractionError:
            continue
    return None
