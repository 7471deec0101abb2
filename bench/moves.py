"""What finding moved text costs: the word diff of a body alone, and with moves marked (monitor/compare/moves.py).

    .venv/bin/python bench/moves.py             # a 100-paragraph French body (tests/fakesite.py's prose)
    .venv/bin/python bench/moves.py --repeat 9 --json -

Cases: one paragraph moved, ten paragraphs edited in place (no move to find), every paragraph shuffled, every
paragraph replaced by new prose (the generator's small vocabulary repeats runs of 8 words: some are found
moved). Best of --repeat runs, in milliseconds, with the words each diff counts added, removed and moved.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path

from monitor.compare.diffing import diff_field  # noqa: E402
from monitor.compare.words import block_tokens, diff_tokens  # noqa: E402
from tests.fakesite import _paragraph  # noqa: E402


def best_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE (- for stdout)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    body = [_paragraph(rng, "cambodge", statistic=rng.random() < .2, quote=rng.random() < .3) for _ in range(100)]
    shuffled = body[:]
    rng.shuffle(shuffled)
    cases = {"1 of 100 paragraphs moved": body[1:] + body[:1],
             "10 of 100 edited in place": [p.replace(" le ", " la ", 1) if i % 10 == 0 else p
                                           for i, p in enumerate(body)],
             "100 shuffled": shuffled,
             "100 replaced": [_paragraph(rng, "bangkok") for _ in body]}
    print(f"body: {len(body)} paragraphs, {sum(len(p.split()) for p in body):,} words; best of {args.repeat}")
    results = []
    for name, new in cases.items():
        plain = best_ms(lambda new=new: diff_tokens(block_tokens(body), block_tokens(new)), args.repeat)
        marked = best_ms(lambda new=new: diff_field("body", body, new), args.repeat)
        d = diff_field("body", body, new)
        print(f"{name:28} word diff {plain:6.1f} ms · with moves {marked:6.1f} ms · "
              f"+{d.added_words} -{d.removed_words} moved {d.moved_words}")
        results.append({"case": name, "word_diff_ms": plain, "with_moves_ms": marked, "added_words": d.added_words,
                        "removed_words": d.removed_words, "moved_words": d.moved_words})
    emit_json(results, args.json)


if __name__ == "__main__":
    main()
