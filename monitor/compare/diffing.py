"""Word-level diffs of article fields, moves marked. Pure.

The word diff itself is monitor/compare/words.py; text that only moved within a field is marked as moved
(monitor/compare/moves.py) and counted apart from the words added and removed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from monitor.compare.moves import mark_moves
from monitor.compare.normalize import comparison_form
from monitor.compare.versioning import TEXT_FIELDS, Content
from monitor.compare.words import (DELETE, EQUAL, INSERT, MOVED_FROM, MOVED_TO, NEW_SIDE, OLD_SIDE, PARAGRAPH_BREAK,
                                   Segment, block_tokens, count_words, diff_tokens, tokens)

__all__ = ["DELETE", "EQUAL", "INSERT", "MOVED_FROM", "MOVED_TO", "NEW_SIDE", "OLD_SIDE", "PARAGRAPH_BREAK",
           "FieldDiff", "Segment", "diff_articles", "diff_field", "is_changed", "paragraphs", "tokens",
           "without_moves"]


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    segments: tuple[Segment, ...]
    added_words: int
    removed_words: int
    moved_words: int         # words that stand elsewhere in the field now (MOVED_TO), counted once


def field_diff(name: str, segments: Sequence[Segment]) -> FieldDiff:
    """The diff of a field from its segments, its words counted."""
    return FieldDiff(name, tuple(segments), count_words(segments, INSERT), count_words(segments, DELETE),
                     count_words(segments, MOVED_TO))


def diff_field(name: str, old: str | Sequence[str], new: str | Sequence[str]) -> FieldDiff:
    """Diff of one field; list fields (body, captions) keep their block boundaries as paragraph breaks."""
    if isinstance(old, str) and isinstance(new, str):
        segments = diff_tokens(tokens(old), tokens(new))
    else:
        segments = diff_tokens(block_tokens(list(old)), block_tokens(list(new)))
    return field_diff(name, mark_moves(segments))


def diff_articles(old: Content, new: Content, fields: Sequence[str] = TEXT_FIELDS) -> list[FieldDiff]:
    """Diffs of the given text fields that differ; fields equal in comparison form are left out."""
    out = []
    for name in fields:
        diff = diff_field(name, getattr(old, name), getattr(new, name))
        if is_changed(diff.segments):
            out.append(diff)
    return out


def is_changed(segments: Sequence[Segment]) -> bool:
    return any(s.op != EQUAL for s in segments)


def paragraphs(segments: Sequence[Segment]) -> list[list[Segment]]:
    """The segments of a block field cut at paragraph breaks: one list per paragraph, in order. A break
    inside an inserted or deleted run stays with the paragraph it ends."""
    out: list[list[Segment]] = [[]]
    for segment in segments:
        pieces = segment.text.split(PARAGRAPH_BREAK) if segment.op == EQUAL else [segment.text]
        for i, piece in enumerate(pieces):
            if i:
                out.append([])
            if piece:
                out[-1].append(replace(segment, text=piece))
    return [p for p in out if p]


def without_moves(diffs: Sequence[FieldDiff]) -> list[FieldDiff]:
    """The diffs less the text that only moved from one field to another: a new markup may put the same
    paragraph in the lead where the old one had it in the body. A run inserted in one field that equals,
    once compared, a run deleted from another cancels out (the insertion stays as unchanged text, the
    deletion goes); fields left with no change are dropped."""
    inserted = {(d.field, comparison_form(s.text)) for d in diffs for s in d.segments if s.op == INSERT}
    deleted = {(d.field, comparison_form(s.text)) for d in diffs for s in d.segments if s.op == DELETE}
    moved = {text for field, text in inserted for other, gone in deleted if text and text == gone and field != other}
    out = []
    for d in diffs:
        segments = tuple(Segment(EQUAL, s.text) if s.op == INSERT and comparison_form(s.text) in moved else s
                         for s in d.segments if not (s.op == DELETE and comparison_form(s.text) in moved))
        if is_changed(segments):
            out.append(field_diff(d.field, segments))
    return out
