"""Reverts and flip-flops: an article that goes back to a text it had before. Pure.

- A version **reverts** to an earlier version when its text, compared as newsmon compares text (its
  `text_hash`), is that version's, and that version is not the one just before it (a change of the declared
  dates alone keeps the text, and reverts nothing). It names the latest such version.
- A **headline flip-flop** is an article whose title goes back and forth between the same two titles, A -> B
  -> A (-> B...): at least two changes of title, each back to the title before the last. It is shown as one
  A/B pattern with the number of title changes in it, not as that many edits.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.compare.normalize import comparison_form


def reverts(text_hashes: Sequence[str]) -> list[int | None]:
    """For each version of an article (its text hashes in order, versions numbered from 1): the number of
    the earlier version whose text it brings back, or None."""
    latest: dict[str, int] = {}
    out: list[int | None] = []
    for number, text_hash in enumerate(text_hashes, start=1):
        same_as_before = number > 1 and text_hashes[number - 2] == text_hash
        out.append(None if same_as_before else latest.get(text_hash))
        latest[text_hash] = number
    return out


@dataclass(frozen=True, slots=True)
class FlipFlop:
    titles: tuple[str, str]     # A and B, as first published
    changes: int                # changes of title within the pattern (A -> B -> A is 2)
    versions: tuple[int, ...]   # the versions whose title changed within it

    def as_json(self) -> dict:
        return {"titles": list(self.titles), "changes": self.changes, "versions": list(self.versions)}


def headline_flips(titles: Sequence[str]) -> list[FlipFlop]:
    """The A/B patterns of an article's titles (one per version, in order), oldest first."""
    # Each version where the title changed (compared as newsmon compares text): (number, form, title).
    runs: list[tuple[int, str, str]] = []
    for number, title in enumerate(titles, start=1):
        form = comparison_form(title)
        if not runs or runs[-1][1] != form:
            runs.append((number, form, title))
    flips: list[FlipFlop] = []
    start = 0
    while start + 2 < len(runs):
        end = start + 2
        while end < len(runs) and runs[end][1] == runs[end - 2][1]:
            end += 1
        if end - start < 3:
            start += 1
            continue
        flips.append(FlipFlop((runs[start][2], runs[start + 1][2]), end - start - 1,
                              tuple(number for number, _, _ in runs[start + 1:end])))
        start = end - 1   # its last title may begin another pattern
    return flips
