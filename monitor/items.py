"""What a spider hands over: one `Fetch` per article request, carrying the extracted article when there is one.

These are plain dataclasses so that everything downstream (versioning, storage) can be tested with plain
values, without Scrapy. They hold what the spider saw and nothing newsmon decided about it. The article's
fields are declared here, once; the stored version, the records and the renderers name them from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """The article as the page presents it: text as published, dates as declared by the site."""

    key: str                      # the site's stable article id (the number ending the URL)
    url: str                      # canonical URL
    edition: str | None
    section: str | None
    title: str
    lead: str
    author: str
    published: datetime | None    # timezone-aware, in the edition's zone
    updated: datetime | None      # the declared "mis à jour" date
    date_precision: str           # "day" when the page gives dates without time, else "minute"
    body: tuple[str, ...]         # paragraphs and intertitles in reading order
    captions: tuple[str, ...]     # image captions, without photo credits
    extractor: str                # which layout parser produced this, with its version


# The request meta key under which monitor/crawl/heads.py leaves a response's head for the spider (Fetch.head).
RESPONSE_HEAD_META = "newsmon_head"

# The fields whose text an edit changes, in the order diffs and reports show them.
TEXT_FIELDS = ("title", "lead", "author", "body", "captions")
# The dates as the site declares them; a change of these alone is not an edit of the text.
DATE_FIELDS = ("published", "updated")
# What a stored version keeps of an extracted article (the key names the article, not the version).
VERSION_FIELDS = tuple(f.name for f in fields(ExtractedArticle) if f.name != "key")


@dataclass(slots=True)
class Fetch:
    """One attempt to fetch one article, whatever came of it.

    `article` is set when the page held an article; `error` says why not otherwise. An HTTP 404/410
    leaves both empty: the status says it all.
    """

    site: str
    key: str
    requested_url: str
    url: str
    status: int                   # HTTP status, 0 when no response came (timeout, DNS, reset)
    fetched_at: datetime
    article: ExtractedArticle | None = None
    error: str | None = None
    raw: bytes = b""
    encoding: str = ""
    etag: str | None = None
    last_modified: str | None = None
    redirect_urls: list[str] = field(default_factory=list)
    retry_after: float | None = None   # seconds the site asked us to wait (429/503 Retry-After)
    unreadable: bool = False           # a whole page at the article's URL in which no article could be read
    # The response's status line and headers as the site sent them, in HTTP/1.1 form ("HTTP/1.1 200\r\nName:
    # value\r\n..."), before Scrapy decoded the body (monitor/crawl/heads.py): what a web archive of the page
    # needs (monitor/export/warc.py). Empty when no response came, or no middleware kept it.
    head: bytes = b""
    # The planned visit this fetch concludes (distributed mode, monitor/store/visits.py): set by the crawl
    # that was asked to make it, on the article's last fetch only (not on a first look held for a second).
    visit_key: str | None = None
    # The digest of what the page's reading depends on (spiders/base.py NewsSpider.page_digest); None when the
    # page was not read, or read by a fallback extractor. `same_page`: it equals the digest of the article's
    # last page read, so the page was not read again: its article is the latest version's.
    page_digest: bytes | None = None
    same_page: bool = False

    @property
    def is_gone(self) -> bool:
        return self.status in (404, 410)

    @property
    def not_modified(self) -> bool:
        """A 304 to a conditional request: the page is what it was at the last check."""
        return self.status == 304
