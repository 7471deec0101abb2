"""Which extractor reads a site's pages, by the name of the spider that crawls it (the `sites` table keeps
it), without Scrapy: `newsmon reextract` reads stored pages again as the site's spider would, anywhere.
Kept beside the adapters so that a new one is registered where it is written."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from monitor.extract import Extractor, read_stored
from monitor.extract.generic import DEFAULT_TIMEZONE, EXTRACTOR, extract_generic, is_generic
from monitor.extract.lepetitjournal import LAYOUTS, extract_article
from monitor.items import ExtractedArticle

# spider name -> the site's own extractor; the generic one reads what it cannot (spiders/base.py `read`).
SITE_EXTRACTORS: dict[str, Extractor] = {
    "lepetitjournal": extract_article,
    "news": extract_generic,
}

# Every reading this newsmon can make, by extractor name and version. It is part of a page's digest
# (spiders/base.py NewsSpider.page_digest): after any change to an extractor, a page seen before is read again.
READERS = " ".join([*(layout.name for layout in LAYOUTS), EXTRACTOR])


def site_readers(spider: str, timezone: str | None = None) -> tuple[Extractor, Extractor]:
    """The site's extractor and its fallback, as the spider named `spider` reads pages. A `news` site's
    dates written without an offset are read in its configured zone (as spiders/news.py does); a spider
    this registry does not know is read by the generic extractor alone."""
    generic: Extractor = extract_generic
    if spider == "news" and timezone and timezone != DEFAULT_TIMEZONE:
        generic = partial(extract_generic, timezone=timezone)
    own = SITE_EXTRACTORS.get(spider, extract_generic)
    return (generic if own is extract_generic else own), generic


@dataclass(frozen=True, slots=True)
class StoredPageReader:
    """Reads a stored page again as the family of a named extractor does (the site's own extractor, or the
    generic one): how the store compares like with like when the extractor changed between two fetches of
    an article (monitor/store/ingest.py `_switch`). A value rather than a spider's method, so that a crawl's
    writer process can be sent it (monitor/crawl/writer.py)."""

    own: Extractor
    generic: Extractor

    def __call__(self, page: bytes, url: str, encoding: str, extractor: str) -> ExtractedArticle | None:
        """The page read by `extractor`'s family, or None when it cannot read it."""
        return read_stored(page, url, encoding, [self.generic if is_generic(extractor) else self.own])
