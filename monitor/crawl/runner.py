"""Crawls of one site: the Scrapy settings and spider arguments a site's config calls for, and `run_crawl`,
the one-shot crawl of `newsmon crawl` (its own reactor, then exit).

The daemon runs the same crawls on one long-lived reactor (monitor/daemon.py).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import AsyncCrawlerProcess, AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader

from monitor.config import NEWS_SPIDER, SiteConfig
from monitor.crawl.summary import CrawlSummary
from monitor.errors import BadInput
from monitor.store import Store, default_db_url, open_store, runs
from monitor.store.ingest import ensure_site
logger = logging.getLogger(__name__)


# Fetch failures are recorded as error checks and summed up in the summary; these loggers would also print
# a traceback per failed request.
FETCH_FAILURE_LOGGERS = ("scrapy.downloadermiddlewares.retry", "scrapy.downloadermiddlewares.robotstxt")


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
    """The spider's keyword arguments: the site's, and those of its spider only (the config refuses the
    others, monitor/config.py)."""
    args: dict[str, Any] = {"site": site.name, "discover": discover}
    if site.base_url:
        args["base_url"] = site.base_url
    if site.spider == NEWS_SPIDER:
        return args | {key: value for key, value in (
            ("feeds", list(site.feeds)), ("sitemaps", list(site.sitemaps)), ("sections", list(site.sections)),
            ("article_urls", site.article_urls), ("article_key", site.article_key), ("timezone", site.timezone),
        ) if value}
    args["front_pages"] = site.front_pages
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


async def crawl_in_time(runner: AsyncCrawlerRunner, crawler: Crawler, site: SiteConfig, *, discover: bool,
                        timeout: timedelta) -> str | None:
    """One crawl of a long-lived process (the daemon's, a distributed worker's), stopped after `timeout`:
    why it failed, if it did. A crawl's failure is the caller's to report, never the process's end."""
    try:
        await asyncio.wait_for(runner.crawl(crawler, **spider_arguments(site, discover=discover)),
                               timeout.total_seconds())
    except TimeoutError:
        await crawler.stop_async()
        return f"stopped after crawl_timeout ({timeout})"
    except Exception as exc:  # noqa: BLE001 - one crawl's failure must not end the process
        logger.debug("crawl failure", exc_info=True)
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def run_crawl(site: SiteConfig, *, db_url: str | None = None, revisit: str = "due", discover: bool = True,
              progress: bool = False, log_level: str = "ERROR") -> CrawlSummary:
    db_url = db_url or default_db_url()
    settings = site_settings(site, db_url=db_url, revisit=revisit, log_level=log_level)
    spidercls = spider_class(settings, site.spider)
    if not site.base_url and not getattr(spidercls, "default_base_url", ""):
        raise BadInput(f"spider {site.spider!r} has no site of its own: give --base-url, "
                       "or --config with a site whose base_url is set")
    store = open_store(db_url)  # a database that cannot be used stops us before any fetch
    try:
        site_id = register_site(store, site, spidercls)
        if progress:
            # Added to newsmon's own extensions (monitor/settings.py), not instead of them.
            extensions = {**settings.getdict("EXTENSIONS"), "monitor.crawl.progress.CrawlProgress": 500}
            settings.set("EXTENSIONS", extensions, priority="cmdline")
        process = AsyncCrawlerProcess(settings)
        quiet_fetch_failures(log_level)
        crawler = process.create_crawler(spidercls)
        crawler.newsmon_store = store  # type: ignore[attr-defined] # see monitor.crawl.pipeline.crawler_store
        # Everything imported so far lives as long as the process: keep it out of the collector's scans.
        gc.freeze()
        # A crawl makes and drops objects by the million (requests, responses, parsed pages), few in cycles:
        # Python's default collects every 700 allocations, ~750 times in a first crawl of 1,500 articles
        # (0.2-0.3 ms an article); this, a dozen times.
        gc.set_threshold(20_000, 20, 20)
        started = time.monotonic()
        with runs.recorded(store, site_id, "crawl") as run:
            process.crawl(crawler, **spider_arguments(site, discover=discover))
            process.start()
            summary = CrawlSummary.from_crawler(site.name, crawler, time.monotonic() - started)
            run.finish(summary.counts, summary.failure)
        return summary
    finally:
        store.close()
