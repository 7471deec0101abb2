"""When to look at an article again. Pure: a function of what is known about the article and the time.

Edits to news cluster early: about 80 % of body and title changes land in the first 24 hours after
publication, a tail runs over the first week, little happens after a month (GDELT week-long re-crawls;
NewsEdits, NAACL 2022). And an article that was just edited is likely to be edited again soon. So the
interval grows with the article's "quiet age": the time since the later of its publication and its last
change. Past the last tier an article is no longer re-checked on a schedule; discovery (a sitemap
`lastmod`, a feed) can still bring it back.

An article the site still features (on a front page or in a feed) is current news whatever its age:
it is re-checked at least every `listed_every` while it was seen in a listing within `listed_memory`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Tier:
    until: timedelta      # applies while the quiet age is below this
    every: timedelta      # re-check interval in this tier


@dataclass(frozen=True, slots=True)
class RevisitPolicy:
    tiers: Sequence[Tier] = (
        Tier(6 * HOUR, 15 * MINUTE),   # the first hours: most edits, most of them silent
        Tier(DAY, HOUR),               # rest of the first day
        Tier(7 * DAY, 6 * HOUR),       # the week-long tail
        Tier(30 * DAY, DAY),           # late corrections, deletions
    )
    error_retry: timedelta = 10 * MINUTE  # a failed fetch is retried soon, never pushed back
    listed_every: timedelta = 3 * HOUR    # floor for articles still featured by the site
    listed_memory: timedelta = DAY        # how long a sighting in a listing counts

    @property
    def horizon(self) -> timedelta:
        """The quiet age past which an article is no longer re-checked on a schedule."""
        return self.tiers[-1].until

    def interval(self, quiet_age: timedelta) -> timedelta | None:
        """The re-check interval for an article this long without news, or None to stop."""
        for tier in self.tiers:
            if quiet_age < tier.until:
                return tier.every
        return None

    def next_check(self, now: datetime, *, published: datetime | None, last_changed: datetime | None,
                   first_seen: datetime, listed_at: datetime | None = None) -> datetime | None:
        # An old article newsmon has only just found is still old: first_seen stands in only for a
        # missing publication date.
        anchor = max(t for t in (published or first_seen, last_changed) if t is not None)
        # A published date in the future (a clock or time-zone slip) must not freeze the article at tier 0.
        every = self.interval(max(now - anchor, timedelta(0)))
        if listed_at is not None and now - listed_at < self.listed_memory:
            every = min(every, self.listed_every) if every is not None else self.listed_every
        return now + every if every is not None else None

    def explain(self, now: datetime, *, published: datetime | None, last_changed: datetime | None,
                first_seen: datetime, listed_at: datetime | None = None) -> str:
        """Why an article is re-checked as often as it is, in words (`newsmon schedule`)."""
        changed_later = last_changed is not None and (published is None or last_changed > published)
        anchor_name, anchor = ("changed", last_changed) if changed_later else \
            ("published", published) if published else ("first seen", first_seen)
        assert anchor is not None
        every = self.interval(max(now - anchor, timedelta(0)))
        reason = f"{anchor_name} {_ago(now - anchor)} ago: " + (f"every {_ago(every)}" if every else "no more checks")
        if listed_at is not None and now - listed_at < self.listed_memory and (every is None or self.listed_every < every):
            reason += f"; still listed by the site ({_ago(now - listed_at)} ago): every {_ago(self.listed_every)}"
        return reason

    def after_error(self, now: datetime, scheduled: datetime | None) -> datetime:
        retry = now + self.error_retry
        return min(retry, scheduled) if scheduled and scheduled > now else retry


def publication_estimate(published: datetime | None, precision: str, first_seen: datetime) -> datetime | None:
    """When the article was published, as well as we can tell. A page that gives only the day
    ("Publié le 27 juillet 2021") was published between that midnight and the next; if newsmon saw it
    during that day, the first sighting is the better bound."""
    if published is None or precision != "day":
        return published
    return max(published, min(first_seen, published + DAY))


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.2g} {unit}"
    return f"{seconds} s"
