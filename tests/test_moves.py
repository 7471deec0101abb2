"""Moves: a paragraph or a run of words moved within a field is shown as moved, counted apart from the
words added and removed, and never as removed."""
from __future__ import annotations

from monitor.compare.diffing import DELETE, EQUAL, INSERT, MOVED_FROM, MOVED_TO, NEW_SIDE, OLD_SIDE, diff_field

A = "Le premier ministre a annoncé lundi un plan de relance de dix milliards pour les entreprises du pays."
B = "La pluie est tombée toute la nuit sur la capitale et les environs sans discontinuer."
C = "Les syndicats ont appelé à la grève générale pour jeudi prochain dans toute la fonction publique."


def para(*blocks: str) -> str:
    return "\n\n".join(blocks)


def side(diff, ops: tuple[str, ...]) -> str:
    return "".join(s.text for s in diff.segments if s.op in ops)


def test_a_moved_paragraph_is_a_move_not_a_removal() -> None:
    d = diff_field("body", [A, B, C], [B, C, A])
    assert (d.added_words, d.removed_words, d.moved_words) == (0, 0, 18)
    # The paragraph break goes along with the paragraph: no break is shown removed or added.
    assert [s.text.strip() for s in d.segments if s.op == MOVED_TO] == [A]
    assert [s.text.strip() for s in d.segments if s.op == MOVED_FROM] == [A]
    assert {s.op for s in d.segments} == {MOVED_FROM, EQUAL, MOVED_TO}
    assert side(d, OLD_SIDE) == para(A, B, C)
    assert side(d, NEW_SIDE) == para(B, C, A)


def test_a_moved_and_edited_paragraph_is_a_move_plus_the_words_changed_inside_it() -> None:
    edited = A.replace("dix", "douze")
    d = diff_field("body", [A, B, C], [B, C, edited])
    assert (d.added_words, d.removed_words, d.moved_words) == (1, 1, 17)
    assert [s.text.strip() for s in d.segments if s.op in (INSERT, DELETE) and s.text.strip()] == ["dix", "douze"]
    assert side(d, OLD_SIDE) == para(A, B, C)
    assert side(d, NEW_SIDE) == para(B, C, edited)


def test_a_sentence_of_eight_words_moved_within_a_paragraph_is_a_move() -> None:
    moved = "Le ministre de l'Intérieur a démissionné hier soir."
    rest = "Le conseil se réunira demain matin pour examiner la question du budget."
    d = diff_field("lead", f"{moved} {rest}", f"{rest} {moved}")
    assert d.moved_words == 8 and d.removed_words == 0


def test_short_runs_and_edits_in_place_are_not_moves() -> None:
    # Fewer than 8 words moved: a deletion and an insertion, as before.
    d = diff_field("body", ["Un deux trois.", B], [B, "Un deux trois."])
    assert d.moved_words == 0 and d.removed_words == 3
    # A paragraph rewritten where it stands (no unchanged words between deletion and insertion) is no move,
    # even when the rewrite keeps eight words in a row.
    rewritten = "Selon nos informations, " + A.replace("Le premier", "le premier").rstrip(".") + ", a-t-on appris."
    d = diff_field("body", [B, A, C], [B, rewritten, C])
    assert d.moved_words == 0
    assert not any(s.op in (MOVED_FROM, MOVED_TO) for s in d.segments)


def test_unchanged_text_has_no_move() -> None:
    d = diff_field("body", [A, B], [A, B])
    assert [s.op for s in d.segments] == [EQUAL] and d.moved_words == 0
