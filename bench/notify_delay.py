"""Notifications against the newsroom simulator's daemon mode: is every reported change delivered once, and
how long after its detection?

    .venv/bin/python bench/notify_delay.py                          # 5 phases of 60 s (~6 min)
    .venv/bin/python bench/notify_delay.py --phases 3 --kill-daemon-every 20

It starts a webhook receiver in a process of its own (`python -m tests.receiver --out FILE`: one JSON line
per request, stamped on arrival), writes bench/newsroom-daemon.toml plus one subscription to that receiver,
and runs `../shared/newsroom/evaluate.py --daemon-config` with it (the daemon crawls while the simulator
edits its articles). Then it reads every change the daemon stored (the kept database) and every message
the receiver got, and prints:

- delivered once: changes the subscription wants (text edits) that arrived exactly once;
- missed and repeated: wanted changes that never arrived, and messages that arrived again (the same change
  twice, whatever its delivery id);
- delay: arrival at the receiver minus the change's `detected_at` (when the fetch that found it was made),
  median, 90th percentile and maximum. It includes the wait for the crawl's batch to be stored and for the
  daemon's next delivery round (every 5 s, and at the end of each crawl).

Without ../shared (or `--shared DIR`) the script says so and exits 0: nothing here is a test.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--phases", type=int, default=5)
    ap.add_argument("--phase-seconds", type=float, default=60)
    ap.add_argument("--kill-daemon-every", type=float, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    args = ap.parse_args()
    evaluate = args.shared / "newsroom" / "evaluate.py"
    if not evaluate.is_file():
        print(f"no simulator at {evaluate}: nothing measured")
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="newsmon-notify-"))
    work.mkdir(parents=True, exist_ok=True)
    received = work / "received.jsonl"
    receiver = subprocess.Popen([sys.executable, "-m", "tests.receiver", "--port", "0", "--out", str(received)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = receiver.stdout.readline().strip() + "/hook"   # printed once it listens
        config = work / "daemon.toml"
        config.write_text((ROOT / "bench" / "newsroom-daemon.toml").read_text(encoding="utf-8")
                          + f'\n[notify.bench]\nwebhook = "{url}"\nretry = "1s"\n', encoding="utf-8")
        command = [sys.executable, str(evaluate), "--daemon-config", str(config), "--phases", str(args.phases),
                   "--phase-seconds", str(args.phase_seconds), "--keep", str(work / "eval"),
                   "--newsmon", f"{sys.executable} -m monitor"]
        if args.kill_daemon_every:
            command += ["--kill-daemon-every", str(args.kill_daemon_every)]
        evaluation = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        print(evaluation.stdout.strip().splitlines()[-1] if evaluation.stdout.strip() else evaluation.stderr)
    finally:
        receiver.terminate()
        receiver.wait()
    return report(work / "eval" / "newsmon.db", received)


def report(db: Path, received: Path) -> int:
    wanted = {(site, key, to): datetime.fromisoformat(at + "+00:00" if "+" not in at else at)
              for site, key, to, at in sqlite3.connect(db).execute(
                  "select s.name, a.key, v.number, c.detected_at from changes c join articles a on a.id = c.article_id"
                  " join sites s on s.id = a.site_id join versions v on v.id = c.to_version_id"
                  " where c.text_changed")}
    arrivals: Counter[tuple[str, str, int]] = Counter()
    delays: list[float] = []
    for line in received.read_text(encoding="utf-8").splitlines():
        request = json.loads(line)
        body = request["json"]
        if body.get("event") != "change":
            continue
        key = (body["site"], body["article_id"], body["to_version"])
        arrivals[key] += 1
        if key in wanted and arrivals[key] == 1:
            delays.append(request["time"] - wanted[key].timestamp())
    once = sum(1 for key in wanted if arrivals[key] == 1)
    missed = [key for key in wanted if not arrivals[key]]
    repeated = sum(n - 1 for n in arrivals.values() if n > 1)
    print(f"changes stored {len(wanted)} · delivered once {once} · missed {len(missed)} · repeated {repeated} · "
          f"unknown {sum(1 for key in arrivals if key not in wanted)}")
    if delays:
        delays.sort()
        print(f"delay from detection to delivery: median {statistics.median(delays):.1f} s · "
              f"p90 {delays[int(0.9 * (len(delays) - 1))]:.1f} s · max {delays[-1]:.1f} s ({len(delays)} changes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
