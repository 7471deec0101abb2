"""Storage: bytes per stored version and per check after a crawl of the newsroom simulator, before/after.

    .venv/bin/python bench/storage.py                                  # working tree, SQLite and PostgreSQL
    .venv/bin/python bench/storage.py --baseline /tmp/newsmon-before   # + an older tree, side by side
    .venv/bin/python bench/storage.py --backend sqlite --articles 120 --phases 3 --json -

A tree to compare with: `mkdir /tmp/newsmon-before && git archive HEAD~1 monitor spiders scrapy.cfg | tar -x -C
/tmp/newsmon-before` (any folder holding monitor/ and spiders/).

It needs the newsroom simulator, ../shared/newsroom beside the repository (its README says how it serves a
site that edits its articles phase by phase). Without it, this script says so and exits 0.

What it does, per tree and backend: `python3 ../shared/newsroom/evaluate.py --articles 300 --phases 5` with
that tree's newsmon (`python -m monitor`, the tree first on PYTHONPATH) on a fresh database (a SQLite file;
a PostgreSQL database created for the run and dropped after it): a first crawl, then after each phase a crawl
of every article (`--all`), as the simulator's own evaluation runs. Then, read with plain SQL (the database
is never opened by newsmon, which would migrate an older tree's schema):

- bytes per version: the `versions` table with its indexes (and, after 0007, `page_dictionaries`), divided by
  its rows; on SQLite from `dbstat` (pages, free space within them included), on PostgreSQL the main fork of
  the table, of its TOAST table and of every index (FSM and VM forks left out: a few fixed pages per table);
- bytes per check: the same for `checks`;
- on PostgreSQL both after `VACUUM FULL` (the rows alive) and as the crawls left the database (with the old
  copies of updated rows a vacuum has not reclaimed yet);
- the average compressed page, and the evaluation's scores (what was stored still says every edit);
- bytes per unchanged check: on a copy of the database as the evaluation left it, the simulator is started
  again on the same port (the articles' URLs name it) and brought to its last phase, and `--extra-crawls`
  (3) more `newsmon crawl --all` check every article, finding nothing new; the growth of the `checks` table
  (indexes included, as above) divided by the checks they added. On PostgreSQL as the crawls left it, and
  after `VACUUM FULL` of both databases (the growth of the rows alive).

Checks are counted as checks, not rows: since migration 0008 a row may hold a run of unchanged checks.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from jsonout import emit_json  # bench/ is the script's own folder on sys.path
from workfolder import work_folder

ROOT = Path(__file__).resolve().parents[1]
NEWSROOM = ROOT.parent / "shared" / "newsroom"
PG_ADMIN = os.environ.get("NEWSMON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def crawl(tree: Path, db: str, args: argparse.Namespace) -> dict[str, Any]:
    """The simulator's evaluation with this tree's newsmon on `db`: its scores."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, str(NEWSROOM / "evaluate.py"), "--articles", str(args.articles),
                           "--phases", str(args.phases), "--seed", str(args.seed), "--theme", args.theme,
                           "--newsmon", f"{sys.executable} -m monitor", "--db", db, "--json"],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"evaluate.py failed with {tree}: {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return json.loads(proc.stdout[:proc.stdout.rindex("}") + 1])


def crawl_again(tree: Path, db: str, base_url: str, args: argparse.Namespace) -> None:
    """`--extra-crawls` crawls of every article once the simulator's phases are done: nothing changes. The
    simulator is started again where the evaluation had it (its port, its last phase: its edits are seeded)."""
    port = base_url.rsplit(":", 1)[1].strip("/")
    sim = subprocess.Popen([sys.executable, str(NEWSROOM / "newsroom.py"), "serve", "--port", port, "--seed",
                            str(args.seed), "--articles", str(args.articles), "--theme", args.theme],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_simulator(base_url, sim)
        for _ in range(args.phases):
            urllib.request.urlopen(urllib.request.Request(base_url + "/_sim/advance", data=b"", method="POST"),
                                   timeout=30).close()
        env = {**os.environ, "PYTHONPATH": str(tree), "NEWSMON_DB": db}
        env.pop("CI", None)
        for _ in range(args.extra_crawls):
            proc = subprocess.run([sys.executable, "-m", "monitor", "crawl", "lepetitjournal", "--base-url", base_url,
                                   "--all"], cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise SystemExit(f"an extra crawl failed with {tree}: {proc.stderr[-800:]}")
    finally:
        sim.terminate()
        sim.wait(10)


def _wait_for_simulator(base_url: str, sim: subprocess.Popen) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(base_url + "/_sim/state", timeout=5).close()
            return
        except OSError:
            if sim.poll() is not None:
                raise SystemExit(f"the simulator did not start again on {base_url}") from None
            time.sleep(0.05)
    raise SystemExit(f"the simulator did not answer on {base_url}")


def unchanged_growth(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the extra crawls added to the checks table, per check they added."""
    added = after["checks"] - before["checks"]
    grown = after["tables"].get("checks", 0) - before["tables"].get("checks", 0)
    return {"checks": added, "unchanged": after["unchanged_checks"] - before["unchanged_checks"],
            "bytes": grown, "per_check": round(grown / added, 1) if added else None}


def sqlite_sizes(path: Path) -> dict[str, Any]:
    with sqlite3.connect(path) as conn:
        sizes = dict(conn.execute("SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                                  "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1"))
        runs = conn.execute("SELECT count(*) FROM pragma_table_info('checks') WHERE name = 'repeats'").fetchone()[0]
        return measured(sizes, conn.execute(figures(bool(runs))).fetchone())


def sqlite_base_url(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT base_url FROM sites").fetchone()[0]


def postgres_sizes(url: str) -> dict[str, Any]:
    """As the crawls left the database, and after VACUUM FULL: PostgreSQL keeps the old copy of every row
    updated (articles at each check, the pages a site's first dictionary takes over) until a vacuum, and
    the files never shrink without VACUUM FULL."""
    import psycopg

    left = _postgres_sizes(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM FULL")
    return {**_postgres_sizes(url), "as_left": left}


def _postgres_sizes(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                            "AND table_name = 'checks' AND column_name = 'repeats'").fetchone()[0]
        sizes = dict(conn.execute(
            "SELECT c.relname, pg_relation_size(c.oid) + coalesce(pg_relation_size(c.reltoastrelid), 0) "
            "+ coalesce((SELECT sum(pg_relation_size(t.indexrelid)) FROM pg_index t WHERE t.indrelid = c.reltoastrelid), 0) "
            "+ coalesce((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i WHERE i.indrelid = c.oid), 0) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'").fetchall())
        return measured(sizes, conn.execute(figures(bool(runs)).replace("length(", "octet_length(")).fetchone())


def figures(runs: bool) -> str:
    """Versions, checks, unchanged checks, average compressed page and page as fetched. A row of checks holds
    1 + repeats checks since migration 0008, one before."""
    checks = "1 + repeats" if runs else "1"
    return (f"SELECT (SELECT count(*) FROM versions), (SELECT coalesce(sum({checks}), 0) FROM checks), "
            f"(SELECT coalesce(sum({checks}), 0) FROM checks WHERE outcome = 'unchanged'), "
            "(SELECT avg(length(raw_html)) FROM versions), (SELECT avg(raw_size) FROM versions)")


def measured(sizes: dict[str, int], figures: tuple) -> dict[str, Any]:
    versions, checks, unchanged, page, raw = (int(v) if isinstance(v, int | Decimal) else v for v in figures)
    version_bytes = int(sizes.get("versions", 0)) + int(sizes.get("page_dictionaries", 0))
    return {"versions": versions, "checks": checks, "unchanged_checks": unchanged,
            "bytes_per_version": round(version_bytes / versions, 1) if versions else None,
            "bytes_per_check": round(int(sizes.get("checks", 0)) / checks, 1) if checks else None,
            "page_bytes": round(float(page or 0), 1), "page_as_fetched": round(float(raw or 0), 1),
            "tables": {k: int(v) for k, v in sorted(sizes.items())}}


def run_one(tree: Path, backend: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    if backend == "sqlite":
        path = work / f"{tree.name}-{uuid.uuid4().hex[:6]}.db"
        scores = crawl(tree, f"sqlite:///{path}", args)
        again = path.with_name(f"{path.stem}-again.db")
        shutil.copyfile(path, again)   # the crawls' processes have closed it: no -wal file is left
        before = sqlite_sizes(again)
        crawl_again(tree, f"sqlite:///{again}", sqlite_base_url(again), args)
        return {"scores": scores, **sqlite_sizes(path), "unchanged": unchanged_growth(before, sqlite_sizes(again))}
    import psycopg

    name = f"newsmon_storage_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    again_url = f"{url}_again"
    try:
        scores = crawl(tree, url.replace("postgresql://", "postgresql+psycopg://"), args)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:   # a copy of the files, as the crawls left them
            conn.execute(f'CREATE DATABASE "{name}_again" TEMPLATE "{name}"')
        sizes = postgres_sizes(url)
        before = _postgres_sizes(again_url)
        with psycopg.connect(again_url) as conn:
            base_url = conn.execute("SELECT base_url FROM sites").fetchone()[0]
        crawl_again(tree, again_url.replace("postgresql://", "postgresql+psycopg://"), base_url, args)
        after = postgres_sizes(again_url)
        return {"scores": scores, **sizes, "unchanged": {**unchanged_growth(before, after["as_left"]),
                                                         "vacuumed": unchanged_growth(sizes, after)}}
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for db in (name, f"{name}_again"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any reason means: measure SQLite only
        return False


ROWS = (("bytes per version", "bytes_per_version", "{:,.0f}"), ("bytes per check", "bytes_per_check", "{:,.0f}"),
        ("  before VACUUM FULL", None, ""),
        ("compressed page (avg)", "page_bytes", "{:,.0f}"), ("page as fetched (avg)", "page_as_fetched", "{:,.0f}"),
        ("versions", "versions", "{:,}"), ("checks (unchanged)", None, ""), ("recall / precision", None, ""),
        ("bytes per unchanged check", None, ""), ("  rows alive (VACUUM FULL)", None, ""),
        ("extra checks (unchanged)", None, ""))
POSTGRES_ONLY = {"  before VACUUM FULL", "  rows alive (VACUUM FULL)"}


def cell(result: dict[str, Any], key: str | None, label: str, fmt: str) -> str:
    if key:
        return fmt.format(result[key]) if result[key] is not None else "-"
    if label.startswith("  before"):
        left = result.get("as_left")
        return f"{left['bytes_per_version']:,.0f} / {left['bytes_per_check']:,.0f}" if left else "-"
    if label.startswith("checks"):
        return f"{result['checks']:,} ({result['unchanged_checks']:,})"
    growth = result["unchanged"]
    if label.startswith("bytes per unchanged"):
        return f"{growth['per_check']:,.1f}" if growth["per_check"] is not None else "-"
    if label.startswith("  rows alive"):
        return f"{growth['vacuumed']['per_check']:,.1f}" if growth["vacuumed"]["per_check"] is not None else "-"
    if label.startswith("extra checks"):
        return f"{growth['checks']:,} ({growth['unchanged']:,})"
    s = result["scores"]
    return f"{s['recall']:.1%} / {s['precision']:.1%}"


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> None:
    trees = list(results)
    print(f"\nstorage after a crawl of the newsroom simulator: {args.articles} articles, {args.phases} phases, "
          f"{args.theme} theme, seed {args.seed}")
    print(f"{'':10}{'':24}" + "".join(f"{t:>22}" for t in trees))
    for backend in args.backends:
        for label, key, fmt in ROWS if backend == "postgres" else [r for r in ROWS if r[0] not in POSTGRES_ONLY]:
            print(f"{backend if label == ROWS[0][0] else '':10}{label:24}"
                  + "".join(f"{cell(results[t][backend], key, label, fmt):>22}" for t in trees))
        print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--theme", default="classic", choices=["classic", "modern"])
    parser.add_argument("--extra-crawls", type=int, default=3, help="crawls of every article once nothing changes "
                        "any more, for the bytes per unchanged check (default: 3)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both",
                        help="both: PostgreSQL too when a server answers at $NEWSMON_TEST_PG (default: 127.0.0.1)")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="an older tree (monitor/, spiders/) to compare")
    parser.add_argument("--tree", type=Path, metavar="DIR", help="the tree to measure instead of the working tree "
                        "(one that others are editing meanwhile, say: a copy of it)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE (- for stdout)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (SQLite databases)")
    args = parser.parse_args()
    if not (NEWSROOM / "evaluate.py").exists():
        print(f"bench/storage.py needs the newsroom simulator at {NEWSROOM} (../shared/newsroom): not found, "
              "nothing measured")
        return 0
    args.backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in args.backends and not postgres_reachable():
        if args.backend == "postgres":
            raise SystemExit(f"no PostgreSQL server at {PG_ADMIN}")
        print(f"no PostgreSQL server at {PG_ADMIN}: SQLite only", file=sys.stderr)
        args.backends = ["sqlite"]
    trees = {**({f"baseline ({args.baseline.name})": args.baseline.resolve()} if args.baseline else {}),
             **({f"tree ({args.tree.name})": args.tree.resolve()} if args.tree else {"working tree": ROOT})}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with work_folder("newsmon-storage-", args.keep) as work:
        for label, tree in trees.items():
            for backend in args.backends:
                print(f"  {label}: {backend}...", file=sys.stderr)
                results.setdefault(label, {})[backend] = run_one(tree, backend, work, args)
    report(results, args)
    emit_json({"articles": args.articles, "phases": args.phases, "seed": args.seed, "theme": args.theme,
               "results": results}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
