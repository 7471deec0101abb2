"""Planned visits (distributed mode, monitor/distributed/): which due articles the planner hands to workers,
and, when a worker takes them, which are still to be made.

A planned visit is the next check of one article after its last one. It is named by the article and the
time of that last check (`PlannedVisit.key`), so that the same visit planned twice, or run again after its
worker died, has the same name, and the check that concludes it carries that name in `checks.visit_key`,
which is unique: a visit is recorded once. (Named by its due time instead, a visit could not be told from
the next one: a failed fetch may leave `next_check_at` where it was.)

A visit is still to be made when no check records it and the article was not checked since it was planned:
a check in between (a discovery crawl re-read the article, or a first look held for a second one was stored
before its worker died) stands for it, and the article, if still due, is planned again under a new name.
A run of unchanged checks (monitor/store/checkruns.py) keeps only its latest visit's name: the earlier
visits it made are settled by the rule above, their article having been checked since.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import Article, Check

_STAMP = "%Y%m%dT%H%M%S.%f"


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    article_id: int
    after: datetime | None   # the article's last check when the visit was planned (UTC)

    @property
    def key(self) -> str:
        """`431@20261201T101502.123456`: at most ~40 characters (checks.visit_key holds 100)."""
        return f"{self.article_id}@{self.after.strftime(_STAMP) if self.after else 'never'}"

    def as_json(self) -> list[int | str | None]:
        """As a job carries it: [article id, ISO time of the last check]."""
        return [self.article_id, self.after.isoformat() if self.after else None]

    @classmethod
    def from_json(cls, value: Sequence[int | str | None]) -> PlannedVisit:
        article_id, after = value
        return cls(int(article_id or 0), datetime.fromisoformat(str(after)) if after else None)

    @classmethod
    def from_key(cls, key: str) -> PlannedVisit:
        """The visit a key names (the inverse of `key`)."""
        article_id, _, stamp = key.partition("@")
        return cls(int(article_id), None if stamp == "never" else datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class VisitsToMake:
    """What a worker finds of a job's planned visits when it takes the job."""

    keys: dict[str, str]    # article key -> visit key, of the visits still to make
    recorded: int           # already concluded: a worker stored them, and died before finishing the job
    superseded: int         # the article was checked since the visit was planned, or is no longer there


def due_visits(session: Session, site_id: int, until: datetime, limit: int,
               leave_out: Collection[int] = ()) -> list[PlannedVisit]:
    """The site's articles whose next check comes before `until`, most overdue first, at most `limit` of them,
    less those in `leave_out` (already in a job)."""
    query = (select(Article.id, Article.last_checked_at)
             .where(Article.site_id == site_id, Article.next_check_at <= until)
             .order_by(Article.next_check_at, Article.id).limit(limit + len(leave_out)))
    visits = [PlannedVisit(article_id, after) for article_id, after in session.execute(query)
              if article_id not in leave_out]
    return visits[:limit]


def visits_to_make(session: Session, site_id: int, visits: Sequence[PlannedVisit]) -> VisitsToMake:
    recorded = recorded_visits(session, [v.key for v in visits])
    current = {article_id: (key, checked) for article_id, key, checked in session.execute(
        select(Article.id, Article.key, Article.last_checked_at).where(
            Article.site_id == site_id, Article.id.in_([v.article_id for v in visits])))}
    keys: dict[str, str] = {}
    for visit in visits:
        if visit.key in recorded:
            continue
        article_key, checked = current.get(visit.article_id, (None, None))
        if article_key is not None and checked == visit.after:
            keys[article_key] = visit.key
    return VisitsToMake(keys, len(recorded), len(visits) - len(recorded) - len(keys))


def settled_visits(session: Session, keys: Collection[str], own: Mapping[str, datetime]) -> set[str]:
    """Those of the visit keys made or superseded: a check records them, or their article was checked since
    they were planned by someone else than the caller. `own` gives, by visit key, the time of the caller's own
    latest check of that visit's article (a crawl's first look, held for a second one, settles nothing)."""
    recorded = recorded_visits(session, keys)
    pending = [PlannedVisit.from_key(key) for key in keys if key not in recorded]
    checked = dict(session.execute(select(Article.id, Article.last_checked_at)
                                   .where(Article.id.in_([v.article_id for v in pending]))).all())
    return recorded | {v.key for v in pending if _checked_since(checked.get(v.article_id), v.after, own.get(v.key))}


def _checked_since(last: datetime | None, after: datetime | None, own: datetime | None) -> bool:
    return last is not None and last != own and (after is None or last > after)


def recorded_visits(session: Session, keys: Collection[str]) -> set[str]:
    """Those of the visit keys a check already records."""
    if not keys:
        return set()
    return set(session.scalars(select(Check.visit_key).where(Check.visit_key.in_(list(keys)))))
