"""Distributed mode: how many planned visits per job. Visits per second of a planner and two workers, and the
planner's time to queue them, for a few batch sizes (NEWSMON_VISIT_BATCH), on PostgreSQL.

    .venv/bin/python bench/distributed_batches.py                       # 600 articles; batches 1, 5, 20
    .venv/bin/python bench/distributed_batches.py --articles 300 --batches 1,20 --json -

For each batch size: a fresh database gets one first crawl of a local site (tests/fakesite.py, noise off,
no latency: the crawl is CPU-bound); every article is then made due at once, and `newsmon daemon
--distributed` (its batch size patched) plans them for two `newsmon worker` processes. Visits per second =
visits recorded / (last visit's check time - first one's). The site has 8 lanes (its politeness
concurrency), so every worker job slot has a lane.
"""
from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from distributed_scale import ADMIN, CONFIG, PLANNED, db_url, make_due, psql  # bench/ is on sys.path
from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path
from workfolder import work_folder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PATCHED = ("import sys, monitor.settings as s; s.NEWSMON_VISIT_BATCH = int(sys.argv[1]); "
           "from monitor.cli import main; sys.exit(main(sys.argv[2:]))")
LANES = 8


def run_one(batch: int, articles: int, workers: int, concurrency: int, base_url: str, work: Path) -> dict[str, Any]:
    name = f"newsmon_bench_{uuid.uuid4().hex[:10]}"
    psql(ADMIN, f'CREATE DATABASE "{name}"')
    db_admin = db_url(name)
    env = {"NEWSMON_DB": db_admin.replace("postgresql://", "postgresql+psycopg://"), "PATH": "/usr/bin:/bin"}
    config = work / "bench.toml"
    config.write_text(CONFIG.format(base_url=base_url, lanes=LANES), encoding="utf-8")
    python = [sys.executable, "-m", "monitor"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([*python, "crawl", "lepetitjournal", "--config", str(config)], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        make_due(db_admin)
        for n in range(workers):
            procs.append(subprocess.Popen([*python, "worker", "--config", str(config), "--concurrency",
                                           str(concurrency), "--log-file", str(work / f"worker{n}.log")],
                                          env=env, cwd=ROOT))
        planner_log = work / f"planner-{batch}.log"
        procs.append(subprocess.Popen([sys.executable, "-c", PATCHED, str(batch), "daemon", "--distributed",
                                       "--config", str(config), "--log-file", str(planner_log)], env=env, cwd=ROOT))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            time.sleep(0.5)
            (done,) = psql(db_admin, "SELECT count(*) FROM checks WHERE visit_key IS NOT NULL")[0]
            if done >= articles:
                break
        (first, last, done), = psql(db_admin, "SELECT min(checked_at), max(checked_at), count(*) FROM checks "
                                              "WHERE visit_key IS NOT NULL")
        span = (last - first).total_seconds()
        planned = [m.groups() for m in PLANNED.finditer(planner_log.read_text(encoding="utf-8"))]
        jobs = sum(int(j) for _, j, _ in planned)
        return {"batch": batch, "visits": done, "jobs": jobs, "seconds": round(span, 2),
                "visits_per_s": round(done / span, 1) if span else None,
                "planning_s": round(max((float(s) for *_, s in planned), default=0.0), 3),
                "planned_per_s": round(max((int(v) / float(s) for v, _, s in planned if float(s)), default=0.0))}
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql(ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--batches", default="1,5,20", help="batch sizes, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker")
    parser.add_argument("--repeat", type=int, default=1, help="runs per batch size (the median is shown)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON (- for stdout)")
    args = parser.parse_args()
    from tests.fakesite import EDITIONS, FakeSite, make_article

    site = FakeSite(noise=False, editions=tuple(EDITIONS))
    for i in range(args.articles):
        site.add(make_article(431000 + i, tuple(EDITIONS)[i % len(EDITIONS)]))
    results = []
    with site, work_folder("newsmon-distributed-", args.keep) as work:
        for batch in (int(b) for b in args.batches.split(",")):
            runs = [run_one(batch, args.articles, args.workers, args.concurrency, site.base_url, work)
                    for _ in range(args.repeat)]
            best = sorted(runs, key=lambda r: r["visits_per_s"] or 0)[len(runs) // 2]
            best["visits_per_s_all"] = [r["visits_per_s"] for r in runs]
            results.append(best)
            print(f"batch {batch:>3}: {best['visits']} visits in {best['jobs']} jobs, {best['visits_per_s']} visits/s "
                  f"(runs: {best['visits_per_s_all']}); planner queued them in {best['planning_s']} s "
                  f"({best['planned_per_s']} visits/s)", flush=True)
    if args.json:
        emit_json({"articles": args.articles, "workers": args.workers, "concurrency": args.concurrency,
                              "median_visits_per_s": statistics.median(r["visits_per_s"] or 0 for r in results),
                              "results": results}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
