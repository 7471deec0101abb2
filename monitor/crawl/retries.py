"""Retries that wait: Scrapy's RetryMiddleware re-sends a failed request at once, which hammers a site
that just said it is overloaded. This one waits between attempts (exponential back-off), honours a
429/503's Retry-After, and gives up at once when the site asks for longer than a crawl should wait: the
check is then recorded as an error and the article re-checked after the time the site asked for.

A retry carries its wait as `meta["delay"]` (seconds), as newsmon's confirmation fetches do: the engine
schedules it, and monitor/crawl/delays.py holds it outside the downloader until then, so that a waiting
request takes no download slot.
"""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.backoff = crawler.settings.getfloat("NEWSMON_RETRY_BACKOFF")
        self.max_wait = crawler.settings.getfloat("NEWSMON_RETRY_MAX_WAIT")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        # Only a request downloaded without the scheduler gets here with its delay: a retry of robots.txt
        # (`engine.download_async` re-sends what process_response returns at once). Every article request
        # waits for robots.txt meanwhile, so sleeping here holds up nothing that could go ahead.
        if delay := request.meta.pop("delay", None):
            await asyncio.sleep(delay)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        if asked is not None and asked > self.max_wait:
            request.meta["retry_after"] = asked  # the errback reads it: the next check waits that long
            return response
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            request.meta["retry_after"] = asked
            return response
        retry.meta["delay"] = asked if asked is not None else self.wait(retry)
        return retry

    def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        retry = super().process_exception(request, exception)
        if isinstance(retry, Request):
            retry.meta["delay"] = self.wait(retry)
        return retry

    def wait(self, retry: Request) -> float:
        """1 s, 2 s, 4 s... (NEWSMON_RETRY_BACKOFF doubled per attempt), never more than the cap."""
        return min(self.max_wait, self.backoff * 2 ** (retry.meta.get("retry_times", 1) - 1))
