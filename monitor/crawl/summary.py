"""What a crawl of one site came to, read from its Scrapy stats, and the one rule that says it failed."""
from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.crawler import Crawler

OUTCOMES = ("new", "changed", "metadata", "unchanged", "gone", "error", "suspect", "retried")
# Attempts followed by a second look in the same crawl: logged, but the article is counted once, by its
# last fetch.
INTERMEDIATE = ("suspect", "retried")
READ = ("new", "changed", "metadata", "unchanged")  # outcomes of a page the extractor read
# Extraction is taken for broken when at least this many article pages, and at least this share of those
# that came whole, could not be read: one maintenance page is a fault, most pages at once is a redesign.
ALARM_PAGES = 3
ALARM_SHARE = 0.5


@dataclass(slots=True)
class CrawlSummary:
    site: str
    outcomes: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    seconds: float = 0.0
    finish_reason: str = ""
    requests: int = 0
    responses: int = 0            # HTTP responses of any kind
    listing_errors: int = 0       # home, front pages, feeds, sitemaps that could not be read
    first_listing_error: str = ""
    write_errors: int = 0         # batches the database refused; their articles stay due
    not_modified: int = 0         # unchanged checks answered by a 304
    saved_bytes: int = 0          # what those 304s did not have to send
    same_page: int = 0            # unchanged checks answered by the very page last read: not read again
    unreadable: int = 0           # whole pages in which no article could be read
    unreadable_reason: str = ""
    archive_left_out: int = 0     # new sitemap entries too old to track (monitor/crawl/frontier.py)
    generic_fallback: int = 0     # article pages the site's own extractor could not read, the generic one could

    @property
    def checked(self) -> int:
        """Articles checked (not fetches: a second look at a page counts once)."""
        return sum(n for outcome, n in self.outcomes.items() if outcome not in INTERMEDIATE)

    @property
    def unreachable(self) -> bool:
        return self.requests > 0 and self.responses == 0

    @property
    def extraction_alarm(self) -> str | None:
        """Said when most article pages could not be read. A site's new markup makes every page unreadable
        at once, and without this the monitor would go on quietly catching nothing."""
        pages = self.unreadable + sum(self.outcomes.get(o, 0) for o in READ) - self.not_modified
        if self.unreadable < ALARM_PAGES or self.unreadable < pages * ALARM_SHARE:
            return None
        return (f"no article could be read on {self.unreadable} of {pages} article pages "
                f"({self.unreadable_reason}): has the site's markup changed?")

    @property
    def failure(self) -> str | None:
        """Why the crawl failed, or None: the one rule behind the command's exit status, the stored run and
        the daemon's log line. A crawl fails when the site never answered, when the database refused
        fetches (their articles stay due), or when extraction broke (see `extraction_alarm`)."""
        if self.unreachable:
            return "the site never answered; nothing was crawled"
        if self.write_errors:
            return (f"{self.write_errors} batch(es) of fetches could not be stored; "
                    "those articles are still due")
        return self.extraction_alarm

    @property
    def warning(self) -> str | None:
        """Said when some pages were read only by the generic extractor: the crawl succeeded, but the site's
        own layout no longer matches them (a redesign under way)."""
        if not self.generic_fallback:
            return None
        return (f"{self.generic_fallback} article page(s) read by the generic extractor: the site's own "
                "layout no longer matches them (has its markup changed?)")

    @property
    def counts(self) -> dict[str, int]:
        return {**self.outcomes, "listing_errors": self.listing_errors, "write_errors": self.write_errors,
                "not_modified": self.not_modified, "same_page": self.same_page, "unreadable": self.unreadable,
                "archive_left_out": self.archive_left_out, "generic_fallback": self.generic_fallback}

    @classmethod
    def from_crawler(cls, site: str, crawler: Crawler, seconds: float) -> CrawlSummary:
        collector = getattr(crawler, "_stats", None)  # unset when the crawl failed before it started
        stats = collector.get_stats() if collector is not None else {}
        return cls(
            site=site, outcomes={o: int(stats.get(f"newsmon/{o}", 0)) for o in OUTCOMES},
            bytes=int(stats.get("newsmon/bytes", 0)), seconds=seconds,
            finish_reason=str(stats.get("finish_reason", "")),
            requests=int(stats.get("downloader/request_count", 0)),
            responses=int(stats.get("response_received_count", 0)),
            listing_errors=int(stats.get("newsmon/listing_errors", 0)),
            first_listing_error=str(stats.get("newsmon/listing_error", "")),
            write_errors=int(stats.get("newsmon/write_errors", 0)),
            not_modified=int(stats.get("newsmon/not_modified", 0)),
            saved_bytes=int(stats.get("newsmon/saved_bytes", 0)),
            same_page=int(stats.get("newsmon/same_page", 0)),
            unreadable=int(stats.get("newsmon/unreadable", 0)),
            unreadable_reason=str(stats.get("newsmon/unreadable_reason", "")),
            archive_left_out=int(stats.get("newsmon/archive_left_out", 0)),
            generic_fallback=int(stats.get("newsmon/generic_fallback", 0)))
