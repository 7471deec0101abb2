"""The job queue of distributed mode as `newsmon status` shows it, read from procrastinate's own tables (which
monitor/distributed/ creates beside newsmon's on PostgreSQL): jobs waiting, running, failed and done per site,
and each worker's last heartbeat. A database that never ran distributed mode has no queue: None.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitor.iso import utc_iso

# procrastinate's job statuses, as the status names them; cancelled and aborted jobs are left out (a worker told
# to stop aborts what it could not finish: those visits are still due, and planned again).
STATUSES = {"todo": "waiting", "doing": "running", "failed": "failed", "succeeded": "done"}


@dataclass(slots=True)
class SiteQueue:
    site: str
    waiting: int = 0
    running: int = 0
    failed: int = 0      # in the last day (the planner prunes older ones)
    done: int = 0        # in the last hour


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    id: int
    last_beat: str       # UTC, ISO 8601
    seconds_ago: float


@dataclass(slots=True)
class QueueState:
    sites: list[SiteQueue] = field(default_factory=list)
    workers: list[WorkerBeat] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"sites": [asdict(s) for s in self.sites], "workers": [asdict(w) for w in self.workers]}


def queue_state(session: Session, queue: str = "newsmon") -> QueueState | None:
    if session.get_bind().dialect.name != "postgresql":
        return None
    if session.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is None:
        return None
    sites: dict[str, SiteQueue] = {}
    for site, status, n in session.execute(text(
            "SELECT args->>'site', status::text, count(*) FROM procrastinate_jobs WHERE queue_name = :queue "
            "GROUP BY 1, 2 ORDER BY 1"), {"queue": queue}):
        if status in STATUSES:
            setattr(sites.setdefault(site, SiteQueue(site)), STATUSES[status], n)
    now = datetime.now(UTC)
    workers = [WorkerBeat(worker_id, utc_iso(beat) or "", round((now - beat).total_seconds(), 1))
               for worker_id, beat in session.execute(text(
                   "SELECT id, last_heartbeat FROM procrastinate_workers ORDER BY id"))]
    return QueueState(list(sites.values()), workers)
