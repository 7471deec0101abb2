"""Decide what a fetched article means next to the latest stored version: nothing, a text edit, or a
change of the declared dates only. Pure: plain values in, a verdict out.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.compare.normalize import comparison_form, comparison_list, digest
from monitor.iso import to_iso
from monitor.items import DATE_FIELDS, TEXT_FIELDS, Fetch

_WORD = re.compile(r"\w+")
# The field a change names when the same page was read by another extractor (a redesign, a newer newsmon).
EXTRACTOR_CHANGE = "extractor"


class Content(Protocol):
    """What versioning reads of an article, whether just extracted or stored."""

    title: str
    lead: str
    author: str
    body: Sequence[str]
    captions: Sequence[str]
    published: datetime | None
    updated: datetime | None
    date_precision: str


class Outcome(enum.StrEnum):
    NEW = "new"                # first version of an article
    UNCHANGED = "unchanged"    # same text (typography aside) and same declared dates
    CHANGED = "changed"        # the text changed: an edit
    METADATA = "metadata"      # only the declared dates changed: not an edit of the text


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    fields: tuple[str, ...] = ()   # names of the fields that changed, text fields first
    announced: bool = False        # the declared update date moved with the text

    @property
    def stores_version(self) -> bool:
        return self.outcome is not Outcome.UNCHANGED


def comparable_text(article: Content) -> dict[str, str | list[str]]:
    return {name: comparison_form(value) if isinstance(value := getattr(article, name), str)
            else comparison_list(value) for name in TEXT_FIELDS}


def same_text(a: Content, b: Content) -> bool:
    """The same words in the same order, however a page's markup split them between lead, body and
    captions: how two readings by different extractors (or of different markups) are compared."""
    def flat(article: Content) -> tuple[str, list[str]]:
        return comparison_form(article.author), comparison_list([article.title, article.lead, *article.body,
                                                                 *article.captions])
    return flat(a) == flat(b)


def text_hash(article: Content) -> str:
    """Equal for two articles a reader would call the same text."""
    return digest(comparable_text(article))


def extracted_hash(article: Content) -> str:
    """Equal only for identical text. Cheap (no normalisation): most re-checks find identical text, and
    only when this differs is the comparison form worth computing."""
    return digest([value if isinstance(value := getattr(article, name), str) else list(value)
                   for name in TEXT_FIELDS])


def dates_key(article: Content) -> str:
    """The declared dates exactly as declared; any difference is worth a version."""
    return "|".join(to_iso(getattr(article, name)) or "" for name in DATE_FIELDS)


def same_declared(a: datetime | None, b: datetime | None, precision: str) -> bool:
    """Equal at the given precision; a page that gives only the day cannot be told apart within a day."""
    if a is None or b is None:
        return a is b
    if precision == "day":
        return a.date() == b.astimezone(a.tzinfo).date()
    return abs((a - b).total_seconds()) < 60


def coarser(a: str, b: str) -> str:
    return "day" if "day" in (a, b) else "minute"


def changed_dates(a: Content, b: Content) -> tuple[str, ...]:
    """The declared dates that differ, exactly as declared."""
    return tuple(name for name in DATE_FIELDS if to_iso(getattr(a, name)) != to_iso(getattr(b, name)))


def switch_verdict(old: Content, new: Content) -> Verdict | None:
    """Two readings by different extractors (a redesign, a newer newsmon): the same words in the same order,
    however the markup splits them between fields, are a change of extractor with the dates that moved,
    never an edit. None when the words differ."""
    if not same_text(old, new):
        return None
    return Verdict(Outcome.METADATA, (EXTRACTOR_CHANGE, *changed_dates(old, new)))


def compare(previous: Content | None, current: Content) -> Verdict:
    if previous is None:
        return Verdict(Outcome.NEW)
    old_text, new_text = comparable_text(previous), comparable_text(current)
    text_fields = tuple(name for name in TEXT_FIELDS if old_text[name] != new_text[name])
    date_fields = changed_dates(previous, current)
    if not text_fields and not date_fields:
        return Verdict(Outcome.UNCHANGED)
    if not text_fields:
        return Verdict(Outcome.METADATA, date_fields)
    precision = coarser(previous.date_precision, current.date_precision)
    announced = current.updated is not None and not same_declared(previous.updated, current.updated, precision)
    return Verdict(Outcome.CHANGED, text_fields + date_fields, announced)


def body_words(body: Sequence[str]) -> int:
    return sum(len(_WORD.findall(block)) for block in body)


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is known of an article before a re-check: enough to tell a suspicious page."""

    status: str                  # live | gone
    body_words: int | None
    has_lead: bool
    has_author: bool
    has_captions: bool


def suspicion(baseline: Baseline | None, article: Content | None, http_status: int, shrink: float) -> str | None:
    """Why a page should be fetched once more before it is believed, or None.

    A page that drops much of the body, empties a field, or a live article answering 404/410 is more
    often a broken page (a truncated answer, a maintenance template, a deploy in progress) than an edit.
    """
    if baseline is None or baseline.status != "live":
        return None
    if http_status in (404, 410):
        return f"answers HTTP {http_status}"
    if article is None:
        return None
    words = body_words(article.body)
    if baseline.body_words and words < baseline.body_words * (1 - shrink):
        lost = 1 - words / baseline.body_words
        return f"the body lost {lost:.0%} of its words ({baseline.body_words} -> {words})"
    for name, had in (("lead", baseline.has_lead), ("author", baseline.has_author),
                      ("captions", baseline.has_captions)):
        if had and not getattr(article, name):
            return f"the {name} is empty now"
    return None


@dataclass(frozen=True, slots=True)
class Provisional:
    """A fetch not to be believed yet: a second look at the page follows in the same crawl
    (monitor/crawl/confirmation.py). It is logged as a check with this outcome, and never becomes a version."""

    fetch: Fetch
    outcome: str                 # "suspect": held for a confirming fetch; "retried": a broken page fetched again
    note: str | None = None      # why it is not believed; the check's error (else the fetch's own)
