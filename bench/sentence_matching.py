"""What the NewsEdits export spends per version: splitting an article into sentences, and matching the
sentences of two consecutive versions (monitor.compare.sentences).

    .venv/bin/python bench/sentence_matching.py                    # ~100-sentence articles, 50 rounds
    .venv/bin/python bench/sentence_matching.py --paragraphs 80 --json -

The article is tests/fakesite.py's (French, with statistics, quotations and intertitles): `--paragraphs`
(40) paragraphs make about 100 sentences. Three newer versions are matched against it: a few edits (one
sentence reworded, one added, one deleted, a paragraph moved), the same text, and a total rewrite (another
article: every sentence an addition or a deletion, the case with the most candidate pairs). Medians and
maxima over `--rounds` rounds, in milliseconds, single process. Splitting is timed cold (its paragraph
cache emptied): a version whose paragraphs the previous version had costs almost nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.compare.sentences import _split, article_sentences, match_sentences
from tests.fakesite import FakeArticle, make_article


def texts(article: FakeArticle) -> list[str]:
    return [s.text for s in article_sentences(article.title, article.lead, article.body)]


def split_cold(article: FakeArticle) -> None:
    """A version whose paragraphs were never split before: the export caches paragraphs it has split."""
    _split.cache_clear()
    article_sentences(article.title, article.lead, article.body)


def edited(sentences: list[str]) -> list[str]:
    new = list(sentences)
    new[10] = new[10].replace(" ", " désormais ", 1)
    new.insert(20, "Une cellule de crise a été ouverte à l'hôtel de ville.")
    del new[40]
    moved = new[60:64]
    del new[60:64]
    return [*new[:5], *moved, *new[5:]]


def timed(work: Callable[[], object], rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON (- for stdout)")
    args = parser.parse_args()
    article = make_article(431500, paragraphs=args.paragraphs)
    old = texts(article)
    rewrite = texts(make_article(431501, paragraphs=args.paragraphs))
    figures = {
        "sentences": len(old),
        "split": timed(lambda: split_cold(article), args.rounds),
        "match_few_edits": timed(lambda: match_sentences(old, edited(old)), args.rounds),
        "match_unchanged": timed(lambda: match_sentences(old, old), args.rounds),
        "match_rewrite": timed(lambda: match_sentences(old, rewrite), args.rounds),
    }
    for name, value in figures.items():
        print(f"{name:18} {value}")
    if args.json == "-":
        print(json.dumps(figures, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
