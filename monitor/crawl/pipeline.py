"""The Scrapy item pipeline that stores fetches: batched, written in a worker thread.

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
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from monitor.compare.policy import RevisitPolicy
from monitor.compare.versioning import Provisional
from monitor.items import Fetch
from monitor.store import Store, open_store
from monitor.store.ingest import Counts, ensure_site, record_fetches
from monitor.store.visits import settled_visits

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
        self.site_id = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        self.store = await asyncio.to_thread(crawler_store, self.crawler)
        self.site_id = await asyncio.to_thread(self._ensure_site, spider.site, spider.name, spider.base_url)

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
            if len(self.pending) >= self.batch_size or time.monotonic() - self.last_flush >= self.flush_seconds:
                await self.flush()
        return item

    async def flush(self) -> None:
        async with self.lock:
            batch, self.pending = self.pending, []
            self.last_flush = time.monotonic()
            if batch:
                counts = await asyncio.to_thread(self._write, batch)
                self.counts.add(counts)
                for outcome, n in counts.outcomes.items():
                    self.crawler.stats.inc_value(f"newsmon/{outcome}", n)
                self.crawler.stats.inc_value("newsmon/bytes", counts.bytes)
                self.crawler.stats.inc_value("newsmon/saved_bytes", counts.saved_bytes)
                self.crawler.stats.inc_value("newsmon/not_modified", counts.not_modified)
                self.crawler.stats.inc_value("newsmon/same_page", counts.same_page)
                self.crawler.stats.inc_value("newsmon/unreadable", counts.unreadable)
                self.crawler.stats.set_value("newsmon/unreadable_reason", self.counts.unreadable_reason)

    def _write(self, batch: list[Fetch | Provisional]) -> Counts:
        assert self.store is not None
        try:
            try:
                return self._record(batch)
            except (IntegrityError, StaleDataError):
                # Another process stored some of these articles (or made the same visit, or merged a check
                # into a run this batch extends) meanwhile: read its rows and decide again.
                return self._record(batch)
        except SQLAlchemyError as exc:
            # Nothing of the batch was written (one transaction): its articles are still due and will be
            # fetched again. The crawl goes on; the run reports the loss.
            logger.error("could not store %d fetches: %s", len(batch), str(exc).splitlines()[0])
            self.crawler.stats.inc_value("newsmon/write_errors")
            return Counts()

    def _record(self, batch: list[Fetch | Provisional]) -> Counts:
        assert self.store is not None
        with self.store.session() as session:
            if self.visits:
                batch = self._unrecorded(session, batch)
            counts = record_fetches(session, self.site_id, batch, self.policy, self.crawler.spider.reread)
        for item in batch:   # committed: these are this crawl's own checks, which settle none of its visits
            if (visit := self.visits.get(_key(item))) is not None:
                self.stored[visit] = _fetch(item).fetched_at
        return counts

    def _unrecorded(self, session: Session, batch: list[Fetch | Provisional]) -> list[Fetch | Provisional]:
        """The batch less the fetches of visits already settled (first looks included)."""
        keys = {self.visits[key] for key in {_key(i) for i in batch} if key in self.visits}
        done = settled_visits(session, keys, self.stored)
        kept = [item for item in batch if self.visits.get(_key(item)) not in done]
        if len(kept) < len(batch):
            self.crawler.stats.inc_value("newsmon/visits_recorded_before", len(batch) - len(kept))
        return kept

    async def close_spider(self) -> None:
        await self.flush()


def _fetch(item: Fetch | Provisional) -> Fetch:
    return item.fetch if isinstance(item, Provisional) else item


def _key(item: Fetch | Provisional) -> str:
    return _fetch(item).key
