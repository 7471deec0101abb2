"""Crawls of one site: the Scrapy settings and spider arguments a site's config calls for, the summary a
crawl comes to, and `run_crawl`, the one-shot crawl of `newsmon crawl` (its own reactor, then exit).

The daemon runs the same crawls on one long-lived reactor (monitor/daemon.py).
"""
from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import AsyncCrawlerProcess, Crawler
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader

from monitor.store import runs
from monitor.config import SiteConfig
from monitor.errors import BadInput
from monitor.store.ingest import ensure_site
from monitor.store import Store, default_db_url, open_store

OUTCOMES = ("new", "changed", "metadata", "unchanged", "gone", "error", "suspect", "retried")
# Attempts followed by a second look in the same crawl: logged, but the article is counted once, by its
# last fetch.
INTERMEDIATE = ("suspect", "retried")
READ = ("new", "changed", "metadata", "unchanged")  # outcomes of a page the extractor read
# Extraction is taken for broken when at least this many article pages, and at least this share of those
# that came whole, could not be read: one maintenance page is a fault, most pages at once is a redesign.
ALARM_PAGES = 3
ALARM_SHARE = 0.5
# Fetch failures are recorded as error checks and summed up in the summary; these loggers would also print
# a traceback per failed request.
FETCH_FAILURE_LOGGERS = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt")


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
    unreadable: int = 0           # whole pages in which no article could be read
    unreadable_reason: str = ""
    archive_left_out: int = 0     # new sitemap entries too old to track (monitor/frontier.py)

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
    def counts(self) -> dict[str, int]:
        return {**self.outcomes, "listing_errors": self.listing_errors, "write_errors": self.write_errors,
                "not_modified": self.not_modified, "unreadable": self.unreadable,
                "archive_left_out": self.archive_left_out}

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
            unreadable=int(stats.get("newsmon/unreadable", 0)),
            unreadable_reason=str(stats.get("newsmon/unreadable_reason", "")),
            archive_left_out=int(stats.get("newsmon/archive_left_out", 0)))


def newsmon_settings(**overrides: Any) -> Settings:
    """Scrapy settings from monitor/settings.py, whatever the working directory, plus overrides."""
    settings = Settings()
    settings.setmodule("monitor.settings", priority="project")
    settings.setdict(overrides, priority="cmdline")
    return settings


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def site_settings(site: SiteConfig, *, db_url: str, revisit: str, log_level: str = "ERROR") -> Settings:
    overrides: dict[str, Any] = {"NEWSMON_DB": db_url, "NEWSMON_REVISIT": revisit, "NEWSMON_POLICY": site.policy,
                                 "NEWSMON_CONFIRM_DELAY": site.confirm_delay.total_seconds(),
                                 "NEWSMON_ARCHIVE": site.archive, "LOG_LEVEL": log_level}
    if (p := site.politeness) is not None:
        # Scrapy 2.19 does not hold a slot to its concurrency when there is no download delay: it hands out
        # every queued request before the first one counts as transferring. The global limit holds, and a
        # crawl is of one site, so it carries the per-site figure too.
        overrides |= {"CONCURRENT_REQUESTS_PER_DOMAIN": p.concurrency, "CONCURRENT_REQUESTS": p.concurrency,
                      "DOWNLOAD_DELAY": p.download_delay.total_seconds(), "ROBOTSTXT_OBEY": p.robots_txt,
                      "NEWSMON_MAX_REQUESTS": p.max_requests, "DOWNLOAD_TIMEOUT": p.timeout.total_seconds()}
        if p.user_agent:
            overrides["USER_AGENT"] = p.user_agent
    elif site.base_url and urlsplit(site.base_url).hostname in LOCAL_HOSTS:
        # A local copy of a site (tests, benchmarks, mirrors) has nobody to be polite to. The per-domain
        # setting also sizes Scrapy's pool of kept-alive connections per host.
        overrides |= {"CONCURRENT_REQUESTS_PER_DOMAIN": 16, "DOWNLOAD_DELAY": 0}
    return newsmon_settings(**overrides)


def spider_arguments(site: SiteConfig, *, discover: bool) -> dict[str, Any]:
    args: dict[str, Any] = {"site": site.name, "discover": discover, "front_pages": site.front_pages}
    if site.base_url:
        args["base_url"] = site.base_url
    if site.editions:
        args["editions"] = list(site.editions)
    return args


def spider_class(settings: Settings, name: str) -> type[Spider]:
    loader = get_spider_loader(settings)
    try:
        return loader.load(name)
    except KeyError:
        raise BadInput(f"unknown spider {name!r} (known: {', '.join(sorted(loader.list()))})") from None


def quiet_fetch_failures(log_level: str) -> None:
    if logging.getLevelName(log_level) > logging.INFO:
        for name in FETCH_FAILURE_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


def register_site(store: Store, site: SiteConfig, spider: type[Spider]) -> int:
    """The site's id in the database, created on first use."""
    with store.session() as session:
        return ensure_site(session, site.name, site.spider, site.base_url or getattr(spider, "default_base_url", ""))


def run_crawl(site: SiteConfig, *, db_url: str | None = None, revisit: str = "due", discover: bool = True,
              progress: bool = False, log_level: str = "ERROR") -> CrawlSummary:
    db_url = db_url or default_db_url()
    settings = site_settings(site, db_url=db_url, revisit=revisit, log_level=log_level)
    spidercls = spider_class(settings, site.spider)
    store = open_store(db_url)  # a database that cannot be used stops us before any fetch
    try:
        site_id = register_site(store, site, spidercls)
        if progress:
            settings.set("EXTENSIONS", {"monitor.crawl.progress.CrawlProgress": 500}, priority="cmdline")
        process = AsyncCrawlerProcess(settings)
        quiet_fetch_failures(log_level)
        crawler = process.create_crawler(spidercls)
        crawler.newsmon_store = store  # type: ignore[attr-defined] # see monitor.pipeline.crawler_store
        # Everything imported so far lives as long as the process: keep it out of the collector's scans.
        gc.freeze()
        started = time.monotonic()
        with runs.recorded(store, site_id, "crawl") as run:
            process.crawl(crawler, **spider_arguments(site, discover=discover))
            process.start()
            summary = CrawlSummary.from_crawler(site.name, crawler, time.monotonic() - started)
            run.finish(summary.counts, "the site never answered" if summary.unreachable else summary.extraction_alarm)
        return summary
    finally:
        store.close()
