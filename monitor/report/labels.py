"""The words every renderer uses for fields and kinds of change, in one place."""
from __future__ import annotations

from collections.abc import Sequence

from monitor.compare.versioning import EXTRACTOR_CHANGE

FIELD_LABELS = {"title": "title", "lead": "lead", "author": "byline", "body": "body", "captions": "caption",
                "published": "published date", "updated": "update date", "dates": "dates",
                EXTRACTOR_CHANGE: "extractor"}
# A change is "announced" when the declared update date moved with the text, "silent" when it did not.
# "extractor": the same page read by another extractor (a redesign, a newer newsmon): no edit at all.
KIND_LABELS = {"dates": "dates only", "announced": "announced edit", "silent": "silent edit",
               "extractor": "read anew (no edit)"}


def change_kind(text_changed: bool, announced: bool | None, fields: Sequence[str] = ()) -> str:
    """'extractor' (the page read by another extractor), 'dates' (only the declared dates changed),
    'announced' or 'silent' (the text changed)."""
    if not text_changed:
        return "extractor" if EXTRACTOR_CHANGE in fields else "dates"
    return "announced" if announced else "silent"


def kind_label(text_changed: bool, announced: bool | None, fields: Sequence[str] = ()) -> str:
    return KIND_LABELS[change_kind(text_changed, announced, fields)]


def field_list(fields: list[str]) -> str:
    return ", ".join(FIELD_LABELS.get(f, f) for f in fields)


# What each kind of edit means (monitor/compare/edit_kinds.py has the rules), for a badge's tooltip.
EDIT_KIND_HELP = {
    "headline": "the title was rewritten", "byline": "the author changed",
    "spelling": "only spelling: each changed word is a close variant of its replacement",
    "figures": "a number was replaced", "quotes": "words inside a quotation changed",
    "addition": "a paragraph was added", "removal": "a paragraph was removed",
    "move": "text moved within the article", "correction": "a correction line appeared"}

FEED_TITLE = "newsmon: edits to published articles"


def article_feed_title(headline: str) -> str:
    """One article's feed is named by its headline, so a reader's list of feeds says which is which."""
    return f"newsmon: edits to “{headline}”"
