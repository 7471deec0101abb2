"""Where a crawl's batches of fetches are written: a full batch of pages read in a writer process, any other
in a thread.

Storing a fetch is Python work: hashing its text, building its rows, SQLAlchemy's statements (~0.45 ms an
article on a first crawl). In a thread of the crawl's own process it holds the GIL that Scrapy's event loop
needs: the crawl and its store take turns on one core. In a process of its own it runs on another core; the
crawl only pickles the batch (bench/crawl_throughput.py, a first crawl of 2,000 new articles: 0.66x a bare
Scrapy spider with the store in a thread, 0.78x with the writer; the README's Speed section). The process
costs ~0.5 s to start and ~90 MB of memory, so a crawl starts it with its first full batch: small crawls
and the daemon's revisits of a few articles stay in a thread, as do batches of 304s and pages unchanged to
the byte, which cost the store little. Once started, it serves every crawl of the process (a daemon runs
several at once) and ends with the last crawl running.

A crawl's batches are written one at a time either way (its pipeline waits for each), so the database sees
them in the order they were fetched. If the writer process dies, a batch it had not taken is written in a
thread and the next full batch starts a new writer; a batch it was writing is reported as not stored (its
transaction was rolled back, or committed just before: either way nothing is half-written). The writer
ignores SIGINT and SIGTERM, which a terminal or a service manager sends to the whole process group: the
crawl's own shutdown ends it, after its last batch. When the crawl's process is killed, the writer finishes
the batch it holds and exits.
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from monitor.compare.policy import RevisitPolicy
from monitor.compare.versioning import Provisional
from monitor.items import Fetch
from monitor.store import Store, open_store
from monitor.store.ingest import Counts, Reread, record_fetches
from monitor.store.visits import settled_visits

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Batch:
    """A batch of fetches and everything its writing needs, as plain values a writer process can be sent."""

    db_url: str
    site_id: int
    fetches: list[Fetch | Provisional]
    policy: RevisitPolicy
    reread: Reread | None
    # Distributed mode (monitor/crawl/pipeline.py): article key -> the planned visit this crawl makes of it,
    # and visit key -> this crawl's latest stored fetch of its article.
    visits: dict[str, str] = field(default_factory=dict)
    stored: dict[str, datetime] = field(default_factory=dict)


@dataclass(slots=True)
class Written:
    """What came of a batch."""

    counts: Counts = field(default_factory=Counts)
    stored: dict[str, datetime] = field(default_factory=dict)   # visit key -> the fetch of it this batch stored
    settled_before: int = 0     # fetches left out: their visits were recorded before (another worker's)
    error: str | None = None    # why nothing of the batch was stored; its articles stay due
    in_writer: bool = False     # written by the writer process


def write(store: Store, batch: Batch) -> Written:
    """Record the batch in one transaction. A database error is reported, not raised: nothing of the batch
    was written, and its articles are still due."""
    try:
        try:
            return _record(store, batch)
        except (IntegrityError, StaleDataError):
            # Another process stored some of these articles (or made the same visit, or merged a check into
            # a run this batch extends) meanwhile: read its rows and decide again.
            return _record(store, batch)
    except SQLAlchemyError as exc:
        return Written(error=str(exc).splitlines()[0])


def _record(store: Store, batch: Batch) -> Written:
    written = Written()
    with store.session() as session:
        fetches = _unsettled(session, batch, written) if batch.visits else batch.fetches
        written.counts = record_fetches(session, batch.site_id, fetches, batch.policy, batch.reread)
    for item in fetches:   # committed: these are this crawl's own checks, which settle none of its visits
        if (visit := batch.visits.get(_fetch(item).key)) is not None:
            written.stored[visit] = _fetch(item).fetched_at
    return written


def _unsettled(session: Session, batch: Batch, written: Written) -> list[Fetch | Provisional]:
    """The batch less the fetches of visits already settled (first looks included)."""
    keys = {batch.visits[key] for key in {_fetch(i).key for i in batch.fetches} if key in batch.visits}
    done = settled_visits(session, keys, batch.stored)
    kept = [item for item in batch.fetches if batch.visits.get(_fetch(item).key) not in done]
    written.settled_before = len(batch.fetches) - len(kept)
    return kept


def _fetch(item: Fetch | Provisional) -> Fetch:
    return item.fetch if isinstance(item, Provisional) else item


# ---------------------------------------------------------------- the writer process

def worth_a_writer(fetches: Sequence[Fetch | Provisional], full: int) -> bool:
    """A full batch, at least half of it pages read: the others (304s, the very page last read, errors) cost
    the store little more than the batch's trip to the writer."""
    read = sum(1 for item in fetches if _fetch(item).article is not None)
    return len(fetches) >= full and read * 2 >= len(fetches)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
_crawls = 0     # crawls of this process that may send the writer a batch


def hold_writer() -> None:
    """A crawl begins that may send the writer batches."""
    global _crawls
    with _pool_lock:
        _crawls += 1


def release_writer() -> None:
    """A crawl has ended: the writer ends with the last crawl running, so that a daemon keeps it only while it
    crawls (a daemon's first crawl of a big site would otherwise leave it waiting for good)."""
    global _crawls, _pool
    with _pool_lock:
        _crawls -= 1
        pool, _pool = (_pool, None) if _crawls == 0 else (None, _pool)
    if pool is not None:
        pool.shutdown(wait=False)   # nothing is queued: every batch of the ended crawls was awaited


async def write_in_writer(batch: Batch) -> Written | None:
    """Write the batch in the writer process (started if need be); None when the writer could not take it
    (it had died): the caller writes it itself."""
    pool = _writer()
    try:
        future: Future[Written] = pool.submit(_write_here, batch)
    except BrokenProcessPool:
        _discard(pool)
        return None
    try:
        written = await asyncio.wrap_future(future)
    except BrokenProcessPool:
        _discard(pool)
        return Written(error="the writer process ended while writing the batch")
    written.in_writer = True
    return written


def _writer() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # "spawn": a fork of a process running Scrapy's reactor, its thread pools and database connections
            # would inherit their locks in whatever state another thread held them.
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_writer)
            atexit.register(_pool.shutdown)   # before the interpreter tears modules down under it
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    logger.error("the writer process died; the next full batch starts another")
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False)


# In the writer process: its stores (one per database written to) and the batch being written.
_stores: dict[str, Store] = {}
_writing = threading.Lock()


def _start_writer() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_outlive_not, args=(os.getppid(),), daemon=True, name="newsmon-writer-watch").start()


def _outlive_not(parent: int) -> None:
    """A killed parent never says goodbye, and the writer would wait for batches forever: it is watched."""
    while os.getppid() == parent:
        time.sleep(0.5)
    with _writing:     # a batch being written is finished first: its pages were fetched
        os._exit(0)


def _write_here(batch: Batch) -> Written:
    with _writing:
        store = _stores.get(batch.db_url)
        if store is None:
            store = _stores[batch.db_url] = open_store(batch.db_url)
        return write(store, batch)
