"""The two jobs a worker runs, as procrastinate calls them: each hands its arguments to the worker process
that took it (monitor/distributed/worker.py, passed in the job's context), which crawls.

No job is ever retried by procrastinate (no `retry`): a failed fetch is recorded as an error check whose
article is due again after the policy's `error_retry`, and the planner plans it again. A job scheduled in the
future would also hold its site's lane until then (procrastinate issue #1599): back-off lives in the
articles' `next_check_at`, never in the queue.
"""
from __future__ import annotations

from typing import Any, Protocol

from procrastinate import JobContext

from monitor.store.visits import PlannedVisit

CONTEXT_KEY = "newsmon"


class Crawls(Protocol):
    """What a worker process does for a job (monitor/distributed/worker.py)."""

    async def visit(self, site: str, visits: list[PlannedVisit], job: str) -> dict[str, int]: ...

    async def discover(self, site: str, job: str) -> dict[str, int]: ...


def _crawls(context: JobContext) -> Crawls:
    return context.additional_context[CONTEXT_KEY]


def _name(context: JobContext) -> str:
    return f"job {context.job.id} (worker {context.job.worker_id})"


async def visit(context: JobContext, site: str, visits: list[Any]) -> dict[str, int]:
    """A batch of planned visits of one site, in one crawl on one lane of it."""
    return await _crawls(context).visit(site, [PlannedVisit.from_json(v) for v in visits], _name(context))


async def discover(context: JobContext, site: str) -> dict[str, int]:
    """A site's discovery (listings, feeds, sitemaps; new articles fetched), on one lane of it."""
    return await _crawls(context).discover(site, _name(context))
