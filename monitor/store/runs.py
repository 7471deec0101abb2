"""Crawl runs in the database: started, finished with counts or an error, or left "running" by a process
that died (marked interrupted when the daemon next starts). `newsmon status` reads them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import update

from monitor.store import Store
from monitor.store.models import CrawlRun


def start_run(store: Store, site_id: int, kind: str) -> int:
    with store.session() as session:
        run = CrawlRun(site_id=site_id, kind=kind, started_at=datetime.now(UTC), outcome="running", counts={})
        session.add(run)
        session.flush()
        return run.id


def finish_run(store: Store, run_id: int, outcome: str, counts: dict[str, int], error: str | None = None) -> None:
    with store.session() as session:
        session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(
            finished_at=datetime.now(UTC), outcome=outcome, counts=counts, error=error))


def interrupt_stale_runs(store: Store) -> int:
    """Runs still "running" belong to a process that died (kill -9, power loss)."""
    with store.session() as session:
        return session.execute(update(CrawlRun).where(CrawlRun.outcome == "running").values(
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
