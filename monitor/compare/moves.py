"""Text that moved: a paragraph, or a run of words, taken out in one place of a field and put back in
another. Pure.

A word diff sees a move as a deletion and an insertion. The rule (README, "Moves"):

1. The diff's deleted and inserted runs are cut at paragraph breaks into pieces.
2. A deleted piece and an inserted piece are a move when they share a run of at least MIN_MOVE_WORDS
   consecutive words (compared as newsmon compares text) and some unchanged words stand between them:
   a deletion right beside an insertion is text rewritten where it stands, not moved.
3. Pairs are taken by the most words they share, each piece in one pair at most.
4. A pair is diffed word by word: the words they share are moved (MOVED_FROM where they stood,
   MOVED_TO where they stand now); the words only the old piece had are removed, where they stood; the
   words only the new one has are added, where they stand. So a moved paragraph that was also edited is a
   move plus the small word diff inside it, and moving text never counts as removing it. A moved
   paragraph's break moves with it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.compare.normalize import comparison_form
from monitor.compare.words import (DELETE, EQUAL, INSERT, MOVED_FROM, MOVED_TO, PARAGRAPH_BREAK, WORD, Segment,
                                   diff_ops, tokens, word_count)

MIN_MOVE_WORDS = 8


@dataclass(frozen=True, slots=True)
class _Piece:
    index: int                   # its place among the pieces
    op: str
    text: str
    shingles: frozenset[tuple[str, ...]]   # its runs of MIN_MOVE_WORDS words, compared as newsmon compares text


def mark_moves(segments: Sequence[Segment]) -> list[Segment]:
    """The segments with moved text marked as moved (see the module's rule); the same list when nothing moved."""
    pieces = _pieces(segments)
    pairs = _pairs(pieces)
    if not pairs:
        return list(segments)
    replaced: dict[int, list[Segment]] = {}
    for move, (old, new) in enumerate(pairs):
        replaced[old.index], replaced[new.index] = _moved(old.text, new.text, move)
    for move, (old, new) in enumerate(pairs):   # a moved paragraph takes its paragraph break along
        _take_break(pieces, replaced, old, (old.index + 1, old.index - 1), Segment(MOVED_FROM, PARAGRAPH_BREAK, move))
        _take_break(pieces, replaced, new, (new.index - 1, new.index + 1), Segment(MOVED_TO, PARAGRAPH_BREAK, move))
    out: list[Segment] = []
    for piece in pieces:
        for segment in replaced.get(piece.index, [Segment(piece.op, piece.text)]):
            if out and (out[-1].op, out[-1].move) == (segment.op, segment.move):
                out[-1] = Segment(segment.op, out[-1].text + segment.text, segment.move)
            elif segment.text:
                out.append(segment)
    return out


def _take_break(pieces: Sequence[_Piece], replaced: dict[int, list[Segment]], moved: _Piece,
                places: tuple[int, int], moved_break: Segment) -> None:
    """The paragraph break beside a moved piece (the first of `places` that is one) moves with it."""
    for place in places:
        if 0 <= place < len(pieces) and place not in replaced and pieces[place].op == moved.op \
                and pieces[place].text == PARAGRAPH_BREAK:
            replaced[place] = [moved_break]
            return


def _pieces(segments: Sequence[Segment]) -> list[_Piece]:
    """Deleted and inserted runs cut at paragraph breaks (each break a piece of its own); unchanged runs whole."""
    texts: list[tuple[str, str]] = []
    for segment in segments:
        if segment.op not in (DELETE, INSERT):
            texts.append((segment.op, segment.text))
            continue
        for i, part in enumerate(segment.text.split(PARAGRAPH_BREAK)):
            if i:
                texts.append((segment.op, PARAGRAPH_BREAK))
            if part:
                texts.append((segment.op, part))
    return [_Piece(i, op, text, _shingles(text) if op in (DELETE, INSERT) else frozenset())
            for i, (op, text) in enumerate(texts)]


def _shingles(text: str) -> frozenset[tuple[str, ...]]:
    words = WORD.findall(comparison_form(text))
    return frozenset(tuple(words[i:i + MIN_MOVE_WORDS]) for i in range(len(words) - MIN_MOVE_WORDS + 1))


def _pairs(pieces: Sequence[_Piece]) -> list[tuple[_Piece, _Piece]]:
    """Deleted and inserted pieces that are one text moved, the pairs sharing the most words first."""
    deleted = [p for p in pieces if p.op == DELETE and p.shingles]
    inserted = [p for p in pieces if p.op == INSERT and p.shingles]
    if not deleted or not inserted:
        return []
    # Unchanged words before each piece: two pieces with the same count have no unchanged word between them.
    before, words = [], 0
    for piece in pieces:
        before.append(words)
        words += word_count(piece.text) if piece.op == EQUAL else 0
    candidates = sorted(((len(d.shingles & i.shingles), d.index, i.index, d, i) for d in deleted for i in inserted
                         if before[d.index] != before[i.index] and not d.shingles.isdisjoint(i.shingles)),
                        key=lambda c: (-c[0], c[1], c[2]))
    taken: set[int] = set()
    pairs = []
    for _, d_index, i_index, d, i in candidates:
        if d_index not in taken and i_index not in taken:
            taken |= {d_index, i_index}
            pairs.append((d, i))
    return pairs


def _moved(old: str, new: str, move: int) -> tuple[list[Segment], list[Segment]]:
    """A pair diffed word by word: what stays where the text stood, and what goes where it stands now, each
    segment marked as part of move number `move`."""
    old_tokens, new_tokens = tokens(old), tokens(new)
    where_it_was: list[Segment] = []
    where_it_is: list[Segment] = []
    i = j = 0
    for op, length in diff_ops(old_tokens, new_tokens):
        if op == DELETE:
            where_it_was.append(Segment(DELETE, "".join(old_tokens[i:i + length]), move))
            i += length
        elif op == INSERT:
            where_it_is.append(Segment(INSERT, "".join(new_tokens[j:j + length]), move))
            j += length
        else:
            where_it_was.append(Segment(MOVED_FROM, "".join(old_tokens[i:i + length]), move))
            where_it_is.append(Segment(MOVED_TO, "".join(new_tokens[j:j + length]), move))
            i, j = i + length, j + length
    return where_it_was, where_it_is
