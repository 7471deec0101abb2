"""The Scrapy item pipeline that stores fetches: batched, each batch written away from the event loop (a full
batch of pages read in the writer process, any other in a thread: monitor/crawl/writer.py).

Writing one fetch at a time stalls Scrapy's event loop (~5 s and 236 ms stalls for 5,000 items); batches
of 200 written in a thread take ~0.25 s with stalls of a few ms (FIELD-NOTES).

A crawl of planned visits (distributed mode: NEWSMON_VISITS, article key -> visit key) names on each
article's concluding fetch the visit it makes (`Fetch.visit_key`, stored in checks.visit_key, unique), and
leaves out the fetches of a visit already settled (a check records it, or another crawl checked the article
since it was planned: a run of unchanged checks keeps only its latest visit's name): a job run again after
its worker died, or by two workers at once, is recorded once.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from monitor.compare.policy import RevisitPolicy
from monitor.compare.versioning import Provisional
from monitor.crawl.writer import Batch, Written, hold_writer, release_writer, worth_a_writer, write, write_in_writer
from monitor.items import Fetch
from monitor.store import Store, open_store
from monitor.store.ingest import Counts, ensure_site

logger = logging.getLogger(__name__)
_OPENING = threading.Lock()


def crawler_store(crawler: Crawler) -> Store:
    """The database a crawl works on, shared by its components (pipeline, frontier, confirmation).

    Whoever runs the crawl may hand one over as `crawler.newsmon_store`: the daemon gives every crawl its
    own long-lived store. An engine per crawl would leave, crawl after crawl, a dialect behind in
    SQLAlchemy's per-mapper statement caches (bench/daemon_memory.py saw +8 KB per crawl). Otherwise the
    store is opened here and closed when the crawl's engine stops."""
    with _OPENING:  # components ask from worker threads; one store per crawl
        store = getattr(crawler, "newsmon_store", None)
        if store is None:
            store = crawler.newsmon_store = open_store(crawler.settings.get("NEWSMON_DB"))  # type: ignore[attr-defined]
            crawler.signals.connect(store.close, signal=signals.engine_stopped)
    return store


class StorePipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.batch_size = crawler.settings.getint("NEWSMON_BATCH_SIZE")
        self.flush_seconds = crawler.settings.getfloat("NEWSMON_FLUSH_SECONDS")
        self.policy: RevisitPolicy = crawler.settings.get("NEWSMON_POLICY") or RevisitPolicy()
        self.visits: dict[str, str] = crawler.settings.getdict("NEWSMON_VISITS")
        self.stored: dict[str, datetime] = {}   # visit key -> this crawl's latest stored fetch of its article
        self.pending: list[Fetch | Provisional] = []
        self.last_flush = time.monotonic()
        self.lock = asyncio.Lock()
        self.counts = Counts()
        self.store: Store | None = None
        self.db_url = ""    # the store's, in full: what the writer process opens
        self.site_id = 0
        self.holds_writer = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = await asyncio.to_thread(crawler_store, self.crawler)
        self.db_url = self.store.engine.url.render_as_string(hide_password=False)
        self.site_id = await asyncio.to_thread(self._ensure_site, spider.site, spider.name, spider.base_url)
        hold_writer()
        self.holds_writer = True

    def _ensure_site(self, name: str, spider: str, base_url: str) -> int:
        assert self.store is not None
        with self.store.session() as session:
            return ensure_site(session, name, spider, base_url)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, Fetch) and self.visits:
            # A bare Fetch is the article's last word in this crawl; a first look held for a second one comes
            # wrapped in a Provisional, and concludes nothing.
            item.visit_key = self.visits.get(item.key)
        if isinstance(item, Fetch | Provisional):
            self.pending.append(item)
            if self._due():
                await self.flush(if_due=True)
        return item

    def _due(self) -> bool:
        return len(self.pending) >= self.batch_size or time.monotonic() - self.last_flush >= self.flush_seconds

    async def flush(self, *, if_due: bool = False) -> None:
        async with self.lock:
            # Items keep coming while a batch is written, each finding the batch due: the first to get the
            # lock takes them all, and the others find nothing due (rather than writing a few each).
            if if_due and not self._due():
                return
            fetches, self.pending = self.pending, []
            self.last_flush = time.monotonic()
            if fetches:
                self._tally(await self._write(fetches), len(fetches))

    async def _write(self, fetches: list[Fetch | Provisional]) -> Written:
        """A full batch of pages read goes to the writer process; any other, or one the writer could not
        take, to a thread (monitor/crawl/writer.py)."""
        assert self.store is not None
        batch = Batch(self.db_url, self.site_id, fetches, self.policy, self.crawler.spider.reread,
                      self.visits, self.stored)
        written = await write_in_writer(batch) if worth_a_writer(fetches, self.batch_size) else None
        if written is None:
            written = await asyncio.to_thread(write, self.store, batch)
        return written

    def _tally(self, written: Written, fetches: int) -> None:
        stats = self.crawler.stats
        if written.error is not None:
            # Nothing of the batch was written (one transaction): its articles are still due and will be
            # fetched again. The crawl goes on; the run reports the loss.
            logger.error("could not store %d fetches: %s", fetches, written.error)
            stats.inc_value("newsmon/write_errors")
            return
        self.stored.update(written.stored)
        counts = written.counts
        self.counts.add(counts)
        for outcome, n in counts.outcomes.items():
            stats.inc_value(f"newsmon/{outcome}", n)
        stats.inc_value("newsmon/bytes", counts.bytes)
        stats.inc_value("newsmon/saved_bytes", counts.saved_bytes)
        stats.inc_value("newsmon/not_modified", counts.not_modified)
        stats.inc_value("newsmon/same_page", counts.same_page)
        stats.inc_value("newsmon/unreadable", counts.unreadable)
        stats.set_value("newsmon/unreadable_reason", self.counts.unreadable_reason)
        if written.settled_before:
            stats.inc_value("newsmon/visits_recorded_before", written.settled_before)
        if written.in_writer:
            stats.inc_value("newsmon/writer_batches")

    async def close_spider(self) -> None:
        try:
            await self.flush()
        finally:
            if self.holds_writer:
                self.holds_writer = False
                release_writer()
