"""Check runs: consecutive unchanged checks of an article kept in one `checks` row.

Most checks find nothing new, and a row per check cost 135 B on SQLite and 178 on PostgreSQL (tuple
header, item pointer and index entries alone are ~60-70 B there). So an unchanged check whose article's
latest row is an unchanged check like it (same HTTP status, same URL, same version, no error) is merged
into that row: `checked_at` keeps the run's first time, `repeats` counts the checks merged after it, and
`later` keeps each one's exact time as varints, microseconds after the time before it (a few bytes per
check: 5 for an hour, 6 for a day). Times round-trip exactly. A run stops at RUN_LIMIT checks, so a row
stays small and a PostgreSQL rewrite of it (every merge writes a new copy of the row) stays cheap.
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select

from monitor.store.models import Check, Version

RUN_LIMIT = 64          # checks per row at most, the first one included
_MICROSECOND = timedelta(microseconds=1)


def pack_delta(delta: timedelta) -> bytes:
    """A non-negative time step as a varint of microseconds: 7 bits a byte, the high bit says more follow."""
    value = delta // _MICROSECOND
    if value < 0:
        raise ValueError(f"a check run's times go forward, not back ({delta})")
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def unpack_times(first: datetime, later: bytes | None) -> list[datetime]:
    """The run's times: `first`, then each packed step added to the time before it."""
    times = [first]
    value = shift = 0
    for byte in later or b"":
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            times.append(times[-1] + value * _MICROSECOND)
            value = shift = 0
    if shift:
        raise ValueError("a check run's times end inside a step: the row is damaged")
    return times


def run_times(run: Check) -> list[datetime]:
    return unpack_times(run.checked_at, run.later)


def extends_run(run: Check, at: datetime, status: int, url: str | None, version: Version | None) -> bool:
    """Whether an unchanged check without error, at `at`, joins `run` (its article's latest row): the same
    unchanged check, later than the run's last, and room left in the run."""
    return (run.outcome == "unchanged" and run.error is None and run.http_status == status and run.url == url
            and run.version is version and run.repeats + 1 < RUN_LIMIT and at >= run_times(run)[-1])


def add_to_run(run: Check, at: datetime, size: int, visit_key: str | None) -> None:
    """Merge a check into the run. A run names one visit, its latest (distributed mode); the earlier ones it
    made are settled all the same, their article having been checked since (monitor/store/visits.py)."""
    run.later = (run.later or b"") + pack_delta(at - run_times(run)[-1])
    run.repeats += 1
    run.bytes += size
    if visit_key is not None:
        run.visit_key = visit_key


def latest_checks(article_ids: Collection[int]) -> Select[tuple[Check]]:
    """Each article's latest check row, by first time (a check joins a run only after the run's last time, so
    the row that starts last also ends last); of two starting at once, the last written."""
    latest = (select(Check.article_id, func.max(Check.checked_at).label("at"))
              .where(Check.article_id.in_(list(article_ids))).group_by(Check.article_id).subquery())
    return (select(Check).join(latest, (latest.c.article_id == Check.article_id) & (latest.c.at == Check.checked_at))
            .order_by(Check.id))
