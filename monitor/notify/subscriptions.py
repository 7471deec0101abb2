"""Who is told what: a subscription's targets and filters, and which notices it wants. Pure.

Read from the config's `[notify.NAME]` tables (monitor/config.py); the README ("Notifications") lists every key.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.notify.notice import Notice

# The kinds of notice a subscription can ask for with `events`; alerts are asked for with `errors = true`.
EVENT_KINDS = ("change", "gone", "republished")
ALERT_KINDS = ("alert", "recovered")
# `fields` filter: a change's fields as stored, "dates" standing for a change of the declared dates alone.
FIELD_NAMES = ("title", "lead", "author", "body", "captions", "dates")
# The first wait after a failed delivery; it doubles at each failure (monitor/notify/dispatch.py).
DEFAULT_RETRY = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Target:
    kind: str                 # "apprise" | "webhook"
    url: str
    secret: str | None = None # webhook only: HMAC-SHA256 key


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    targets: tuple[Target, ...]
    sites: tuple[str, ...] = ()           # empty: every site
    editions: tuple[str, ...] = ()        # empty: every edition (and articles without one)
    fields: tuple[str, ...] = ()          # empty: any text change; else changes touching one of these
    silent_only: bool = False             # text edits the site did not announce
    min_words: int = 0                    # words added + removed, at least
    max_age: timedelta | None = None      # articles published (or first seen) at most this long before the change
    events: tuple[str, ...] = ("change",)
    errors: bool = False                  # alerts about newsmon itself: a site down, extraction broken
    digest: timedelta | None = None       # one message per period instead of one per notice
    reverts: bool = False                 # also changes back to a text seen before (a revert, a headline flip-flop)
    retry: timedelta = DEFAULT_RETRY

    def wants(self, notice: Notice) -> bool:
        if notice.kind in ALERT_KINDS:
            return self.errors and (not self.sites or notice.site in self.sites)
        if notice.kind not in self.events:
            return False
        if self.sites and notice.site not in self.sites:
            return False
        if self.editions and notice.edition not in self.editions:
            return False
        if self.max_age is not None and not young(notice, self.max_age):
            return False
        return notice.kind != "change" or self.wants_change(notice)

    def wants_change(self, notice: Notice) -> bool:
        """A change of text by default, unless it brings back a text seen before (`reverts`); a change of the
        declared dates alone only when `fields` names "dates"; never the same page read by another extractor
        (no edit at all)."""
        if notice.text_changed:
            if self.fields and not set(self.fields) & set(notice.fields):
                return False
        elif "dates" not in self.fields or not set(notice.fields) & {"published", "updated"}:
            return False
        if self.silent_only and (notice.announced or not notice.text_changed):
            return False
        if notice.reverts_to is not None and not self.reverts:
            return False   # a text seen before: a headline A/B test would otherwise flood subscribers
        return notice.added_words + notice.removed_words >= self.min_words


def young(notice: Notice, max_age: timedelta) -> bool:
    born: datetime | None = notice.published or notice.first_seen
    return born is None or notice.at - born <= max_age
