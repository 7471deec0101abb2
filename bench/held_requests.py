"""Held requests: does a page waiting for its confirmation hold up the rest of a crawl?

    .venv/bin/python bench/held_requests.py                                 # the working tree, 3 rounds (~1 min)
    .venv/bin/python bench/held_requests.py --baseline /tmp/newsmon-before  # + an older tree, rounds alternating
    .venv/bin/python bench/held_requests.py --confirm-delay 5 --repeat 5 --json -

A tree to compare with: `mkdir /tmp/newsmon-before && git archive HEAD monitor spiders | tar -x -C
/tmp/newsmon-before` (any folder holding monitor/ and spiders/; the site is always this tree's tests/fakesite.py).

What it does:

1. Starts a FakeSite (tests/fakesite.py) in this process: noise off, `--healthy` (50) articles and
   `--suspicious` (2) more, every answer slowed by `--latency` (50 ms, a network's worth), over two editions.
2. For each code tree, a first crawl (`newsmon crawl lepetitjournal --base-url URL`, in a child process with
   that tree first on PYTHONPATH) stores every article in a template database.
3. The suspicious articles then lose all their paragraphs but one (over 40 % of their words, as in
   tests/test_faults.py's large-removal test): newsmon holds such a fetch back and fetches the page again
   `confirm_delay` later.
4. Each round, for each tree in turn (the order alternates): a copy of its template, and the re-check
   `newsmon crawl lepetitjournal --config CFG --all --no-discovery`, where CFG sets
   `[sites.lepetitjournal] confirm_delay` (2 s) and `[sites.lepetitjournal.politeness] concurrency = 2`,
   `download_delay = "0s"`.

Figures per run, the server's side from its request log (time.monotonic() of each request's arrival and
answer), counted from the first article request the re-check sent:
- *healthy done*: when the last healthy page had been answered: how long the healthy pages waited;
- *stall*: the longest span with no article request in flight at the server while healthy pages were
  still to be fetched (the crawl held up by nothing but itself);
- *confirm gap*: from a suspicious page's first answer to its second fetch (at least confirm_delay);
- *crawl s*: the crawl's own seconds (its summary line); *wall s*: the whole process;
- *in flight*: the most requests the server ever had at once (the concurrency limit holds: at most 2).
Printed: medians [min-max] per tree and, with --baseline, the per-round ratios baseline / working tree.
Each run checks its counts (N unchanged, K changed, no error); a run that fails is reported and left out.
"""
from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jsonout import emit_json  # bench/ is the script's own folder on sys.path
from workfolder import work_folder

from tests.fakesite import FakeSite, RequestLog, make_article

FIRST_ID = 433000
CONFIG = """\
[sites.lepetitjournal]
base_url = "{base_url}"
confirm_delay = "{confirm_delay}s"

[sites.lepetitjournal.politeness]
concurrency = {concurrency}
download_delay = "0s"
"""
COUNTS = re.compile(r"([a-z][a-z ]*?) (\d+)(?= ·)")
SECONDS = re.compile(r" in ([\d.]+) s$", re.MULTILINE)


@dataclass
class Run:
    tree: str
    round: int
    wall: float
    crawl: float                # the summary's seconds
    healthy_done: float         # last healthy answer, from the first article request
    stall: float                # longest span with no article request in flight, healthy pages left
    confirm_gaps: list[float]   # per suspicious article: first answer -> second arrival
    in_flight: int              # the server's most requests at once
    counts: dict[str, int] = field(default_factory=dict)
    invalid: str = ""


# ---------------------------------------------------------------------- the site

def start_site(healthy: int, suspicious: int, latency: float) -> tuple[FakeSite, list[int]]:
    """The fake site with every article published; returns the ids of the suspicious ones (not yet edited)."""
    site = FakeSite(noise=False)
    for i in range(healthy + suspicious):
        site.add(make_article(FIRST_ID + i, "cambodge" if i % 2 else "bangkok", paragraphs=6))
    site.latency = latency
    site.start()
    # Spread among the healthy ones, so that some are due before and some after them.
    step = max(1, (healthy + suspicious) // max(1, suspicious))
    return site, [FIRST_ID + step // 2 + k * step for k in range(suspicious)]


def cut_to_one_paragraph(site: FakeSite, article_id: int) -> None:
    """Over 40 % of the body's words gone: the re-check holds the fetch back and confirms it."""
    article = site.article(article_id)
    first = next(b for b in article.blocks if b.kind == "p")
    site.edit(article_id, blocks=[b for b in article.blocks if b.kind != "p" or b is first])


# ---------------------------------------------------------------------- running newsmon

def child_env(code: Path, work: Path, db: Path) -> dict[str, str]:
    """The code tree first on the path; a private config and data folder; the database to use."""
    path = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "NEWSMON_DB": f"sqlite:///{db}",
            "XDG_CONFIG_HOME": str(work / "xdg-config"), "XDG_DATA_HOME": str(work / "xdg-data")}


def newsmon(code: Path, work: Path, db: Path, *args: str) -> tuple[float, str]:
    """`python -m monitor ARGS` run from `code`: wall seconds and stdout."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "monitor", *args], cwd=code, env=child_env(code, work, db),
                          capture_output=True, text=True, timeout=600, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"newsmon {' '.join(args)} exited {proc.returncode} in {code}:\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def make_template(code: Path, work: Path, site: FakeSite, name: str) -> Path:
    db = work / f"template-{name}.db"
    newsmon(code, work, db, "crawl", "lepetitjournal", "--base-url", site.base_url)
    with sqlite3.connect(db) as conn:  # one file to copy: the WAL folded in
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


# ---------------------------------------------------------------------- the server's view

def in_flight_spans(logs: list[RequestLog]) -> list[tuple[float, float]]:
    """The request log's [arrival, answer] intervals merged: when the server had work."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted((r.time, r.end) for r in logs):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def longest_stall(logs: list[RequestLog], until: float) -> float:
    """The longest span before `until` with no request in flight: the crawl waiting on nothing but itself."""
    spans = in_flight_spans([r for r in logs if r.time < until])
    return max((min(b[0], until) - a[1] for a, b in itertools.pairwise(spans)), default=0.0)


def server_figures(logs: list[RequestLog], suspicious: set[str]) -> dict[str, Any]:
    articles = [r for r in logs if r.path != "/robots.txt"]
    t0 = min(r.time for r in articles)
    last_healthy = max(r.end for r in articles if r.path not in suspicious)
    gaps = []
    for path in sorted(suspicious):
        tries = sorted((r for r in articles if r.path == path), key=lambda r: r.time)
        if len(tries) >= 2:
            gaps.append(tries[1].time - tries[0].end)
    return {"healthy_done": last_healthy - t0, "stall": longest_stall(articles, last_healthy), "confirm_gaps": gaps}


def recheck(tree: str, code: Path, template: Path, work: Path, config: Path, site: FakeSite,
            suspicious: set[str], expected: dict[str, int], rnd: int) -> Run:
    db = work / f"recheck-{tree}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, db)
    before = len(site.requests)
    site.max_concurrency = 0
    wall, out = newsmon(code, work, db, "crawl", "lepetitjournal", "--config", str(config), "--all",
                        "--no-discovery")
    counts = {m[1]: int(m[2]) for m in COUNTS.finditer(out)}
    seconds = SECONDS.search(out)
    wrong = {k: counts.get(k) for k, v in expected.items() if counts.get(k) != v}
    invalid = f"expected {expected}, got {counts}" if wrong or not seconds else ""
    figures = server_figures(site.requests[before:], suspicious)
    return Run(tree, rnd, wall, float(seconds[1]) if seconds else float("nan"), in_flight=site.max_concurrency,
               counts=counts, invalid=invalid, **figures)


# ---------------------------------------------------------------------- reporting

def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):6.2f} [{min(values):.2f}-{max(values):.2f}]"


def report(runs: list[Run], trees: list[str], confirm_delay: float) -> dict[str, Any]:
    print(f"\nre-check, medians [min-max] in seconds (confirm_delay {confirm_delay:g} s):")
    print(f"    {'tree':10}{'crawl s':>22}{'wall s':>22}{'healthy done':>22}{'stall':>22}{'confirm gap':>22}"
          f"{'in flight':>10}")
    out: dict[str, Any] = {}
    for tree in trees:
        ok = [r for r in runs if r.tree == tree and not r.invalid]
        gaps = [g for r in ok for g in r.confirm_gaps]
        row = {k: [getattr(r, k) for r in ok] for k in ("crawl", "wall", "healthy_done", "stall")}
        print(f"    {tree:10}{spread(row['crawl']):>22}{spread(row['wall']):>22}{spread(row['healthy_done']):>22}"
              f"{spread(row['stall']):>22}{spread(gaps):>22}{max((r.in_flight for r in ok), default=0):>10}")
        out[tree] = {k: statistics.median(v) for k, v in row.items() if v}
    if "baseline" in trees:
        print("\nper round, baseline / working tree:")
        for what in ("crawl", "healthy_done"):
            ratios = ratios_per_round(runs, what)
            print(f"    {what:14}{spread(ratios)}")
            out[f"ratio_{what}"] = ratios
    return out


def ratios_per_round(runs: list[Run], what: str) -> list[float]:
    by = {(r.tree, r.round): getattr(r, what) for r in runs if not r.invalid}
    rounds = sorted({r.round for r in runs})
    return [by[("baseline", n)] / by[("working", n)] for n in rounds
            if ("baseline", n) in by and ("working", n) in by and by[("working", n)]]


# ---------------------------------------------------------------------- main

def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    trees = {"working": ROOT} | ({"baseline": Path(args.baseline).resolve()} if args.baseline else {})
    site, suspicious_ids = start_site(args.healthy, args.suspicious, args.latency)
    try:
        config = work / "site.toml"
        config.write_text(CONFIG.format(base_url=site.base_url, confirm_delay=args.confirm_delay,
                                        concurrency=args.concurrency))
        templates = {name: make_template(code, work, site, name) for name, code in trees.items()}
        for article_id in suspicious_ids:
            cut_to_one_paragraph(site, article_id)
        suspicious = {site.article(i).url for i in suspicious_ids}
        expected = {"checked": args.healthy + args.suspicious, "unchanged": args.healthy,
                    "changed": args.suspicious, "errors": 0}
        runs = []
        for rnd in range(args.repeat):
            order = list(trees) if rnd % 2 == 0 else list(reversed(trees))
            for name in order:
                r = recheck(name, trees[name], templates[name], work, config, site, suspicious, expected, rnd)
                print(f"  round {rnd + 1} {name:9} crawl {r.crawl:5.2f} s  wall {r.wall:5.2f} s  healthy done "
                      f"{r.healthy_done:5.2f} s  stall {r.stall:5.2f} s  confirm gaps "
                      f"{', '.join(f'{g:.2f}' for g in r.confirm_gaps)} s  in flight {r.in_flight}", file=sys.stderr)
                if r.invalid:
                    print(f"  WARNING: this run does not count: {r.invalid}", file=sys.stderr)
                runs.append(r)
    finally:
        site.stop()
    medians = report(runs, list(trees), args.confirm_delay)
    return {"settings": {k: v for k, v in vars(args).items() if k != "json"},
            "trees": {k: str(v) for k, v in trees.items()}, "medians": medians, "runs": [asdict(r) for r in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="DIR", help="also run this code tree (a folder with monitor/, spiders/)")
    parser.add_argument("--healthy", type=int, default=50, help="articles that re-check unchanged (50)")
    parser.add_argument("--suspicious", type=int, default=2, help="articles that lose most of their body (2)")
    parser.add_argument("--confirm-delay", type=float, default=2.0, help="seconds, the site's confirm_delay (2)")
    parser.add_argument("--concurrency", type=int, default=2, help="the site's politeness concurrency (2)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every answer (0.05)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per tree (3)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE ('-': stdout)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (databases, config)")
    args = parser.parse_args()
    with work_folder("newsmon-held-requests-", args.keep) as work:
        result = run(args, work)
    emit_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
