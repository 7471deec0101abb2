"""Something to tell: a change to an article, an article gone or back, or newsmon's own trouble. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.compare.diffing import FieldDiff


@dataclass(frozen=True, slots=True)
class Notice:
    id: int                         # the outbox row's
    kind: str                       # change | gone | republished | alert | recovered
    site: str
    at: datetime                    # when newsmon saw it
    article_id: str | None = None   # the site's key of the article
    url: str | None = None
    title: str | None = None
    edition: str | None = None
    published: datetime | None = None
    first_seen: datetime | None = None
    fields: tuple[str, ...] = ()
    text_changed: bool = False
    announced: bool = False
    added_words: int = 0
    removed_words: int = 0
    moved_words: int = 0
    kinds: tuple[str, ...] = ()     # kinds of edit (monitor/compare/edit_kinds.py)
    reverts_to: int | None = None   # the earlier version whose text the change brings back
    from_version: int | None = None
    to_version: int | None = None
    diffs: tuple[FieldDiff, ...] = ()
    detail: str = ""                # alert: what went wrong; gone: the HTTP status
