"""Distributed mode: two workers against one on the same work, and the planner's enqueuing rate.

    .venv/bin/python bench/distributed_scale.py                         # 2000 articles, rounds 1,2,2,1,1,2
    .venv/bin/python bench/distributed_scale.py --articles 1000 --rounds 1,2 --json -

Needs the PostgreSQL server on 127.0.0.1:5432 (it creates databases and drops them after the run).

1. A lepetitjournal-style site of N articles (tests/fakesite.py, noise off) is rendered once and served from
   memory by a separate process (bench/crawl_throughput.py's raw asyncio server): the server costs little
   next to a crawl, so the crawl is CPU-bound.
2. One first crawl fills a template database (`newsmon crawl`).
3. The planner alone: every article made due, `newsmon daemon --distributed` started with no worker; its log
   says how many visits it queued and in how long (visits per second, the issue's "≥ 1,000").
4. Rounds, in the order given (1 and 2 alternate so machine noise hits both alike): a fresh copy of the
   template (`CREATE DATABASE ... TEMPLATE`), every article made due, K `newsmon worker` processes started
   and beating, then the planner. Articles per second = N / (last visit's check - first one's). Also the CPU
   seconds of the workers, the planner, the server and PostgreSQL: on a machine of two cores, two workers can
   only be twice as fast as one if the rest takes little.

The code measured is a snapshot of monitor/ and spiders/ taken at start (crawl_throughput.snapshot_code).
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import crawl_throughput as ct  # bench/ is the script's own folder on sys.path
from jsonout import emit_json
from workfolder import work_folder

ADMIN = os.environ.get("NEWSMON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PLANNED = re.compile(r"(\d+) visit\(s\) planned in (\d+) job\(s\) in ([\d.]+) s")
CONFIG = """tick = "1s"
shutdown_timeout = "10s"

[sites.lepetitjournal]
base_url = "{base_url}"
discovery_interval = "30d"

[sites.lepetitjournal.policy]
tiers = [["1000d", "100d"]]
listed_every = "100d"

[sites.lepetitjournal.politeness]
concurrency = {lanes}
download_delay = "0s"
robots_txt = false
"""


def psql(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def db_url(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


class Processes:
    """newsmon processes of one round, stopped (SIGTERM, then SIGKILL) when it ends."""

    def __init__(self, env: dict[str, str], work: Path):
        self.env, self.work, self.procs = env, work, []  # type: list[subprocess.Popen[bytes]]

    def start(self, name: str, *args: str, profile: Path | None = None) -> subprocess.Popen[bytes]:
        python = [sys.executable, *(["-m", "cProfile", "-o", str(profile)] if profile else [])]
        proc = subprocess.Popen([*python, "-m", "monitor", *args, "--log-file", str(self.work / f"{name}.log")],
                                env=self.env, cwd=ct.CODE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until(what: str, test: Any, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := test():
            return found
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server process so far (readable when the bench runs as root or as the
    server's user; 0 otherwise): the database's share of a round."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.parent.joinpath("comm").read_text().strip() in ("postgres", "postmaster"):
                total += ct.proc_cpu(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # the process ended, or is not ours to read
    return total


def make_due(db: str) -> None:
    psql(db, "UPDATE articles SET next_check_at = now() at time zone 'utc' - interval '1 second'")


def planner_rate(template: str, config: Path, work: Path) -> dict[str, Any]:
    """The planner with no worker: how fast it queues every due article."""
    name = f"nm_scale_{uuid.uuid4().hex[:8]}"
    psql(ADMIN, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    procs = Processes(env_for(name), work)
    try:
        make_due(db_url(name))
        log = work / "planner-alone.log"
        procs.start("planner-alone", "daemon", "--distributed", "--config", str(config))
        found = wait_until("the planner's first plan", lambda: PLANNED.search(log.read_text(encoding="utf-8"))
                           if log.exists() else None, 120)
        visits, jobs, seconds = int(found[1]), int(found[2]), float(found[3])
        return {"visits": visits, "jobs": jobs, "seconds": seconds, "visits_per_s": round(visits / seconds)}
    finally:
        procs.stop()
        psql(ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def env_for(name: str) -> dict[str, str]:
    return {**ct.child_env(), "NEWSMON_DB": db_url(name).replace("postgresql://", "postgresql+psycopg://")}


def one_round(workers: int, template: str, articles: int, config: Path, server_pid: int, concurrency: int,
              work: Path, profile: Path | None = None) -> dict[str, Any]:
    name = f"nm_scale_{uuid.uuid4().hex[:8]}"
    psql(ADMIN, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    db = db_url(name)
    procs = Processes(env_for(name), work)
    try:
        make_due(db)
        started = [procs.start(f"worker{workers}-{n}", "worker", "--config", str(config), "--concurrency",
                               str(concurrency), profile=profile if n == 0 else None) for n in range(workers)]
        wait_until("the workers' heartbeats", lambda: _count(db, "procrastinate_workers") >= workers, 120)
        server_before, postgres_before = ct.proc_cpu(server_pid), postgres_cpu()
        planner = procs.start(f"planner{workers}", "daemon", "--distributed", "--config", str(config))
        wait_until("every visit", lambda: _count(db, "checks WHERE visit_key IS NOT NULL") >= articles)
        cpu = {"workers": round(sum(ct.proc_cpu(p.pid) for p in started), 1),
               "planner": round(ct.proc_cpu(planner.pid), 1),
               "server": round(ct.proc_cpu(server_pid) - server_before, 1),
               "postgres": round(postgres_cpu() - postgres_before, 1)}
        (first, last), = psql(db, "SELECT min(checked_at), max(checked_at) FROM checks WHERE visit_key IS NOT NULL")
        span = (last - first).total_seconds()
        return {"workers": workers, "visits": articles, "seconds": round(span, 2),
                "articles_per_s": round(articles / span, 1), "cpu_s": cpu}
    finally:
        procs.stop()
        psql(ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _count(db: str, table: str) -> int:
    try:
        return psql(db, f"SELECT count(*) FROM {table}")[0][0]
    except Exception:  # noqa: BLE001 - procrastinate's tables are not there until a process creates them
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", default="1,2,2,1,1,2", help="workers per round, in order")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs per worker (newsmon worker --concurrency)")
    parser.add_argument("--lanes", type=int, default=8, help="the site's politeness concurrency")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="run the first round's first worker under cProfile and print its N costliest functions")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON (- for stdout)")
    args = parser.parse_args()
    rounds = [int(k) for k in args.rounds.split(",")]

    with work_folder("newsmon-scale-", args.keep) as work:
        ct.CODE = ct.snapshot_code(work)
        port = ct.free_port()
        base = f"http://127.0.0.1:{port}"
        responses, _, _ = ct.render_site(args.articles, "classic", 8, base)
        pages = work / "pages.pickle"
        pages.write_bytes(pickle.dumps(responses))
        server = subprocess.Popen([sys.executable, str(Path(ct.__file__)), "_serve", str(pages), str(port), "raw"],
                                  stdout=subprocess.PIPE, env=ct.child_env())
        template = f"nm_scale_tpl_{uuid.uuid4().hex[:8]}"
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
            config = work / "newsmon.toml"
            config.write_text(CONFIG.format(base_url=base, lanes=args.lanes), encoding="utf-8")
            psql(ADMIN, f'CREATE DATABASE "{template}"')
            subprocess.run([sys.executable, "-m", "monitor", "crawl", "lepetitjournal", "--config", str(config)],
                           env=env_for(template), cwd=ct.CODE, check=True, capture_output=True)
            planned = planner_rate(template, config, work)
            print(f"planner alone: {planned['visits']} due visits queued in {planned['jobs']} jobs in "
                  f"{planned['seconds']} s ({planned['visits_per_s']:,} visits/s)", flush=True)
            results = []
            profile = work / "worker.prof" if args.profile else None
            for n, k in enumerate(rounds):
                result = one_round(k, template, args.articles, config, server.pid, args.concurrency, work,
                                   profile if n == 0 else None)
                results.append(result)
                print(f"{k} worker(s): {result['articles_per_s']} articles/s ({result['seconds']} s); CPU s "
                      f"{result['cpu_s']}", flush=True)
            if profile:
                import pstats

                pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(args.profile)
        finally:
            server.terminate()
            server.wait(10)
            psql(ADMIN, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')

    by_k = {k: [r["articles_per_s"] for r in results if r["workers"] == k] for k in sorted(set(rounds))}
    medians = {k: statistics.median(v) for k, v in by_k.items()}
    print("medians [min-max]: " + "; ".join(f"{k} worker(s) {medians[k]} [{min(v)}-{max(v)}] articles/s"
                                            for k, v in by_k.items()))
    if 1 in medians and 2 in medians:
        print(f"two workers / one: {medians[2] / medians[1]:.2f}x (target >= 1.5x)")
    if args.json:
        emit_json({"articles": args.articles, "concurrency": args.concurrency, "lanes": args.lanes,
                   "planner": planned, "rounds": results, "median_articles_per_s": medians}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
