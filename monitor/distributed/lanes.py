"""A site's lanes: its politeness spread over every worker of every machine.

A site with `concurrency` K (what one crawl of it would keep in flight: its [politeness] table, else the
defaults, local mirrors exempt) has K lanes. Each job of the site holds one (procrastinate's `lock`), and its
crawl keeps one request in flight, K times the site's download delay apart: the site sees at most K requests
at once, and about as many per second as one crawl of it would send.
"""
from __future__ import annotations

from scrapy.settings import Settings

from monitor.config import SiteConfig
from monitor.crawl.runner import site_settings


def site_lanes(site: SiteConfig) -> int:
    return site_settings(site, db_url="", revisit="none").getint("CONCURRENT_REQUESTS_PER_DOMAIN")


def lane_settings(site: SiteConfig, *, db_url: str, visits: dict[str, str], log_level: str = "WARNING") -> Settings:
    """The settings of one job's crawl on one lane: a discovery (no `visits`), or the planned visits named
    by `visits` (article key -> visit key), and those only."""
    settings = site_settings(site, db_url=db_url, revisit="all" if visits else "none", log_level=log_level)
    lanes = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    settings.setdict({"CONCURRENT_REQUESTS": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
                      "DOWNLOAD_DELAY": settings.getfloat("DOWNLOAD_DELAY") * lanes,
                      "NEWSMON_VISITS": visits,
                      # Scrapy 2.19 starts, for every crawl, an HTTP server that runs Python code sent to it and
                      # writes its token to a file in the user's profile: a worker runs thousands of crawls.
                      "REMOTE_CONTROL_ENABLED": False}, priority="cmdline")
    return settings
