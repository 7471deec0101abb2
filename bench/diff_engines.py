"""Word-mode diffs of French text: pure-Python diff-match-patch vs fast-diff-match-patch (what newsmon uses).

    .venv/bin/pip install diff-match-patch          # the pure-Python engine, for this bench only
    .venv/bin/python bench/diff_engines.py          # 1,500 words / 4 edits and 20,000 words / 300 edits
    .venv/bin/python bench/diff_engines.py --repeat 7 --json -

Both engines get the very same input: the word -> character mapping of monitor/compare/words.py (each distinct
token, in its comparison form, becomes one character), then a diff and a semantic clean-up:

  fast-diff-match-patch   dmp.diff(a, b, timelimit=0, cleanup="Semantic")   as monitor/compare/words.py calls it
  diff-match-patch        diff_main(a, b, checklines=False) + diff_cleanupSemantic, with its default
                          Diff_Timeout = 1.0 s (and, once, with no time limit: --no-limit-runs)

Timed: the diff and clean-up alone (the mapping is shared and timed apart), medians of --repeat runs
taken in turn (A B A B ...); a run of a short text repeats the call for ~20 ms and gives the time per
call. Reported with each engine: the words it says were added and removed. "The edit script touched" is
words removed + words inserted by the edits: an exact diff reports about that many (a few more, as the
semantic clean-up folds short equal runs between two edits into the edit).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fast_diff_match_patch  # noqa: E402
from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path

from monitor.compare.words import DELETE, EQUAL, INSERT, Segment, _chars, count_words, to_segments, tokens  # noqa: E402
from tests.fakesite import EDITIONS, _paragraph, _sentence  # noqa: E402

try:
    from diff_match_patch import diff_match_patch
except ImportError:  # pragma: no cover - told to the user below
    diff_match_patch = None


# ---------------------------------------------------------------- texts

def french_text(words: int, seed: int) -> list[str]:
    """Paragraphs of French news prose (tests/fakesite.py's generator) adding up to about `words` words."""
    rng = random.Random(seed)
    editions = list(EDITIONS)
    paragraphs: list[str] = []
    total = 0
    while total < words:
        p = _paragraph(rng, rng.choice(editions), statistic=rng.random() < 0.2, quote=rng.random() < 0.3)
        paragraphs.append(p)
        total += word_count(p)
    return paragraphs


def word_count(text: str) -> int:
    return count_words([Segment(INSERT, text)], INSERT)


@dataclass
class Edited:
    old: list[str]
    new: list[str]
    edited_words: int  # words removed + words inserted by the edit script


def edit_text(paragraphs: list[str], edits: int, seed: int) -> Edited:
    """`edits` edits at random places, of four kinds in turn: one word replaced, a sentence rewritten, a
    sentence inserted, a sentence deleted (sentences of the same generator, so the vocabulary is shared)."""
    rng = random.Random(seed)
    sentences = [p.split(". ") for p in paragraphs]  # keeps the paragraph structure
    touched = 0
    places = rng.sample([(i, j) for i, p in enumerate(sentences) for j in range(len(p))], edits)
    # Edit from the end, so earlier places keep their indexes when a sentence is inserted or deleted.
    for k, (i, j) in sorted(enumerate(places), key=lambda e: e[1], reverse=True):
        kind = k % 4
        old = sentences[i][j]
        if kind == 0:
            words = old.split(" ")
            w = rng.randrange(len(words))
            replacement = rng.choice(["nouveau", "projet", "annonce", "gouvernement", "hausse", "mardi"])
            if words[w] == replacement:
                replacement += "s"
            words[w] = replacement
            sentences[i][j] = " ".join(words)
            touched += 2
        elif kind == 1:
            new = _sentence(rng, "cambodge").rstrip(".")
            sentences[i][j] = new
            touched += word_count(old) + word_count(new)
        elif kind == 2:
            new = _sentence(rng, "bangkok").rstrip(".")
            sentences[i].insert(j, new)
            touched += word_count(new)
        else:
            if len(sentences[i]) > 1:
                del sentences[i][j]
                touched += word_count(old)
            else:  # never empty a paragraph: replace a word instead
                sentences[i][j] = old.replace(" ", " de ", 1)
                touched += 1
    return Edited(paragraphs, [". ".join(s) for s in sentences], touched)


def block_tokens(blocks: list[str]) -> list[str]:
    """As monitor/compare/words.py does for the body: tokens of each block, a paragraph break between blocks."""
    out: list[str] = []
    for i, block in enumerate(blocks):
        if i:
            out.append("\n\n")
        out.extend(tokens(block))
    return out


# ---------------------------------------------------------------- engines

def fast_engine(a: str, b: str) -> list[tuple[str, int]]:
    return list(fast_diff_match_patch.diff(a, b, timelimit=0, cleanup="Semantic", counts_only=True))


def pure_engine(timeout: float):  # noqa: ANN201
    ops = {-1: DELETE, 0: EQUAL, 1: INSERT}

    def run(a: str, b: str) -> list[tuple[str, int]]:
        d = diff_match_patch()
        d.Diff_Timeout = timeout
        diffs = d.diff_main(a, b, checklines=False)
        d.diff_cleanupSemantic(diffs)
        return [(ops[op], len(text)) for op, text in diffs]

    return run


@dataclass
class Case:
    name: str
    words: int
    edits: int


def timed(engine, a: str, b: str, loops: int) -> tuple[float, list[tuple[str, int]]]:  # noqa: ANN001
    """Seconds per call, over `loops` calls (a short text takes well under a millisecond)."""
    t = time.perf_counter()
    for _ in range(loops):
        ops = engine(a, b)
    return (time.perf_counter() - t) / loops, ops


def loops_for(engine, a: str, b: str) -> int:  # noqa: ANN001
    """Enough calls for one timed run to last about 20 ms (1 when a single call already does)."""
    t = time.perf_counter()
    engine(a, b)
    one = time.perf_counter() - t
    return max(1, int(0.02 / max(one, 1e-7)))


def measure(case: Case, repeat: int, no_limit_runs: int, seed: int) -> dict:
    edited = edit_text(french_text(case.words, seed), case.edits, seed + 1)
    old, new = block_tokens(edited.old), block_tokens(edited.new)
    mapping = []
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        codes: dict[str, str] = {}
        a, b = _chars(old, codes), _chars(new, codes)
        mapping.append(time.perf_counter() - t)
    engines = {"fast-diff-match-patch": fast_engine, "diff-match-patch": pure_engine(1.0)}
    if no_limit_runs:
        engines["diff-match-patch, no time limit"] = pure_engine(0.0)
    runs = {"fast-diff-match-patch": repeat, "diff-match-patch": repeat,
            "diff-match-patch, no time limit": no_limit_runs}
    loops = {name: loops_for(engine, a, b) for name, engine in engines.items()}
    times: dict[str, list[float]] = {name: [] for name in engines}
    changed: dict[str, list[tuple[int, int]]] = {name: [] for name in engines}
    for k in range(max(runs.values())):
        for name, engine in engines.items():  # in turn: A B C A B C ...
            if k >= runs[name]:
                continue
            seconds, ops = timed(engine, a, b, loops[name])
            times[name].append(seconds)
            segs = to_segments(ops, old, new)
            changed[name].append((count_words(segs, INSERT), count_words(segs, DELETE)))
    out = {"case": case.name, "words": word_count(" ".join(edited.old)), "edits": case.edits,
           "edited_words": edited.edited_words, "tokens": len(old), "distinct_tokens": len(codes),
           "mapping_ms": statistics.median(mapping) * 1000, "engines": {}}
    for name in times:
        ms = [x * 1000 for x in times[name]]
        added = statistics.median(c[0] for c in changed[name])
        removed = statistics.median(c[1] for c in changed[name])
        out["engines"][name] = {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms),
                                "runs": len(ms), "calls_per_run": loops[name], "added_words": added,
                                "removed_words": removed, "changed_words": added + removed,
                                "changed_words_runs": sorted({a_ + r for a_, r in changed[name]})}
    fast, pure = out["engines"]["fast-diff-match-patch"], out["engines"]["diff-match-patch"]
    out["ratio_pure_over_fast"] = pure["median_ms"] / fast["median_ms"]
    out["ratio_per_run"] = sorted(p / f for p, f in zip(times["diff-match-patch"], times["fast-diff-match-patch"]))
    if "diff-match-patch, no time limit" in out["engines"]:
        out["ratio_nolimit_over_fast"] = out["engines"]["diff-match-patch, no time limit"]["median_ms"] / fast["median_ms"]
    return out


def print_results(results: list[dict]) -> None:
    print(f"word-mode diff, French text; medians [min–max] of the runs; Python {sys.version.split()[0]}\n")
    print(f"{'text':28}{'engine':34}{'time ms':>26}{'changed words (+/−)':>24}")
    for r in results:
        label = f"{r['words']:,} words, {r['edits']} edits"
        first = True
        for name, e in r["engines"].items():
            spread = f"{e['median_ms']:.1f} [{e['min_ms']:.1f}–{e['max_ms']:.1f}]"
            if e["runs"] == 1:
                spread = f"{e['median_ms']:.1f} (1 run)"
            if e["calls_per_run"] > 1:
                spread = f"{e['median_ms']:.2f} [{e['min_ms']:.2f}–{e['max_ms']:.2f}]"
            words = f"{e['changed_words']:,.0f} ({e['added_words']:,.0f}/{e['removed_words']:,.0f})"
            if len(e["changed_words_runs"]) > 1:
                words += f" varies: {e['changed_words_runs'][0]:,}–{e['changed_words_runs'][-1]:,}"
            print(f"{label if first else '':28}{name:34}{spread:>26}{words:>24}")
            first = False
        q = r["ratio_per_run"]
        print(f"{'':28}{'(the edit script touched)':34}{'':>26}{r['edited_words']:>24,}")
        print(f"{'':28}{'(word -> char mapping, shared)':34}{r['mapping_ms']:>26.1f}")
        ratios = f"time diff-match-patch / fast: {r['ratio_pure_over_fast']:.1f}× (per run {q[0]:.1f}–{q[-1]:.1f}×)"
        if "ratio_nolimit_over_fast" in r:
            ratios += f"; with no time limit: {r['ratio_nolimit_over_fast']:.0f}×"
        print(f"{'':28}{ratios}")
        print(f"{'':28}{r['tokens']:,} tokens, {r['distinct_tokens']:,} distinct\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each engine per text (5)")
    parser.add_argument("--no-limit-runs", type=int, default=3,
                        help="runs of pure-Python diff-match-patch with Diff_Timeout = 0 (3; 0 to skip)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE (- for stdout)")
    args = parser.parse_args()
    if diff_match_patch is None:
        raise SystemExit("pure-Python diff-match-patch is not installed: .venv/bin/pip install diff-match-patch")
    cases = [Case("short", 1500, 4), Case("long", 20000, 300)]
    results = [measure(c, args.repeat, args.no_limit_runs, args.seed) for c in cases]
    print_results(results)
    emit_json(results, args.json)


if __name__ == "__main__":
    main()
