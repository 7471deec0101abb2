"""Requests that must wait, held outside the downloader until their time comes.

A request carrying `meta["delay"]` (seconds) is not to be sent before that long: a retry waiting out its
back-off or a site's Retry-After (monitor/crawl/retries.py), a second look at a suspicious or broken page
(monitor/crawl/confirmation.py). Scrapy has no per-request delay (scrapy/scrapy#802, still open). Sleeping
in a downloader middleware's `process_request` is not one: the request then counts in the downloader's
`active` set, and the engine stops pulling requests once `len(active)` reaches CONCURRENT_REQUESTS (a
configured site's concurrency, e.g. 2), so two waiting requests stalled a whole crawl (issue 9).

This extension takes such a request when it is scheduled (a `request_scheduled` handler may drop a request
by raising IgnoreRequest), keeps it, and hands it back to the engine once its delay is over; it then takes
its place in the scheduler like any other request, within the site's concurrency and download delay. While
requests wait the spider stays open. When the crawl is stopped (SIGTERM, crawl_timeout, CLOSESPIDER_*), the
waiting requests are dropped: no fetch is recorded for them, so their articles stay due, as for any request
a stopped crawl did not send.
"""
from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.utils.asyncio import CallLaterResult, call_later

logger = logging.getLogger(__name__)


class DelayedRequests:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.waiting: dict[Request, CallLaterResult] = {}
        # Scrapy holds signal receivers weakly: these bound methods live as long as this extension.
        crawler.signals.connect(self.hold, signal=signals.request_scheduled)
        crawler.signals.connect(self.keep_open, signal=signals.spider_idle)
        crawler.signals.connect(self.drop_all, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DelayedRequests:
        return cls(crawler)

    def hold(self, request: Request, **_: Any) -> None:
        """A request to send later is kept here instead of entering the scheduler."""
        delay = request.meta.get("delay")
        if not delay:
            return
        self.waiting[request] = call_later(delay, self.release, request)
        self.count("newsmon/delayed")
        raise IgnoreRequest  # not dropped: scheduled again by release()

    def release(self, request: Request) -> None:
        if self.waiting.pop(request, None) is None or self.crawler.engine.spider is None:
            return
        # Without its delay, the request goes through (other receivers, e.g. the progress bar, count it now).
        request.meta.pop("delay", None)
        self.crawler.engine.crawl(request)

    def keep_open(self, **_: Any) -> None:
        if self.waiting:
            raise DontCloseSpider

    def drop_all(self, **_: Any) -> None:
        for timer in self.waiting.values():
            timer.cancel()
        if self.waiting:
            logger.info("crawl stopped: %d delayed request(s) dropped; their articles stay due", len(self.waiting))
            self.count("newsmon/delayed_dropped", len(self.waiting))
        self.waiting.clear()

    def count(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, n)
