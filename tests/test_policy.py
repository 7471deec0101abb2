"""The revisit policy: frequent while young or just changed, backing off, stopping after a month."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.compare.policy import RevisitPolicy, publication_estimate

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
POLICY = RevisitPolicy()


def interval(published_ago: timedelta, changed_ago: timedelta | None = None) -> timedelta | None:
    due = POLICY.next_check(NOW, published=NOW - published_ago,
                            last_changed=NOW - changed_ago if changed_ago is not None else None,
                            first_seen=NOW - timedelta(minutes=1))
    return due - NOW if due else None


def test_intervals_grow_with_age() -> None:
    assert interval(timedelta(hours=1)) == timedelta(minutes=15)
    assert interval(timedelta(hours=12)) == timedelta(hours=1)
    assert interval(timedelta(days=3)) == timedelta(hours=6)
    assert interval(timedelta(days=20)) == timedelta(days=1)
    assert interval(timedelta(days=31)) is None


def test_a_recent_change_makes_an_old_article_young_again() -> None:
    assert interval(timedelta(days=20), changed_ago=timedelta(minutes=30)) == timedelta(minutes=15)


def test_unknown_publication_falls_back_to_first_seen() -> None:
    due = POLICY.next_check(NOW, published=None, last_changed=None, first_seen=NOW - timedelta(hours=2))
    assert due == NOW + timedelta(minutes=15)


def test_future_publication_date_is_treated_as_now() -> None:
    assert interval(-timedelta(hours=5)) == timedelta(minutes=15)


def test_an_error_never_pushes_the_schedule_back() -> None:
    assert POLICY.after_error(NOW, NOW + timedelta(hours=6)) == NOW + timedelta(minutes=10)
    assert POLICY.after_error(NOW, NOW + timedelta(minutes=3)) == NOW + timedelta(minutes=3)
    assert POLICY.after_error(NOW, None) == NOW + timedelta(minutes=10)


def test_a_day_precise_date_is_bounded_by_the_first_sighting() -> None:
    midnight = datetime(2026, 11, 24, tzinfo=UTC)
    seen = midnight + timedelta(hours=9)
    assert publication_estimate(midnight, "day", seen) == seen
    assert publication_estimate(midnight, "day", midnight + timedelta(days=3)) == midnight + timedelta(days=1)
    assert publication_estimate(midnight, "minute", seen) == midnight
