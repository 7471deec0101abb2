"""Crawl runs in the database: started, finished with counts or an error, or left "running" by a process
that died (marked interrupted when the daemon next starts). `newsmon status` reads them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select, update

from monitor.store import Store
from monitor.store.models import CrawlRun
from monitor.store.outbox import queue_health


def start_run(store: Store, site_id: int, kind: str) -> int:
    with store.session() as session:
        run = CrawlRun(site_id=site_id, kind=kind, started_at=datetime.now(UTC), outcome="running", counts={})
        session.add(run)
        session.flush()
        return run.id


def finish_run(store: Store, run_id: int, outcome: str, counts: dict[str, int], error: str | None = None) -> None:
    """Record how a run ended and, in the same transaction, whether its site's trouble starts or ends
    (one alert each way, however many runs fail in between: monitor/store/outbox.py)."""
    now = datetime.now(UTC)
    with store.session() as session:
        session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(
            finished_at=now, outcome=outcome, counts=counts, error=error))
        if outcome in ("ok", "failed"):
            site_id = session.scalar(select(CrawlRun.site_id).where(CrawlRun.id == run_id))
            if site_id is not None:
                queue_health(session, site_id, error if outcome == "failed" else None, now)


def interrupt_stale_runs(store: Store, *, site_id: int | None = None, kind: str | None = None) -> int:
    """Runs still "running" belong to a process that died (kill -9, power loss). With `site_id` and `kind`,
    those of one site and kind only: a distributed worker starting a site's discovery, which no other
    process runs meanwhile (monitor/distributed/), finds there the runs of a worker that died."""
    where = [CrawlRun.outcome == "running"]
    if site_id is not None:
        where.append(CrawlRun.site_id == site_id)
    if kind is not None:
        where.append(CrawlRun.kind == kind)
    with store.session() as session:
        return session.execute(update(CrawlRun).where(*where).values(
            outcome="interrupted", finished_at=datetime.now(UTC))).rowcount


class Run:
    def __init__(self, store: Store, run_id: int):
        self.store, self.id, self.finished = store, run_id, False

    def finish(self, counts: dict[str, int], error: str | None = None) -> None:
        finish_run(self.store, self.id, "failed" if error else "ok", counts, error)
        self.finished = True


@contextmanager
def recorded(store: Store, site_id: int, kind: str) -> Iterator[Run]:
    """A run row around a block: ok/failed by `Run.finish`, failed or interrupted if the block raises."""
    run = Run(store, start_run(store, site_id, kind))
    try:
        yield run
    except BaseException as exc:
        outcome = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        finish_run(store, run.id, outcome, {}, f"{type(exc).__name__}: {exc}")
        run.finished = True
        raise
    finally:
        if not run.finished:
            finish_run(store, run.id, "interrupted", {})
