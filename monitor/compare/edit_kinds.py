"""What kind of edit a change is: a spelling fix, new figures, a quotation reworded, a paragraph added... Pure.

A change may have several kinds, or none (a sentence rewritten is none of these). Each kind is one rule over
the change's word diffs (monitor/compare/diffing.py, moves marked) and the two versions; the README's table
("Kinds of edit") says them for users, `edit_kinds` below applies them.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from monitor.compare.diffing import DELETE, EQUAL, INSERT, NEW_SIDE, OLD_SIDE, PARAGRAPH_BREAK, FieldDiff, Segment
from monitor.compare.normalize import comparison_form
from monitor.compare.versioning import Content
from monitor.compare.words import WORD, diff_tokens, tokens

EDIT_KINDS = ("headline", "byline", "spelling", "figures", "quotes", "addition", "removal", "move", "correction")
BLOCK_FIELDS = ("body", "captions")
# The largest edit distance between a word and its correction, and its share of the longer word: "gouvernment"
# -> "gouvernement" (1 of 12) is a spelling fix, "le" -> "la" (1 of 2) is another word.
SPELLING_DISTANCE = 2
SPELLING_SHARE = 1 / 3
NUMBER = re.compile(r"\d+")
QUOTATION = re.compile(r"«[^«»]*»|“[^“”]*”|\"[^\"]*\"")
# A paragraph that starts "Correction :", "Rectificatif -", "Erratum (3 mars)", or says an earlier version
# was wrong, in French or English; compared as newsmon compares text, any case.
CORRECTION_LINE = re.compile(r"^\W*(?:correction|rectificatif|erratum)s?\s*(?:[:.,(\-–—]|\d|$)"
                             r"|une version (?:précédente|antérieure) de cet article"
                             r"|an earlier version of this (?:article|story)", re.IGNORECASE)


def edit_kinds(old: Content, new: Content, diffs: Sequence[FieldDiff]) -> tuple[str, ...]:
    """The kinds of a text change from `old` to `new` whose word diffs are `diffs`, in EDIT_KINDS order."""
    by_field = {d.field: d for d in diffs}
    hunks = [hunk for d in diffs if d.field != "title" for hunk in _hunks(d.segments)]
    title = list(_hunks(by_field["title"].segments)) if "title" in by_field else []
    blocks = [name for name in BLOCK_FIELDS if name in by_field]
    found = {
        "headline": bool(title) and not _spelling(title),
        "byline": "author" in by_field,
        "spelling": _spelling(hunks + title),
        "figures": any(_figures(removed, added) for removed, added in hunks + title),
        "quotes": any(_quote_changed(d.segments) for d in diffs),
        "addition": any(_whole_paragraphs(by_field[f].segments, INSERT, NEW_SIDE) for f in blocks),
        "removal": any(_whole_paragraphs(by_field[f].segments, DELETE, OLD_SIDE) for f in blocks),
        "move": any(d.moved_words for d in diffs),
        "correction": bool(_correction_lines(new) - _correction_lines(old)),
    }
    return tuple(kind for kind in EDIT_KINDS if found[kind])


def _hunks(segments: Sequence[Segment]) -> Iterator[tuple[str, str]]:
    """Each run of removed and added text with words in it, as (removed, added): text replaced where it
    stands, and text changed inside a moved text, whose words removed (where it stood) and added (where it
    stands) are paired as if it had not moved."""
    yield from _in_place(segments)
    for move in sorted({s.move for s in segments if s.move is not None}):
        old = "".join(s.text for s in segments if s.move == move and s.op in OLD_SIDE)
        new = "".join(s.text for s in segments if s.move == move and s.op in NEW_SIDE)
        yield from _in_place(diff_tokens(tokens(old), tokens(new)))


def _in_place(segments: Sequence[Segment]) -> Iterator[tuple[str, str]]:
    removed: list[str] = []
    added: list[str] = []
    for segment in [*segments, Segment(EQUAL, "")]:
        if segment.op == DELETE and segment.move is None:
            removed.append(segment.text)
        elif segment.op == INSERT and segment.move is None:
            added.append(segment.text)
        else:
            if WORD.search("".join(removed + added)):
                yield "".join(removed), "".join(added)
            removed, added = [], []


def _spelling(hunks: Sequence[tuple[str, str]]) -> bool:
    if not hunks:
        return False
    for removed, added in hunks:
        before, after = WORD.findall(removed), WORD.findall(added)
        if len(before) != len(after) or not all(map(close, before, after)):
            return False
    return True


def close(word: str, other: str) -> bool:
    """A spelling fix of `word`: the same word but for accents or case, or within SPELLING_DISTANCE edits
    that are at most SPELLING_SHARE of the longer word. Numbers are never spelling."""
    if NUMBER.search(word) or NUMBER.search(other):
        return False
    a, b = _bare(word), _bare(other)
    if a == b:
        return True
    distance = _distance(a, b)
    return distance <= SPELLING_DISTANCE and distance <= SPELLING_SHARE * max(len(a), len(b))


def _bare(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word.casefold()) if not unicodedata.combining(c))


def _distance(a: str, b: str) -> int:
    """Levenshtein's edit distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def _figures(removed: str, added: str) -> bool:
    """Words replaced by others, with other numbers among them."""
    return bool(removed.strip() and added.strip()) and NUMBER.findall(removed) != NUMBER.findall(added)


def _quote_changed(segments: Sequence[Segment]) -> bool:
    """Words removed inside a quotation of the old text, or added inside one of the new, without the change
    covering the quotation whole."""
    return _inside_quotation(segments, DELETE, OLD_SIDE) or _inside_quotation(segments, INSERT, NEW_SIDE)


def _inside_quotation(segments: Sequence[Segment], op: str, side: tuple[str, ...]) -> bool:
    text, changed, at = "", [], 0
    for segment in segments:
        if segment.op not in side:
            continue
        if segment.op == op and segment.text.strip():
            changed.append((at, at + len(segment.text)))
        text += segment.text
        at += len(segment.text)
    quotations = [m.span() for m in QUOTATION.finditer(text)]
    return any(a < end and b > start and not (a <= start and b >= end)
               for a, b in changed for start, end in quotations)


def _whole_paragraphs(segments: Sequence[Segment], op: str, side: tuple[str, ...]) -> bool:
    """Whether one paragraph of that side is made, words and all, of `op` text."""
    paragraphs: list[list[Segment]] = [[]]
    for segment in segments:
        if segment.op not in side:
            continue
        for i, part in enumerate(segment.text.split(PARAGRAPH_BREAK)):
            if i:
                paragraphs.append([])
            paragraphs[-1].append(Segment(segment.op, part))
    return any(any(WORD.search(s.text) for s in p) and all(s.op == op for s in p if WORD.search(s.text))
               for p in paragraphs)


def _correction_lines(article: Content) -> set[str]:
    lines = [article.lead, *article.body, *article.captions]
    return {form for form in map(comparison_form, lines) if CORRECTION_LINE.search(form)}


@dataclass(frozen=True, slots=True)
class Tally:
    """What a change row counts of its diffs: ingest, reextract and migration 0010 all count with `tally`."""

    added_words: int
    removed_words: int
    moved_words: int
    kinds: tuple[str, ...]


def tally(old: Content, new: Content, diffs: Sequence[FieldDiff], text_changed: bool) -> Tally:
    """The words added, removed and moved, and the kinds of edit (none for a change of dates or extractor)."""
    return Tally(sum(d.added_words for d in diffs), sum(d.removed_words for d in diffs),
                 sum(d.moved_words for d in diffs), edit_kinds(old, new, diffs) if text_changed else ())
