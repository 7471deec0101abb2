"""The notification outbox and its deliveries, in SQL. monitor/notify/dispatch.py drives them.

Rows are queued by the code that records what they tell of, in the same transaction (ingest for changes
and events, with `change_notice` and `event_notice`; `queue_health` for a site's trouble). Each delivery is
claimed with a lease before it is sent, so two senders (the daemon and a `newsmon crawl` finishing at the
same moment) never send it twice, and a sender killed mid-way lets the lease lapse and the message go out
later.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from monitor.store.models import Article, Change, Delivery, Event, Outbox


def change_notice(article: Article, change: Change, at: datetime) -> Outbox:
    """The outbox row telling of a change, for the batch that records the change to add."""
    return Outbox(kind="change", site_id=article.site_id, article=article, change=change, created_at=at)


def event_notice(article: Article, event: Event) -> Outbox:
    """The outbox row telling of an article gone or back, for the batch that records the event to add."""
    return Outbox(kind=event.kind, site_id=article.site_id, article=article, event=event, detail=event.detail,
                  created_at=event.at)


def queue_health(session: Session, site_id: int, error: str | None, at: datetime) -> str | None:
    """After a crawl of a site: one "alert" when its trouble starts, one "recovered" when a crawl is fine
    again, nothing in between however many crawls fail. Returns the kind queued, if any."""
    last = session.scalar(select(Outbox.kind).where(Outbox.site_id == site_id,
                                                    Outbox.kind.in_(("alert", "recovered")))
                          .order_by(Outbox.id.desc()).limit(1))
    troubled = last == "alert"
    if error and not troubled:
        session.add(Outbox(kind="alert", site_id=site_id, detail=error, created_at=at))
        return "alert"
    if not error and troubled:
        session.add(Outbox(kind="recovered", site_id=site_id, detail="crawls succeed again", created_at=at))
        return "recovered"
    return None


def unexpanded(session: Session, limit: int = 500) -> list[Outbox]:
    """Outbox rows whose deliveries are not written yet, oldest first, with what they tell of."""
    return list(session.scalars(
        select(Outbox).where(Outbox.expanded.is_(False)).order_by(Outbox.id).limit(limit)
        .options(joinedload(Outbox.site), joinedload(Outbox.article), joinedload(Outbox.change),
                 joinedload(Outbox.event))))


def expand(session: Session, row: Outbox, targets: Iterable[tuple[str, int]], now: datetime) -> None:
    """Write the row's deliveries, one per (subscription, target index)."""
    for name, target in targets:
        session.add(Delivery(outbox_id=row.id, subscription=name, target=target, status="pending", attempts=0,
                             created_at=now, next_attempt_at=now))
    row.expanded = True


def due(session: Session, now: datetime, subscriptions: Sequence[str]) -> list[Delivery]:
    """Pending deliveries whose time has come and that nobody holds, oldest first."""
    return list(session.scalars(
        select(Delivery).where(Delivery.status == "pending", Delivery.next_attempt_at <= now,
                               Delivery.subscription.in_(subscriptions),
                               or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now))
        .order_by(Delivery.id).options(joinedload(Delivery.outbox))))


def claim(session: Session, ids: Sequence[int], now: datetime, lease: timedelta) -> bool:
    """Take the deliveries for `lease`, all or none: False when another sender holds one of them."""
    taken = session.execute(update(Delivery).where(
        Delivery.id.in_(ids), Delivery.status == "pending",
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now)).values(claimed_until=now + lease))
    if taken.rowcount != len(ids):
        session.rollback()
        return False
    return True


def mark_sent(session: Session, ids: Sequence[int], now: datetime) -> None:
    session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(
        status="sent", sent_at=now, claimed_until=None, attempts=Delivery.attempts + 1, last_error=None))


def mark_failed(session: Session, ids: Sequence[int], error: str, retry_at: datetime | None) -> None:
    """A failed attempt: tried again at `retry_at`, or given up for good when it is None."""
    values = {"claimed_until": None, "attempts": Delivery.attempts + 1, "last_error": error}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(**values))


def counts(session: Session) -> dict[str, Counter[str]]:
    """Deliveries per subscription and status."""
    result: dict[str, Counter[str]] = {}
    for name, status, n in session.execute(select(Delivery.subscription, Delivery.status, func.count())
                                           .group_by(Delivery.subscription, Delivery.status)):
        result.setdefault(name, Counter())[status] = n
    return result


def last_errors(session: Session) -> dict[str, str]:
    """The latest error of each subscription's failing deliveries."""
    rows = session.execute(select(Delivery.subscription, Delivery.last_error).where(Delivery.last_error.is_not(None))
                           .order_by(Delivery.id))
    return {name: error for name, error in rows}
