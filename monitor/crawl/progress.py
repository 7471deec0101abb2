"""A live progress line for `newsmon crawl` on a terminal: article pages found, fetched, and outcomes."""
from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from scrapy import Request, signals
from scrapy.crawler import Crawler

from monitor.compare.versioning import Provisional
from monitor.items import Fetch


class CrawlProgress:
    def __init__(self, crawler: Crawler):
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("articles", total=0)
        self.seen: Counter[str] = Counter()
        # Scrapy holds signal receivers weakly: these bound methods live as long as this extension.
        crawler.signals.connect(self.started, signal=signals.spider_opened)
        crawler.signals.connect(self.scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self.scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlProgress:
        return cls(crawler)

    def started(self) -> None:
        self.progress.start()

    def scheduled(self, request: Request, **_: Any) -> None:
        # A request with a delay is held back (monitor/crawl/delays.py) and scheduled again, without it, when
        # its time comes: counted then, once.
        if "article_key" in request.meta and not request.meta.get("delay"):
            self.progress.update(self.task, total=(self.progress.tasks[0].total or 0) + 1)

    def scraped(self, item: Any, **_: Any) -> None:
        fetch = item.fetch if isinstance(item, Provisional) else item
        if isinstance(fetch, Fetch):
            self.seen["error" if fetch.article is None and not fetch.is_gone else "fetched"] += 1
            self.progress.update(self.task, advance=1,
                                 description=f"articles ({self.seen['error']} errors)")

    def closed(self) -> None:
        self.progress.stop()
