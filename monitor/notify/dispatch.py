"""Deliver the outbox: each queued notice to every subscription that wants it, once.

`deliver(store, subscriptions, ...)` does one round: it writes the deliveries of new outbox rows (which
subscriptions want them, decided now, from the config in force), then sends what is due, each target in a
thread of its own so that a dead channel delays no other. A delivery is claimed with a lease before it is
sent and marked sent right after (monitor/store/outbox.py), so restarts and SIGKILL neither lose nor repeat
a message that went out; one that failed is tried again after a back-off that doubles up to an hour, and
given up after `MAX_ATTEMPTS`. Digest subscriptions send their due deliveries as one message a period.

The daemon runs a round every few seconds and after each crawl; `newsmon crawl` runs one at its end.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from monitor.compare.diffing import diff_articles
from monitor.iso import from_iso
from monitor.notify.channels import DeliveryError, body_limit, send
from monitor.notify.message import Message, render, render_digest
from monitor.notify.notice import Notice
from monitor.notify.subscriptions import Subscription, Target
from monitor.store import Store, outbox
from monitor.store.models import Delivery, Outbox, Version
from monitor.store.queries import version_reverts

logger = logging.getLogger("newsmon.notify")

MAX_ATTEMPTS = 12               # with the back-off below: about eight hours of trying
MAX_BACKOFF = timedelta(hours=1)
SEND_TIMEOUT = 20.0             # seconds one channel may take to accept a message
STALE = timedelta(days=1)        # outbox rows older than this when first seen are not sent (expand_outbox)
LEASE = timedelta(seconds=4 * SEND_TIMEOUT)   # longer than any send: a live sender never loses its claim


@dataclass(slots=True)
class Round:
    """What one round did."""

    queued: int = 0                   # deliveries written
    sent: int = 0                     # messages that went out (a digest counts once)
    failed: int = 0                   # attempts that failed
    errors: list[str] = field(default_factory=list)


def deliver(store: Store, subscriptions: Sequence[Subscription], *, public_url: str | None = None,
            now: datetime | None = None, timeout: float = SEND_TIMEOUT) -> Round:
    result = Round()
    if not subscriptions:
        return result
    now = now or datetime.now(UTC)
    with store.session() as session:
        result.queued = expand_outbox(session, subscriptions, now)
    by_name = {s.name: s for s in subscriptions}
    jobs = _jobs(store, by_name, now)
    if jobs:
        with ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="newsmon-notify") as pool:
            for outcome in pool.map(lambda job: _send_job(store, job, public_url, timeout), jobs):
                result.sent += outcome.sent
                result.failed += outcome.failed
                result.errors += outcome.errors
    return result


def expand_outbox(session: Session, subscriptions: Sequence[Subscription], now: datetime) -> int:
    """Write the deliveries of the outbox's new rows. A row older than STALE was queued while nothing was
    delivering (no subscription yet, notifications off): news of last month is nobody's alert, so it is
    closed without deliveries instead of flooding a new subscriber."""
    written = 0
    while rows := outbox.unexpanded(session):
        for row in rows:
            notice = notice_of(session, row, with_diffs=False)
            targets = [] if row.created_at < now - STALE else [
                (s.name, i) for s in subscriptions if s.wants(notice) for i in range(len(s.targets))]
            outbox.expand(session, row, targets, now)
            written += len(targets)
        session.flush()
    return written


# ---------------------------------------------------------------- what is due, and sending it

@dataclass(frozen=True, slots=True)
class _Job:
    """Deliveries of one subscription's target, sent in order: one message each, or one digest for all."""

    subscription: Subscription
    target: Target
    deliveries: tuple[int, ...]
    digest: bool


def _jobs(store: Store, by_name: dict[str, Subscription], now: datetime) -> list[_Job]:
    with store.session() as session:
        due = outbox.due(session, now, list(by_name))
    grouped: dict[tuple[str, int], list[Delivery]] = defaultdict(list)
    for delivery in due:
        if delivery.target < len(by_name[delivery.subscription].targets):   # a target since removed: left
            grouped[(delivery.subscription, delivery.target)].append(delivery)
    jobs: list[_Job] = []
    for (name, index), deliveries in grouped.items():
        subscription = by_name[name]
        digest = subscription.digest is not None
        if digest and min(d.created_at for d in deliveries) + subscription.digest > now:  # type: ignore[operator]
            continue   # the period is not over
        jobs.append(_Job(subscription, subscription.targets[index], tuple(d.id for d in deliveries), digest))
    return jobs


def _send_job(store: Store, job: _Job, public_url: str | None, timeout: float) -> Round:
    result = Round()
    batches = [job.deliveries] if job.digest else [(d,) for d in job.deliveries]
    limit = body_limit(job.target)
    for batch in batches:
        now = datetime.now(UTC)
        with store.session() as session:
            if not outbox.claim(session, batch, now, LEASE):
                continue      # another sender has it
        with store.session() as session:
            deliveries = [session.get(Delivery, i) for i in batch]
            notices = [notice_of(session, d.outbox, with_diffs=True) for d in deliveries if d is not None]
            attempts = max(d.attempts for d in deliveries if d is not None)
        message = (render_digest(job.subscription.name, notices, public_url=public_url, limit=limit) if job.digest
                   else render(notices[0], public_url=public_url, limit=limit))
        # The same id at every try of the same deliveries: a receiver can drop a repeat.
        error = _try_send(job.target, message, f"{job.subscription.name}-{'-'.join(map(str, batch))}", timeout)
        with store.session() as session:
            if error is None:
                outbox.mark_sent(session, batch, datetime.now(UTC))
                result.sent += 1
            else:
                retry = _retry_at(job.subscription, attempts, datetime.now(UTC))
                outbox.mark_failed(session, batch, error, retry)
                result.failed += 1
                result.errors.append(f"{job.subscription.name}: {error}")
                logger.warning("notify %s: %s (%s)", job.subscription.name, error,
                               f"next try at {retry:%H:%M:%S}" if retry else "given up")
                break         # keep the order of messages: the rest waits for this one
    return result


def _try_send(target: Target, message: Message, delivery_id: str, timeout: float) -> str | None:
    try:
        send(target, message, delivery_id=delivery_id, timeout=timeout)
    except DeliveryError as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - a channel's library failing must not stop the others
        return f"{type(exc).__name__}: {exc}"
    return None


def _retry_at(subscription: Subscription, attempts: int, now: datetime) -> datetime | None:
    """The next try after `attempts` failed ones (this one included): the first back-off doubled each time."""
    if attempts + 1 >= MAX_ATTEMPTS:
        return None
    return now + min(subscription.retry * 2 ** attempts, MAX_BACKOFF)


# ---------------------------------------------------------------- notices from the store

def notice_of(session: Session, row: Outbox, *, with_diffs: bool) -> Notice:
    """What an outbox row tells of, with the change's diffs when the message needs them."""
    article, change = row.article, row.change
    base = Notice(id=row.id, kind=row.kind, site=row.site.name, at=row.created_at, detail=row.detail or "")
    if article is None:
        return base
    fields: dict[str, object] = {"article_id": article.key, "url": article.url, "edition": article.edition,
                    "published": from_iso(article.published_iso), "first_seen": article.first_seen_at}
    if change is None:
        latest = session.query(Version.title).filter(Version.article_id == article.id).order_by(
            Version.number.desc()).limit(1).scalar()
        return replace(base, **fields, title=latest)
    old, new = session.get(Version, change.from_version_id), session.get(Version, change.to_version_id)
    assert old is not None and new is not None
    fields |= {"url": new.url, "edition": new.edition}
    return replace(base, **fields, title=new.title, at=change.detected_at,
                   fields=tuple(change.fields), text_changed=change.text_changed, announced=change.announced,
                   added_words=change.added_words, removed_words=change.removed_words,
                   moved_words=change.moved_words, kinds=tuple(change.kinds),
                   reverts_to=version_reverts(session, [article.id]).get((article.id, new.number)),
                   from_version=old.number, to_version=new.number,
                   diffs=tuple(diff_articles(old, new)) if with_diffs else ())




# ---------------------------------------------------------------- `newsmon notify test` and `status`

def send_test(subscription: Subscription, *, public_url: str | None = None,
              timeout: float = SEND_TIMEOUT) -> list[tuple[Target, str | None]]:
    """A test message to each of the subscription's targets, now, outside the outbox: each target with
    the error it gave, or None."""
    notice = Notice(id=0, kind="alert", site="newsmon", at=datetime.now(UTC),
                    detail=f"a test message for the subscription {subscription.name!r}: it reaches you")
    message = render(notice, public_url=public_url)
    message = Message(title=f"newsmon: test of {subscription.name}", body=message.body,
                      payload=message.payload | {"event": "test", "subscription": subscription.name})
    stamp = f"{subscription.name}-test-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    return [(target, _try_send(target, message, stamp, timeout)) for target in subscription.targets]


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    name: str
    pending: int
    sent: int
    failed: int
    last_error: str | None

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "pending": self.pending, "sent": self.sent, "failed": self.failed,
                "last_error": self.last_error}


def status(store: Store, subscriptions: Sequence[Subscription]) -> list[SubscriptionStatus]:
    """Deliveries per subscription of the config (and of any the database still holds deliveries for)."""
    with store.session() as session:
        counts, errors = outbox.counts(session), outbox.last_errors(session)
    names = [s.name for s in subscriptions] + sorted(set(counts) - {s.name for s in subscriptions})
    return [SubscriptionStatus(name, counts.get(name, {}).get("pending", 0), counts.get(name, {}).get("sent", 0),
                               counts.get(name, {}).get("failed", 0), errors.get(name)) for name in names]


def send_now(subscriptions: Sequence[Subscription], notice: Notice, *, public_url: str | None = None,
             timeout: float = SEND_TIMEOUT) -> list[str]:
    """A notice sent at once to the subscriptions that want it, outside the outbox: for what cannot wait
    for the database, the database refusing writes itself. Best effort, once: returns the errors."""
    errors: list[str] = []
    for subscription in subscriptions:
        if not subscription.wants(notice):
            continue
        message = render(notice, public_url=public_url)
        for target in subscription.targets:
            stamp = f"{subscription.name}-{notice.kind}-{notice.at:%Y%m%dT%H%M%S}"
            if (error := _try_send(target, message, stamp, timeout)) is not None:
                errors.append(f"{subscription.name}: {error}")
    return errors
