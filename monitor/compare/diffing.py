"""Word-level diffs of article fields. Pure.

The technique is diff-match-patch's "word mode": each distinct word becomes one character, the two
character strings are diffed and semantically cleaned up, and the characters are mapped back to words.
Words are matched on their comparison form, so a typography-only difference inside an edited paragraph
is not shown as a change; the text shown is always the text as published (the newer one for unchanged
words).

The diff itself is the C++ port (fast-diff-match-patch) with no time limit: the pure-Python package
gives up after one second on long texts and returns a near-total rewrite instead (bench/diff_engines.py).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import fast_diff_match_patch as dmp

from monitor.compare.normalize import comparison_form
from monitor.compare.versioning import TEXT_FIELDS, Content

_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*\s*|[^\w\s]\s*|\s+")
_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
PARAGRAPH_BREAK = "\n\n"

INSERT, DELETE, EQUAL = "+", "-", "="


@dataclass(frozen=True, slots=True)
class Segment:
    op: str      # "=", "+" or "-"
    text: str


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    segments: tuple[Segment, ...]
    added_words: int
    removed_words: int


def tokens(text: str) -> list[str]:
    """Words (with elisions and hyphens), punctuation marks, each with the whitespace that follows it."""
    return _TOKEN.findall(text)


def _block_tokens(blocks: Sequence[str]) -> list[str]:
    out: list[str] = []
    for i, block in enumerate(blocks):
        if i:
            out.append(PARAGRAPH_BREAK)
        out.extend(tokens(block))
    return out


@lru_cache(maxsize=65536)
def _token_key(token: str) -> str:
    """Texts repeat their words: each distinct token is normalised once."""
    return PARAGRAPH_BREAK if token == PARAGRAPH_BREAK else comparison_form(token)


def _chars(toks: list[str], codes: dict[str, str]) -> str:
    out = []
    for tok in toks:
        key = _token_key(tok)
        if key not in codes:
            # Skip the surrogate range: those code points cannot stand alone in a str passed to C++.
            n = len(codes) + 0x100
            codes[key] = chr(n if n < 0xD800 else n + 0x800)
        out.append(codes[key])
    return "".join(out)


def diff_tokens(old: list[str], new: list[str]) -> list[Segment]:
    codes: dict[str, str] = {}
    a, b = _chars(old, codes), _chars(new, codes)
    return to_segments(dmp.diff(a, b, timelimit=0, cleanup="Semantic", counts_only=True), old, new)


def to_segments(ops: Iterable[tuple[str, int]], old: list[str], new: list[str]) -> list[Segment]:
    """Map a character diff (op, length) back to the tokens the characters stand for."""
    segments: list[Segment] = []
    i = j = 0
    for op, length in ops:
        if op == DELETE:
            segments.append(Segment(DELETE, "".join(old[i:i + length])))
            i += length
        elif op == INSERT:
            segments.append(Segment(INSERT, "".join(new[j:j + length])))
            j += length
        else:
            segments.append(Segment(EQUAL, "".join(new[j:j + length])))
            i, j = i + length, j + length
    return segments


def count_words(segments: Sequence[Segment], op: str) -> int:
    return sum(len(_WORD.findall(s.text)) for s in segments if s.op == op)


def diff_field(name: str, old: str | Sequence[str], new: str | Sequence[str]) -> FieldDiff:
    """Diff of one field; list fields (body, captions) keep their block boundaries as paragraph breaks."""
    if isinstance(old, str) and isinstance(new, str):
        segments = diff_tokens(tokens(old), tokens(new))
    else:
        segments = diff_tokens(_block_tokens(list(old)), _block_tokens(list(new)))
    return FieldDiff(name, tuple(segments), count_words(segments, INSERT), count_words(segments, DELETE))


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
                out[-1].append(Segment(segment.op, piece))
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
            out.append(FieldDiff(d.field, segments, count_words(segments, INSERT), count_words(segments, DELETE)))
    return out
