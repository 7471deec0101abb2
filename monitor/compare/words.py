"""The word diff of two token lists: diff-match-patch's "word mode". Pure.

Each distinct word becomes one character, the two character strings are diffed and semantically cleaned
up, and the characters are mapped back to words. Words are matched on their comparison form, so a
typography-only difference inside an edited paragraph is not shown as a change; the text shown is always
the text as published (the newer one for unchanged words).

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

_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*\s*|[^\w\s]\s*|\s+")
WORD = re.compile(r"\w+(?:['’\-]\w+)*")
PARAGRAPH_BREAK = "\n\n"

# Segment ops. Text that moved (monitor/compare/moves.py) is neither added nor removed: it shows twice,
# where it stood in the old text (MOVED_FROM) and where it stands in the new one (MOVED_TO).
INSERT, DELETE, EQUAL, MOVED_FROM, MOVED_TO = "+", "-", "=", "<", ">"
OLD_SIDE = (EQUAL, DELETE, MOVED_FROM)   # the segments that, in order, make the old text
NEW_SIDE = (EQUAL, INSERT, MOVED_TO)     # ... and the new text


@dataclass(frozen=True, slots=True)
class Segment:
    op: str      # "=", "+", "-", "<" or ">"
    text: str
    move: int | None = None   # the moved text it belongs to (its words moved, or changed inside it), numbered per field


def tokens(text: str) -> list[str]:
    """Words (with elisions and hyphens), punctuation marks, each with the whitespace that follows it."""
    return _TOKEN.findall(text)


def block_tokens(blocks: Sequence[str]) -> list[str]:
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


def diff_ops(old: list[str], new: list[str]) -> list[tuple[str, int]]:
    """The diff of two token lists as (op, number of tokens): "=", "-" or "+"."""
    codes: dict[str, str] = {}
    a, b = _chars(old, codes), _chars(new, codes)
    return dmp.diff(a, b, timelimit=0, cleanup="Semantic", counts_only=True)


def diff_tokens(old: list[str], new: list[str]) -> list[Segment]:
    return to_segments(diff_ops(old, new), old, new)


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


def word_count(text: str) -> int:
    return len(WORD.findall(text))


def count_words(segments: Sequence[Segment], op: str) -> int:
    return sum(word_count(s.text) for s in segments if s.op == op)
