"""The words every renderer uses for fields and kinds of change, in one place."""
from __future__ import annotations

FIELD_LABELS = {"title": "title", "lead": "lead", "author": "byline", "body": "body", "captions": "caption",
                "published": "published date", "updated": "update date", "dates": "dates"}
# A change is "announced" when the declared update date moved with the text, "silent" when it did not.
KIND_LABELS = {"dates": "dates only", "announced": "announced edit", "silent": "silent edit"}


def change_kind(text_changed: bool, announced: bool | None) -> str:
    """'dates' (only the declared dates changed), 'announced' or 'silent' (the text changed)."""
    if not text_changed:
        return "dates"
    return "announced" if announced else "silent"


def kind_label(text_changed: bool, announced: bool | None) -> str:
    return KIND_LABELS[change_kind(text_changed, announced)]


def field_list(fields: list[str]) -> str:
    return ", ".join(FIELD_LABELS.get(f, f) for f in fields)
