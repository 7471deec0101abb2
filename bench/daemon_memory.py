"""Does `newsmon daemon`'s memory stay flat over hundreds of crawl cycles?

    .venv/bin/python bench/daemon_memory.py                    # 400 finished crawl runs (~4-6 min)
    .venv/bin/python bench/daemon_memory.py --cycles 1000 --json -
    .venv/bin/python bench/daemon_memory.py --cycles 100 --keep  # keep the database and the daemon's log

What it does:

1. Starts a FakeSite (tests/fakesite.py) in this process: noise on, `--articles` (30) articles published a
   few minutes ago, over two editions.
2. Writes a daemon config with very short intervals (tick 0.2 s, discovery every 2 s, every article due
   every 0.5 s, no jitter) and starts `python -m monitor daemon --config … --db sqlite:///WORK/bench.db
   --log-file …` as a child process, as a user runs it.
3. Every `--sample` seconds reads the child's VmRSS (and thread count, open file descriptors) from
   /proc/PID and the number of finished crawl runs from the `crawl_runs` table. Meanwhile one article's
   body is edited every `--edit-every` seconds (so versions and changes are written, not only checks) and
   the site's chrome noise is rotated every `--noise-every` seconds.
4. When `--cycles` runs have finished: SIGTERM, and the daemon must exit 0 within 30 s.
5. Prints RSS at every `--step` (50) runs, the growth from run `--step` to the last sample, and a
   least-squares line of RSS against finished runs over the second half of the runs (KB per crawl run).

What to look for: a few MB of warm-up over the first tens of runs is normal (imports done lazily by the
first crawls, SQLAlchemy's and lxml's caches, the allocator's arenas). A leak shows as a steady climb over the
second half: a slope well above zero with the points close to the line (r² near 1). A flat process shows a
slope near zero and a scatter of a few hundred KB.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path
from workfolder import work_folder  # noqa: E402

from tests.fakesite import FakeSite, make_article  # noqa: E402

FIRST_ID = 431500
CONFIG = """\
tick = "{tick}"
shutdown_timeout = "20s"

[sites.lepetitjournal]
base_url = "{base_url}"
discovery_interval = "{discovery}"
jitter = "0s"

[sites.lepetitjournal.policy]
tiers = [["1h", "{every}"]]
error_retry = "1s"
listed_every = "{every}"
listed_memory = "1h"
"""


@dataclass
class Sample:
    seconds: float      # since the daemon was started
    runs: int           # crawl runs finished (any outcome)
    rss_kb: int         # VmRSS
    hwm_kb: int         # VmHWM (peak RSS so far)
    threads: int
    fds: int


# ---------------------------------------------------------------------- reading the child

def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (KB) and Threads from /proc/PID/status; open fds from /proc/PID/fd."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
    try:
        values["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        values["fds"] = -1
    return values


def query(db_path: Path, sql: str) -> list[tuple]:
    """A short read from this process (the daemon's database is in WAL mode: readers do not block it)."""
    if not db_path.exists():
        return []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # no tables yet (the daemon is still migrating)
        return []
    finally:
        conn.close()


def finished_runs(db_path: Path) -> int:
    rows = query(db_path, "SELECT count(*) FROM crawl_runs WHERE outcome != 'running'")
    return rows[0][0] if rows else 0


# ---------------------------------------------------------------------- the figures

def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (b, a, r²)."""
    n = len(xs)
    if n < 3:
        return float("nan"), float("nan"), float("nan")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0:
        return float("nan"), float("nan"), float("nan")
    b = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy else 1.0
    return b, my - b * mx, r2


def analyse(samples: list[Sample], step: int) -> dict[str, Any]:
    last = samples[-1]
    milestones = []
    for m in [1, *range(step, last.runs + 1, step)]:  # from the first finished run: the imports are done
        s = next(s for s in samples if s.runs >= m)
        if not milestones or milestones[-1] is not s:
            milestones.append(s)
    if milestones[-1] is not last:
        milestones.append(last)
    base = next((s for s in samples if s.runs >= step), samples[0])
    first = next((s for s in samples if s.runs >= 1), samples[0])  # the imports are done by then

    def fit(since: float) -> dict[str, Any]:
        part = [s for s in samples if s.runs >= since]
        slope, intercept, r2 = linear_fit([s.runs for s in part], [s.rss_kb for s in part])
        resid = [abs(s.rss_kb - (intercept + slope * s.runs)) for s in part]
        return {"from_run": part[0].runs, "points": len(part), "kb_per_run": slope, "r2": r2,
                "fitted_growth_mb": slope * (last.runs - part[0].runs) / 1024,
                "residual_max_kb": max(resid, default=0.0)}

    half = [s for s in samples if s.runs >= last.runs / 2]
    return {
        "milestones": [asdict(s) for s in milestones],
        "from_run": base.runs, "to_run": last.runs,
        "growth_mb": (last.rss_kb - base.rss_kb) / 1024,
        "growth_pct": 100 * (last.rss_kb - base.rss_kb) / base.rss_kb,
        "first_run": first.runs, "warmup_mb": (base.rss_kb - first.rss_kb) / 1024,
        "fit": fit(last.runs / 2),                 # the second half
        "fit_last_quarter": fit(last.runs * 3 / 4),
        "peak_rss_mb": max(s.hwm_kb for s in samples) / 1024,
        "threads": [min(s.threads for s in half), max(s.threads for s in half)],
        "fds": [min(s.fds for s in half), max(s.fds for s in half)],
    }


def verdict(a: dict[str, Any]) -> str:
    """A first reading only: a climb can be a leak or a bounded cache still filling; only a longer run (or a
    look inside the process) tells them apart."""
    fit, quarter = a["fit"], a["fit_last_quarter"]
    slope, r2, grown = fit["kb_per_run"], fit["r2"], fit["fitted_growth_mb"]
    if slope != slope or fit["points"] < 5:  # nan
        return "too few samples to judge"
    if slope < 2.0 or r2 < 0.5:  # under 2 MB per 1,000 runs, or no trend the points follow
        return (f"flat: {slope:+.1f} KB per crawl run over the second half ({grown:+.1f} MB fitted over "
                f"{a['to_run'] - fit['from_run']} runs, r² {r2:.2f})")
    trend = ("and levelling off" if quarter["kb_per_run"] < slope / 3 else
             "and still climbing in the last quarter")
    return (f"GROWING: {slope:.1f} KB per crawl run over the second half (r² {r2:.2f}; ~{slope * 1000 / 1024:.0f} MB "
            f"per 1,000 runs), last quarter {quarter['kb_per_run']:.1f} KB per run, {trend}: a leak or a cache "
            f"still filling; run longer (--cycles) to tell")


def print_report(result: dict[str, Any], out: Any) -> None:
    a = result["analysis"]
    p = lambda *x: print(*x, file=out)  # noqa: E731
    p(f"newsmon daemon memory: {result['runs']} crawl runs finished in {result['seconds']:.0f} s "
      f"({result['outcomes']}), {result['versions']} versions, {result['changes']} changes, "
      f"{result['edits']} edits made; daemon exit status {result['exit_status']}")
    p()
    p(f"{'runs':>6} {'elapsed s':>10} {'RSS MB':>8} {'peak MB':>8} {'threads':>8} {'fds':>5}")
    for m in a["milestones"]:
        p(f"{m['runs']:>6} {m['seconds']:>10.0f} {m['rss_kb'] / 1024:>8.1f} {m['hwm_kb'] / 1024:>8.1f} "
          f"{m['threads']:>8} {m['fds']:>5}")
    p()
    p(f"warm-up (run {a['first_run']} to run {a['from_run']}): {a['warmup_mb']:+.1f} MB")
    p(f"growth from run {a['from_run']} to run {a['to_run']}: {a['growth_mb']:+.1f} MB ({a['growth_pct']:+.1f} %)")
    fit = a["fit"]
    p(f"linear fit of RSS vs runs, runs {fit['from_run']}-{a['to_run']} ({fit['points']} samples): "
      f"{fit['kb_per_run']:+.2f} KB per crawl run, r² {fit['r2']:.2f}, largest residual "
      f"{fit['residual_max_kb']:.0f} KB")
    q = a["fit_last_quarter"]
    p(f"same over the last quarter, runs {q['from_run']}-{a['to_run']} ({q['points']} samples): "
      f"{q['kb_per_run']:+.2f} KB per crawl run, r² {q['r2']:.2f}")
    p(f"threads over the second half: {a['threads'][0]}-{a['threads'][1]}; open fds: {a['fds'][0]}-{a['fds'][1]}")
    p(f"verdict: {result['verdict']}")


# ---------------------------------------------------------------------- the run

def young_site(n: int) -> tuple[FakeSite, dict[int, str]]:
    site = FakeSite(noise=True, editions=("cambodge", "bangkok"))
    now = datetime.now(UTC)
    originals = {}
    for i in range(n):
        a = site.add(make_article(FIRST_ID + i, ("cambodge", "bangkok")[i % 2], published=now - timedelta(minutes=3 + i)))
        originals[a.id] = a.blocks[1].text
    return site.start(), originals


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    site, originals = young_site(args.articles)
    rng = random.Random(args.seed)
    db_path, log_path, config_path = work / "bench.db", work / "daemon.log", work / "daemon.toml"
    config_path.write_text(CONFIG.format(tick=args.tick, base_url=site.base_url, discovery=args.discovery,
                                         every=args.every), encoding="utf-8")
    env = {**os.environ, "XDG_DATA_HOME": str(work / "xdg"), "XDG_CONFIG_HOME": str(work / "xdg-config")}
    env.pop("NEWSMON_DB", None)
    cmd = [sys.executable, "-m", "monitor", "daemon", "--config", str(config_path), "--db", f"sqlite:///{db_path}",
           "--log-file", str(log_path), "--log-level", "INFO"]
    print("daemon:", " ".join(cmd), file=sys.stderr)
    stderr_path = work / "daemon.stderr"
    samples: list[Sample] = []
    edits = 0
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
        started = time.monotonic()
        next_sample = next_edit = next_noise = started
        try:
            while True:
                now = time.monotonic()
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited early with status {proc.returncode}; see {stderr_path} "
                                       f"and {log_path}")
                if now - started > args.timeout:
                    raise RuntimeError(f"{args.cycles} runs not finished after {args.timeout} s "
                                       f"({samples[-1].runs if samples else 0} finished)")
                if now >= next_edit:
                    next_edit += args.edit_every
                    if samples and samples[-1].runs > 0:  # after the first versions exist
                        a = site.articles[rng.randrange(len(originals))]
                        edits += 1
                        blocks = list(a.blocks)
                        # Same size every time: the pages do not grow over the run.
                        blocks[1] = replace(blocks[1], text=f"{originals[a.id]} Précision apportée, mise à jour "
                                                             f"numéro {edits}.")
                        site.edit(a.id, blocks=blocks)
                if now >= next_noise:
                    next_noise += args.noise_every
                    site.rotate_noise()
                if now >= next_sample:
                    next_sample += args.sample
                    try:
                        st = proc_status(proc.pid)
                    except OSError:
                        continue
                    if not st.get("VmRSS"):  # still being exec'ed: no memory figures yet
                        continue
                    runs = finished_runs(db_path)
                    samples.append(Sample(round(now - started, 1), runs, st["VmRSS"], st["VmHWM"], st["Threads"],
                                          st["fds"]))
                    if len(samples) % 10 == 0 or runs >= args.cycles:
                        print(f"  {now - started:6.0f} s  {runs:5d} runs  RSS {st['VmRSS'] / 1024:6.1f} MB",
                              file=sys.stderr)
                    if runs >= args.cycles:
                        break
                time.sleep(max(0.0, min(next_sample, next_edit, next_noise) - time.monotonic()))
            seconds = time.monotonic() - started
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
                print("the daemon did not exit within 30 s of SIGTERM: killed", file=sys.stderr)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            site.stop()

    outcomes = dict(query(db_path, "SELECT outcome, count(*) FROM crawl_runs GROUP BY outcome"))
    kinds = dict(query(db_path, "SELECT kind, count(*) FROM crawl_runs GROUP BY kind"))
    [(versions,)] = query(db_path, "SELECT count(*) FROM versions")
    [(changes,)] = query(db_path, "SELECT count(*) FROM changes")
    [(checks,)] = query(db_path, "SELECT coalesce(sum(1 + repeats), 0) FROM checks")   # a row may be a run of checks
    log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    analysis = analyse(samples, args.step)
    result = {
        "command": cmd, "cycles": args.cycles, "runs": samples[-1].runs, "seconds": seconds,
        "exit_status": status, "stopped_cleanly": "newsmon daemon stopped" in log,
        "outcomes": outcomes, "kinds": kinds, "versions": versions, "changes": changes, "checks": checks,
        "edits": edits, "log_warnings": sum(" WARNING " in line for line in log.splitlines()),
        "settings": {"tick": args.tick, "discovery_interval": args.discovery, "every": args.every,
                     "articles": args.articles, "sample_s": args.sample, "edit_every_s": args.edit_every,
                     "noise_every_s": args.noise_every},
        "python": sys.version.split()[0], "analysis": analysis, "samples": [asdict(s) for s in samples],
    }
    result["verdict"] = verdict(analysis)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=400, help="stop when this many crawl runs have finished (400)")
    parser.add_argument("--step", type=int, default=50, help="a table row every STEP runs (50)")
    parser.add_argument("--articles", type=int, default=30, help="articles on the fake site (30)")
    parser.add_argument("--tick", default="0.2s", help='the daemon\'s tick ("0.2s")')
    parser.add_argument("--discovery", default="2s", help='discovery_interval ("2s")')
    parser.add_argument("--every", default="0.5s", help='revisit interval: the one tier and listed_every ("0.5s")')
    parser.add_argument("--sample", type=float, default=1.0, help="seconds between RSS samples (1)")
    parser.add_argument("--edit-every", type=float, default=5.0, help="seconds between article edits (5)")
    parser.add_argument("--noise-every", type=float, default=3.0, help="seconds between noise rotations (3)")
    parser.add_argument("--seed", type=int, default=1, help="which articles get edited (1)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds (1800)")
    parser.add_argument("--json", metavar="FILE", help="write the results, every sample included, as JSON to "
                                                       "FILE (- for stdout; the table then goes to stderr)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, config, log)")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        parser.error("needs Linux's /proc to read the daemon's memory")
    if args.cycles < 2 * args.step:
        parser.error("--cycles must be at least twice --step")

    with work_folder("newsmon-daemon-memory-", args.keep) as work:
        result = run(args, work)
    out = sys.stderr if args.json == "-" else sys.stdout
    print_report(result, out)
    emit_json(result, args.json)
    return 0 if result["exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
