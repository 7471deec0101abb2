"""Reverts and headline flip-flops, by their rules on plain values."""
from __future__ import annotations

from monitor.compare.reverts import FlipFlop, headline_flips, reverts


def test_a_version_back_to_an_earlier_text_reverts_to_it() -> None:
    assert reverts(["a", "b", "a"]) == [None, None, 1]
    assert reverts(["a", "b", "a", "b"]) == [None, None, 1, 2]
    # The latest earlier version with that text; a change of dates alone (the same text) reverts nothing.
    assert reverts(["a", "b", "a", "c", "a", "a"]) == [None, None, 1, None, 3, None]
    assert reverts(["a", "b", "c"]) == [None, None, None]


def test_a_headline_going_back_and_forth_is_one_pattern_with_its_count() -> None:
    assert headline_flips(["A", "B", "A", "B"]) == [FlipFlop(("A", "B"), 3, (2, 3, 4))]
    # Versions whose title did not change (a body edit) are not title changes; typography is no change.
    assert headline_flips(["A", "A", "B", "B", "A"]) == [FlipFlop(("A", "B"), 2, (3, 5))]
    assert headline_flips(["L’été", "B", "L'été"]) == [FlipFlop(("L’été", "B"), 2, (2, 3))]


def test_other_title_changes_are_no_flip_flop() -> None:
    assert headline_flips(["A", "B", "C", "D"]) == []
    assert headline_flips(["A", "B"]) == []
    assert headline_flips(["A", "B", "A", "C", "A", "C"]) == [FlipFlop(("A", "B"), 2, (2, 3)),
                                                              FlipFlop(("A", "C"), 3, (4, 5, 6))]
