"""Requests per detected edit: newsmon's adaptive revisit policy vs fixed-interval re-checks.

    .venv/bin/python bench/policy_budget.py                       # 5,000 articles, seed 2022 (~2 s)
    .venv/bin/python bench/policy_budget.py --seed 7 --articles 20000 --json -
    .venv/bin/python bench/policy_budget.py --fixed-stop-days 40  # fixed checks run to the horizon

A simulated timeline, not a crawl: no HTTP, no database. Every time is a whole number of seconds.

The articles. `--articles` N (5,000) are published uniformly over `--period-days` (30) and observed until
each is `--horizon-days` (40) old. Discovery (sitemap, feeds) runs at gaps drawn uniformly from 15-30 min;
newsmon first sees, and first fetches, an article at the first discovery run after its publication (so
0-30 min after it, ~11 min on average). That first fetch stores version 1: edits made before it are in
version 1 and no policy can see them as changes. They are counted apart ("before first sight") and left
out of every figure below.

The edits, per article, calibrated on /work/shared/FIELD-NOTES.md, "How often news gets edited":

- Edited at all: 35 % of articles (six Flemish outlets polled every 15 min for 24 h, 291,666 articles:
  35 % updated at least once). GDELT's 19.4 % (body text changed within a week) is lower because it
  compares only three snapshots (first crawl, 24 h, 1 week) and only the body.
- Edits per edited article: 1 + a geometric count, mean 1.94 (the Flemish study's 1.94 updates on
  average); the geometric tail stands for the few live-updated stories. NewsEdits (NAACL 2022) has ~3.6
  versions per article, i.e. ~2.6 edits, but over articles it kept because they had several versions.
- When, after publication, each edit independently:
    80 %  exponential with a mean of 3 h, cut at 24 h (redrawn past it)
    18 %  uniform over days 1-7
     2 %  uniform over days 7-30 (late corrections)
  so 80 % of edits fall in the first 24 h and 98 % in the first week: 80/98 = 82 % of the week's edits in
  the first day, GDELT's figure (82 % of body changes, 83 % of title changes).

The policies, each article on its own:

- adaptive: `RevisitPolicy()` with its default tiers, called as monitor/store/ingest.py calls it: after every
  check at `now`, `next_check(now, published=<publication>, last_changed=<time of the check that last
  found a change, or None>, first_seen=<first sight>)`, with `listed_at` left out (no front-page floor).
  The publication time is known exactly (a minute-precise date). Checking stops when `next_check` says
  None or the next check would fall past the horizon.
- fixed every T: checks at first sight, then every T, until the article is `--fixed-stop-days` old
  (default: the last tier's `until`, 30 days, the age at which the adaptive policy stops watching an
  article that never changed). Why not to 40 days: no simulated edit falls after day 30, so checks past
  it would only bill the fixed policy for days the adaptive policy mostly does not watch (it goes on past
  30 days only for articles changed late, which is its own merit). Both are scored on the same edits:
  every edit between first sight and the horizon. `--fixed-stop-days 40` shows the other choice.

What a check finds: if the article changed since the previous check, every edit made since is detected
at that check, each with its own delay (check time - edit time). An edit overwritten by the next one
before any check saw it is still "detected" (its text is in the version stored), but its own version is
lost: counted in "versions lost". Edits no check reached before the policy stopped are "never detected".

Requests are every fetch, the first one included (it is the same for every policy). "Requests per
detected edit" = requests / edits detected; delays are pooled over all detected edits.

Then: the fixed interval whose median delay equals the adaptive policy's (bisection on T), its requests
and the ratio to the adaptive policy's; the same for the p90 delay; and the fixed interval that spends the
adaptive policy's total requests, with the delays it gets for them.
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path

from monitor.compare.policy import RevisitPolicy  # noqa: E402

MINUTE, HOUR, DAY = 60, 3600, 86400
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)   # second 0 of the simulated timeline

# The edit model (see the docstring for the sources).
SHARE_EDITED = 0.35
MEAN_EDITS_WHEN_EDITED = 1.94
EARLY_SHARE, EARLY_MEAN, EARLY_CUT = 0.80, 3 * HOUR, DAY
WEEK_SHARE, WEEK_SPAN = 0.18, (DAY, 7 * DAY)
LATE_SPAN = (7 * DAY, 30 * DAY)            # the remaining 2 %
DISCOVERY_GAP = (15 * MINUTE, 30 * MINUTE)

REFERENCE_INTERVALS = (15 * MINUTE, HOUR, 6 * HOUR, DAY)   # the default tiers' intervals


# ---------------------------------------------------------------- the simulated timeline

@dataclass(frozen=True, slots=True)
class Article:
    published: int          # seconds since EPOCH
    first_seen: int         # first discovery run after publication: the first fetch
    edits: tuple[int, ...]  # edit times, sorted, seconds since EPOCH


def edit_delay(rng: random.Random) -> int:
    """Seconds from publication to one edit, from the three-part mixture."""
    u = rng.random()
    if u < EARLY_SHARE:
        while (t := rng.expovariate(1 / EARLY_MEAN)) >= EARLY_CUT:
            pass
        return max(1, round(t))
    span = WEEK_SPAN if u < EARLY_SHARE + WEEK_SHARE else LATE_SPAN
    return round(rng.uniform(*span))


def edit_count(rng: random.Random) -> int:
    """0 for an unedited article, else 1 + geometric with mean MEAN_EDITS_WHEN_EDITED."""
    if rng.random() >= SHARE_EDITED:
        return 0
    p = 1 / MEAN_EDITS_WHEN_EDITED
    return 1 + int(math.log(1 - rng.random()) / math.log(1 - p))


def discovery_runs(rng: random.Random, until: int) -> list[int]:
    """Discovery run times, gaps drawn from DISCOVERY_GAP, from before the first publication to `until`."""
    runs = [-rng.randint(*DISCOVERY_GAP)]
    while runs[-1] < until:
        runs.append(runs[-1] + rng.randint(*DISCOVERY_GAP))
    return runs


def simulate(seed: int, articles: int, period_days: float, horizon: int) -> list[Article]:
    """The articles, their first sighting and their edits (those after `horizon` seconds of age dropped:
    nobody watches then; with the default 40 days there are none)."""
    rng = random.Random(seed)
    period = round(period_days * DAY)
    runs = discovery_runs(rng, period + DISCOVERY_GAP[1])
    result = []
    for _ in range(articles):
        published = rng.randrange(period)
        first_seen = runs[bisect_right(runs, published)]
        delays = (edit_delay(rng) for _ in range(edit_count(rng)))
        edits = sorted(published + d for d in delays if d <= horizon)
        result.append(Article(published, first_seen, tuple(edits)))
    return result


# ---------------------------------------------------------------- the policies

Detector = Callable[[Article, int], "float | None"]   # when a policy first sees an edit made at a time


@dataclass(slots=True)
class Schedule:
    """A policy run over every article: requests spent and when each edit would be seen."""
    name: str
    interval: str
    requests: int
    detect: Detector


def _dt(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def _s(moment: datetime) -> int:
    return round((moment - EPOCH).total_seconds())


def adaptive_checks(article: Article, policy: RevisitPolicy, horizon: int) -> list[int]:
    """Check times of one article under `policy`, fed back what each check finds, as monitor/store/ingest.py does."""
    published, first_seen = _dt(article.published), _dt(article.first_seen)
    end = _dt(article.published + horizon)
    pending = article.edits[bisect_right(article.edits, article.first_seen):]   # not in version 1
    checks, now, last_changed = [article.first_seen], first_seen, None
    while True:
        due = policy.next_check(now, published=published, last_changed=last_changed, first_seen=first_seen)
        if due is None or due > end:
            return checks
        now = due
        seen = bisect_right(pending, _s(now))
        if seen:   # the article changed since the previous check
            last_changed, pending = now, pending[seen:]
        checks.append(_s(now))


def adaptive(articles: Sequence[Article], policy: RevisitPolicy, horizon: int) -> Schedule:
    checks = {id(a): adaptive_checks(a, policy, horizon) for a in articles}

    def detect(article: Article, edit: int) -> float | None:
        times = checks[id(article)]
        i = bisect_left(times, edit)
        return times[i] if i < len(times) else None

    return Schedule("adaptive", "tiers", sum(map(len, checks.values())), detect)


def fixed(articles: Sequence[Article], every: float, stop_age: int) -> Schedule:
    """Checks at first sight, then every `every` seconds while the article is younger than `stop_age`."""
    def stop(article: Article) -> int:
        return article.published + stop_age

    def detect(article: Article, edit: int) -> float | None:
        at = article.first_seen + math.ceil((edit - article.first_seen) / every) * every
        return at if at <= stop(article) else None

    requests = sum(int((stop(a) - a.first_seen) // every) + 1 for a in articles if stop(a) >= a.first_seen)
    return Schedule("fixed", duration(every), requests, detect)


# ---------------------------------------------------------------- scoring

@dataclass(slots=True)
class Row:
    policy: str
    interval: str
    interval_s: float | None
    requests: int
    detected: int
    requests_per_edit: float
    median_delay_s: float
    p90_delay_s: float
    never_detected: int
    versions_lost: int


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0-100); infinite for no values."""
    if not sorted_values:
        return math.inf
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


def visible_edits(article: Article) -> tuple[int, ...]:
    """The edits a policy can detect: those made after the first fetch."""
    return article.edits[bisect_right(article.edits, article.first_seen):]


def delays(articles: Sequence[Article], detect: Detector) -> tuple[list[float], int, int]:
    """Sorted delays of detected edits, edits never detected, and versions lost (overwritten unseen)."""
    found: list[float] = []
    never = lost = 0
    for article in articles:
        edits = visible_edits(article)
        for i, edit in enumerate(edits):
            at = detect(article, edit)
            if at is None:
                never += 1
                continue
            found.append(at - edit)
            if i + 1 < len(edits) and at >= edits[i + 1]:
                lost += 1
    found.sort()
    return found, never, lost


def score(articles: Sequence[Article], schedule: Schedule, label: str | None = None,
          every: float | None = None) -> Row:
    found, never, lost = delays(articles, schedule.detect)
    return Row(label or schedule.name, schedule.interval, every, schedule.requests, len(found),
               schedule.requests / len(found) if found else math.inf,
               statistics.median(found) if found else math.inf, percentile(found, 90), never, lost)


def bisect_interval(goal: Callable[[float], bool], low: float = 1.0, high: float = 30.0 * DAY) -> float:
    """The interval where `goal` turns from true (short intervals) to false, to within a millisecond.
    Delay percentiles grow with the interval only on the whole (saw-teeth per edit): over thousands of
    edits the crossing is one point; over a handful, one of several (the table shows what it gets)."""
    for _ in range(100):
        if high - low < 1e-3:
            break
        mid = (low + high) / 2
        low, high = (mid, high) if goal(mid) else (low, mid)
    return low


# ---------------------------------------------------------------- the run

def model_summary(articles: Sequence[Article]) -> dict[str, float]:
    all_edits = [e - a.published for a in articles for e in a.edits]
    edited = [a for a in articles if a.edits]
    visible = sum(len(visible_edits(a)) for a in articles)
    return {
        "articles": len(articles),
        "edits": len(all_edits),
        "share_edited": len(edited) / len(articles),
        "mean_edits_when_edited": len(all_edits) / len(edited) if edited else 0.0,
        "share_edits_first_24h": sum(d < DAY for d in all_edits) / len(all_edits) if all_edits else 0.0,
        "share_edits_first_week": sum(d < 7 * DAY for d in all_edits) / len(all_edits) if all_edits else 0.0,
        "mean_first_sight_s": statistics.fmean(a.first_seen - a.published for a in articles),
        "edits_before_first_sight": len(all_edits) - visible,
        "edits_visible": visible,
    }


def run(seed: int, n: int, period_days: float, horizon_days: float, fixed_stop_days: float | None) -> dict:
    policy = RevisitPolicy()
    horizon = round(horizon_days * DAY)
    stop_age = min(horizon, round(fixed_stop_days * DAY) if fixed_stop_days is not None
                   else round(policy.tiers[-1].until.total_seconds()))
    articles = simulate(seed, n, period_days, horizon)
    base = score(articles, adaptive(articles, policy, horizon))

    def fixed_row(every: float, label: str) -> Row:
        return score(articles, fixed(articles, every, stop_age), label, every)

    def fixed_delays(every: float) -> list[float]:
        return delays(articles, fixed(articles, every, stop_age).detect)[0]

    # An interval that detects nothing has an infinite delay (never "as good as" the adaptive policy).
    same_median = bisect_interval(lambda t: percentile(fixed_delays(t), 50) <= base.median_delay_s, high=stop_age)
    same_p90 = bisect_interval(lambda t: percentile(fixed_delays(t), 90) <= base.p90_delay_s, high=stop_age)
    same_requests = bisect_interval(lambda t: fixed(articles, t, stop_age).requests >= base.requests, high=stop_age)
    rows = [base,
            fixed_row(same_requests, "fixed, same requests"),
            fixed_row(same_median, "fixed, same median"),
            fixed_row(same_p90, "fixed, same p90"),
            *(fixed_row(t, "fixed") for t in REFERENCE_INTERVALS)]
    return {
        "seed": seed, "period_days": period_days, "horizon_days": horizon_days,
        "fixed_stop_days": stop_age / DAY,
        "model": {"share_edited": SHARE_EDITED, "mean_edits_when_edited": MEAN_EDITS_WHEN_EDITED,
                  "early": {"share": EARLY_SHARE, "exp_mean_h": EARLY_MEAN / HOUR, "cut_h": EARLY_CUT / HOUR},
                  "week": {"share": WEEK_SHARE, "uniform_days": [s / DAY for s in WEEK_SPAN]},
                  "late": {"share": round(1 - EARLY_SHARE - WEEK_SHARE, 4),
                           "uniform_days": [s / DAY for s in LATE_SPAN]},
                  "discovery_gap_min": [s / MINUTE for s in DISCOVERY_GAP]},
        "simulated": model_summary(articles),
        "rows": [{k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in asdict(r).items()}
                 for r in rows],
        "ratio_same_median": rows[2].requests / base.requests,
        "ratio_same_p90": rows[3].requests / base.requests,
    }


# ---------------------------------------------------------------- output

def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, size in (("d", DAY), ("h", HOUR), ("min", MINUTE)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{seconds:.0f} s"


def number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_results(result: dict, out: TextIO) -> None:
    s = result["simulated"]
    print(f"{s['articles']:,} articles published over {result['period_days']:g} days, observed to "
          f"{result['horizon_days']:g} days old, seed {result['seed']}; first sight "
          f"{duration(s['mean_first_sight_s'])} after publication on average", file=out)
    print(f"{s['edits']:,} edits: {s['share_edited']:.1%} of articles edited, {s['mean_edits_when_edited']:.2f} "
          f"edits per edited article, {s['share_edits_first_24h']:.1%} in the first 24 h, "
          f"{s['share_edits_first_week']:.1%} in the first week", file=out)
    print(f"{s['edits_before_first_sight']:,} made before first sight (in version 1, not counted); "
          f"{s['edits_visible']:,} to detect. Fixed intervals check until "
          f"{result['fixed_stop_days']:g} days old.\n", file=out)
    header = ("policy", "interval", "requests", "detected", "req/edit", "median delay", "p90 delay",
              "never detected", "versions lost")
    lines = [header] + [(r["policy"], r["interval"], f"{r['requests']:,}", f"{r['detected']:,}",
                         number(r['requests_per_edit'], ".1f"), duration(r["median_delay_s"]),
                         duration(r["p90_delay_s"]), f"{r['never_detected']:,}", f"{r['versions_lost']:,}")
                        for r in result["rows"]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))),
              file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    adaptive_row, _, median_row, p90_row = result["rows"][:4]
    for row, what, key in ((median_row, "median", "ratio_same_median"), (p90_row, "p90", "ratio_same_p90")):
        print(f"\nSame {what} delay ({duration(adaptive_row[f'{what}_delay_s'])}): fixed every {row['interval']} "
              f"needs {row['requests']:,} requests, {result[key]:.1f}x the adaptive policy's "
              f"{adaptive_row['requests']:,}.", file=out, end="")
    print(file=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--articles", type=int, default=5000, help="articles simulated (5000)")
    parser.add_argument("--period-days", type=float, default=30.0, help="publications spread over (30)")
    parser.add_argument("--horizon-days", type=float, default=40.0, help="each article observed to this age (40)")
    parser.add_argument("--fixed-stop-days", type=float, default=None,
                        help="age at which fixed-interval checks stop (default: the last tier's until, 30)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE (- for stdout; "
                        "the table then goes to stderr)")
    args = parser.parse_args()
    result = run(args.seed, args.articles, args.period_days, args.horizon_days, args.fixed_stop_days)
    print_results(result, sys.stderr if args.json == "-" else sys.stdout)
    emit_json(result, args.json)


if __name__ == "__main__":
    main()
