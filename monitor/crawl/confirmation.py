"""Take a second look, within the same crawl, at pages that cannot be believed at first sight.

A spider middleware between the spider and the pipeline:
- A page that answers 200 but is broken (truncated, empty, a maintenance page, unreadable) is fetched
  again after a pause that doubles each time (NEWSMON_PAGE_RETRIES times), as Scrapy's own retries do
  for HTTP errors. Each failed attempt is recorded as a "retried" check with its error.
- A fetch of a known article that looks like a broken page rather than an edit
  (monitor.compare.versioning.suspicion: much of the body gone, a field emptied, a live article answering
  404/410) is held back and the page is fetched again after NEWSMON_CONFIRM_DELAY. Both fetches are
  recorded: the first as a "suspect" check, the second as what it is. If the two disagree and the second
  is suspicious too, neither becomes a version: the article stays due and is looked at again soon.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from monitor.compare.versioning import Provisional, extracted_hash, suspicion
from monitor.crawl.frontier import known_articles
from monitor.items import Fetch
from monitor.store.known import KnownArticle
from spiders.base import NewsSpider


def same_page(first: Fetch, second: Fetch) -> bool:
    if first.article is None or second.article is None:
        return first.article is None and second.article is None and first.status == second.status
    return extracted_hash(first.article) == extracted_hash(second.article)


class Confirmation(BaseSpiderMiddleware):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.shrink = crawler.settings.getfloat("NEWSMON_CONFIRM_SHRINK")
        self.delay = crawler.settings.getfloat("NEWSMON_CONFIRM_DELAY")
        self.page_retries = crawler.settings.getint("NEWSMON_PAGE_RETRIES")
        self.backoff = crawler.settings.getfloat("NEWSMON_RETRY_BACKOFF")
        self.held: dict[str, Provisional] = {}  # first fetches waiting for their confirmation, by article key
        self.attempts: dict[str, int] = {}  # second looks at broken pages so far, by article key

    def known(self, key: str) -> KnownArticle | None:
        """What the database knew of the article when the crawl began. Read from the crawl's shared copy
        at each look, not once at start: the frontier (below this middleware's place in the start chain)
        hands out revisits before this middleware's own start runs, and their answers may come first.
        The frontier loads that copy before its first request, so this never queries the database."""
        return known_articles(self.crawler).get(key)

    def process_spider_output(self, response: Response | None, result: Iterable[Any]) -> Iterator[Any]:
        for item in result:
            yield from self.confirm(item)

    async def process_spider_output_async(self, response: Response | None,
                                          result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in result:
            for out in self.confirm(item):
                yield out

    def confirm(self, item: Any) -> Iterator[Any]:
        if not isinstance(item, Fetch):
            yield item
            return
        if item.error and item.status == 200 and self.attempts.get(item.key, 0) < self.page_retries:
            attempt = self.attempts[item.key] = self.attempts.get(item.key, 0) + 1
            yield Provisional(item, "retried")  # a check with the page's error; the last attempt decides
            yield from self.again(item, self.backoff * 2 ** (attempt - 1))
            return
        known = self.known(item.key)
        reason = suspicion(known.baseline if known else None, item.article, item.status, self.shrink)
        first = self.held.pop(item.key, None)
        if first is not None:
            yield first
            if reason and not same_page(first.fetch, item):
                yield Provisional(item, "suspect",
                                  f"{reason}; a second fetch disagrees with the first: neither is believed")
            else:
                yield item
        elif reason:
            self.held[item.key] = Provisional(item, "suspect", f"{reason}; confirming with a second fetch")
            yield from self.again(item, self.delay)
        else:
            yield item

    def again(self, fetch: Fetch, delay: float) -> Iterator[Any]:
        """The same page once more, after `delay` seconds (monitor/crawl/delays.py holds it until then)."""
        spider: NewsSpider = self.crawler.spider
        # The fetch's key, not the URL's: a renamed article of a site keyed by URL is still this article.
        yield spider.article_request(fetch.requested_url, revisit=True, delay=delay, article_key=fetch.key)
