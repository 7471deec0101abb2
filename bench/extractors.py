"""Extraction on real pages of other outlets: newsmon's generic extractor and plain trafilatura, side by side.

    .venv/bin/python bench/extractors.py                          # both sources, one table
    .venv/bin/python bench/extractors.py --source newspaper4k --worst 10
    .venv/bin/python bench/extractors.py --json results.json      # also every page's figures
    .venv/bin/python bench/extractors.py --edits 1 2 3            # + edits and rotating chrome, per seed (~5 min)

The pages are ../shared/realpages (its README says where they come from): mozilla-readability's 94 real pages,
whose truth is Readability's expected.html, read into paragraphs by `realnews.html_paragraphs` (through
`realnews.load_specs`, as `realnews.py eval` reads them), and newspaper4k's 23 pages with a txt/ body. Without
../shared (or `--data DIR`) the script says so and exits 0: nothing here is a test.

Both extractors get the same page text (decoded as realnews.py serves it) and the page's URL. Plain
trafilatura is `trafilatura.bare_extraction(html, url=url, with_metadata=True)` with the library's defaults:
its body is its text, one paragraph a line; its title, author and date are its metadata.

The figures:
- body F1: tokens (`\\w+` after `evaluate.norm`: typography and spacing do not count) as bags of words, the
  extracted body against the truth, the very scoring `realnews.py eval` uses; the mean, and the share of pages
  at F1 >= 0.9. A page the extractor refuses scores 0.
- title exact: the title equals the truth's after whitespace is collapsed. The truth is what Readability
  (or newspaper) took for the title, which often keeps the site's name ("How to Build a Terrarium | eHow",
  "Mozilla - Wikipedia") or prefers og:title to the visible headline; so also:
- title, names aside: equal once typography is ignored and a part after or before a separator (" | ", " - ",
  " – ", " · "...) is left out of either side.
- published same day: of the pages whose truth has a publication date; the extracted date, in the truth's
  offset when both carry one, falls on the truth's day.
- author found: of the pages whose truth names an author; one truth name (a "By " dropped, case ignored)
  appears in the extracted author, or one extracted name appears in the truth's byline. newspaper4k's
  metadata is that library's own regression output, not checked by a person: its author lists hold wrong
  names, so read that column for trends only.
- ms per page: the median wall time of one extraction, parsing the page included (after one warm-up page).

`--edits SEED...` also runs, per source and seed, the site `realnews.py serve` makes of these pages (every page,
edited phase by phase, its chrome rotating per request and per phase) and reads every article after each of 3
phases with the generic extractor alone, as newsmon compares versions (`comparable_text`): an article whose text
moved without an edit in that phase is a false change; an edited one whose text did not move, a miss. Phase 0
is read twice, so per-request noise (counters, tokens) is tried too. This measures the extractor, not the crawl:
`realnews.py eval` needs the `news` spider.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path

DEFAULT_DATA = ROOT.parent / "shared" / "realpages"
# Readability's test suite reads every page as if it were at this URL; its expected text was made so.
READABILITY_URL = "http://fakehost/test/page.html"
SOURCES = ("readability", "newspaper4k")


@dataclass(frozen=True, slots=True)
class Truth:
    source: str
    page: str
    url: str
    html: str
    body: list[str]
    title: str | None
    published: str | None
    authors: list[str]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one extractor read on one page."""

    body: list[str]
    title: str = ""
    published: date | datetime | None = None
    author: str = ""
    error: str = ""


@dataclass(slots=True)
class Score:
    """One extractor's figures on a set of pages, one entry per page that has the truth."""

    f1: list[float] = field(default_factory=list)
    title: list[bool] = field(default_factory=list)
    headline: list[bool] = field(default_factory=list)
    date: list[bool] = field(default_factory=list)
    author: list[bool] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> dict:
        return {"pages": len(self.f1),
                "body_f1_mean": round(statistics.mean(self.f1), 4) if self.f1 else None,
                "body_f1_ge_0_9": share(sum(f >= 0.9 for f in self.f1), len(self.f1)),
                "title_exact": share(sum(self.title), len(self.title)), "title_pages": len(self.title),
                "title_names_aside": share(sum(self.headline), len(self.headline)),
                "date_same_day": share(sum(self.date), len(self.date)), "date_pages": len(self.date),
                "author_found": share(sum(self.author), len(self.author)), "author_pages": len(self.author),
                "ms_median": round(statistics.median(self.ms), 2) if self.ms else None,
                "refused": self.errors}


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---------------------------------------------------------------- the pages and their truth

def load_realnews(data: Path):
    """realnews.py of the shared checkout (it brings evaluate.norm along), or None when it is not there."""
    if not (data / "realnews.py").is_file() or not (data.parent / "newsroom" / "evaluate.py").is_file():
        return None
    sys.path.insert(0, str(data))
    sys.dont_write_bytecode = True   # no __pycache__ in the shared checkout
    import realnews  # found only at run time, in the shared checkout
    return realnews


def load_pages(realnews, sources: tuple[str, ...], limit: int | None) -> list[Truth]:
    pages: list[Truth] = []
    for source in sources:
        for spec in realnews.load_specs(source)[:limit]:
            with gzip.open(spec.path, "rb") as page:
                html, _ = realnews.decode_page(page.read(), spec.stored)
            title, published, authors = truth_metadata(source, spec)
            url = spec.url or READABILITY_URL
            pages.append(Truth(source, spec.sid, url, html, spec.body, title, published, authors))
    return pages


def truth_metadata(source: str, spec) -> tuple[str | None, str | None, list[str]]:
    """(title, published, authors) as each test suite wrote them down."""
    if source == "readability":
        meta = json.loads((spec.path.parent / "expected-metadata.json").read_text(encoding="utf-8"))
        byline = meta.get("byline")
        return meta.get("title"), meta.get("publishedTime"), [byline] if byline else []
    meta_path = spec.path.parent.parent / "metadata" / f"{spec.sid}.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    published = meta.get("publish_date")
    return spec.title, published if published and published != "None" else None, list(meta.get("authors") or [])


# ---------------------------------------------------------------- the extractors

def generic_reader() -> tuple[str, Callable[[Truth], Reading]]:
    from parsel import Selector

    from monitor.extract.generic import EXTRACTOR, extract_generic
    from monitor.extract.integrity import ExtractionError

    def read(page: Truth) -> Reading:
        try:
            article = extract_generic(Selector(text=page.html), page.url)
        except ExtractionError as error:
            return Reading([], error=str(error))
        return Reading(list(article.body), article.title, article.published, article.author)

    return EXTRACTOR, read


def trafilatura_reader() -> tuple[str, Callable[[Truth], Reading]]:
    import trafilatura

    def read(page: Truth) -> Reading:
        document = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True)
        if document is None:
            return Reading([], error="nothing extracted")
        published = None
        if document.date:
            try:
                published = date.fromisoformat(document.date[:10])
            except ValueError:
                pass
        return Reading((document.text or "").splitlines(), document.title or "", published, document.author or "")

    return f"trafilatura-{trafilatura.__version__} (defaults)", read


# ---------------------------------------------------------------- scoring

def body_f1(realnews, truth: list[str], got: list[str]) -> float:
    return realnews.prf(realnews.body_tokens(truth), realnews.body_tokens(got))[2]


def same_title(truth: str, got: str) -> bool:
    return " ".join(truth.split()) == " ".join(got.split())


_SEPARATOR = re.compile(r"\s+(?:[|·•»/:-]|[\u2013\u2014]|::|--)\s+")


def title_forms(realnews, title: str) -> set[str]:
    """The title, and the title without its first or last part (a site's or a section's name)."""
    parts = _SEPARATOR.split(title)
    forms = {title}
    if len(parts) > 1:
        forms |= {title[: title.rfind(parts[-1])], title[len(parts[0]):]}
    return {" ".join(realnews.norm(f).casefold().strip(" |·•»/:-\u2013\u2014").split()) for f in forms} - {""}


def same_headline(realnews, truth: str, got: str) -> bool:
    return bool(got) and bool(title_forms(realnews, truth) & title_forms(realnews, got))


def same_day(truth: str, got: date | datetime | None) -> bool:
    if got is None:
        return False
    try:
        expected = datetime.fromisoformat(truth.strip())
    except ValueError:
        return False
    if isinstance(got, datetime):
        if got.tzinfo and expected.tzinfo:
            got = got.astimezone(expected.tzinfo)
        got = got.date()
    return got == expected.date()


_BY = re.compile(r"^\s*(?:by|par|von|por|di|written by)\s+", re.IGNORECASE)
_NAME_SEPARATORS = re.compile(r"\s*(?:,|;|&|\band\b|\bet\b|\bund\b|\by\b|\be\b|\|)\s*", re.IGNORECASE)


def names(text: str) -> list[str]:
    return [n for part in _NAME_SEPARATORS.split(" ".join(text.split())) if len(n := _BY.sub("", part).casefold()) > 2]


def author_found(truth: list[str], got: str) -> bool:
    if not got:
        return False
    got_text, truth_text = " ".join(got.split()).casefold(), " ".join(" ".join(truth).split()).casefold()
    return any(n in got_text for t in truth for n in names(t)) or any(n in truth_text for n in names(got))


def run(realnews, pages: list[Truth], readers: dict[str, Callable[[Truth], Reading]]) -> tuple[dict, list[dict]]:
    scores = {name: {source: Score() for source in ("all", *SOURCES)} for name in readers}
    rows: list[dict] = []
    for read in readers.values():     # warm-up: first-call imports and caches are not a page's cost
        read(pages[0])
    for page in pages:
        row: dict = {"source": page.source, "page": page.page}
        for name, read in readers.items():
            started = time.perf_counter()
            got = read(page)
            ms = (time.perf_counter() - started) * 1000
            f1 = body_f1(realnews, page.body, got.body)
            row[name] = {"f1": round(f1, 4), "ms": round(ms, 2), "title": got.title, "error": got.error}
            for score in (scores[name]["all"], scores[name][page.source]):
                score.f1.append(f1)
                score.ms.append(ms)
                score.errors += bool(got.error)
                if page.title:
                    score.title.append(same_title(page.title, got.title))
                    score.headline.append(same_headline(realnews, page.title, got.title))
                if page.published:
                    score.date.append(same_day(page.published, got.published))
                if page.authors:
                    score.author.append(author_found(page.authors, got.author))
        rows.append(row)
    return {name: {source: s.summary() for source, s in by_source.items() if s.f1}
            for name, by_source in scores.items()}, rows


# ---------------------------------------------------------------- edits and rotating chrome

@dataclass(slots=True)
class EditScore:
    expected: int = 0      # articles edited in a phase (unpublishing aside)
    found: int = 0         # of those, read with another text
    false: int = 0         # articles read with another text though nothing was edited
    errors: int = 0        # fetches the extractor refused
    misses: list[str] = field(default_factory=list)
    false_changes: list[str] = field(default_factory=list)


def run_edits(data: Path, source: str, seed: int, phases: int = 3) -> EditScore:
    """Serve the source's pages as one edited, noisy site; read every article after every phase."""
    from monitor.compare.versioning import comparable_text
    from monitor.extract import ExtractionError, PageError, read_article
    from monitor.extract.generic import extract_generic

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, str(data / "realnews.py"), "serve", "--source", source, "--pages",
                               "1000", "--seed", str(seed), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path: str) -> tuple[bytes, str | None]:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            return response.read(), response.headers.get("Content-Type")

    def read(path: str, score: EditScore) -> object:
        try:
            raw, content_type = get(path)
            return comparable_text(read_article(raw, base + path, content_type, "utf-8", extract_generic)[1])
        except (ExtractionError, PageError) as error:
            score.errors += 1
            return str(error)

    score = EditScore()
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                get("/_sim/state")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"extractors: realnews.py serve --source {source} did not start") from None
                time.sleep(0.5)
        truth = json.loads(get("/_sim/truth")[0])
        seen = {a["url"]: read(a["url"], score) for a in truth["articles"] if a["status"] == "live"}
        for url, text in seen.items():             # the same phase again: per-request noise only
            if read(url, score) != text:
                score.false += 1
                score.false_changes.append(f"phase 0 {url}")
        for phase in range(1, phases + 1):
            urllib.request.urlopen(urllib.request.Request(base + "/_sim/advance", method="POST"), timeout=60).read()
            truth = json.loads(get("/_sim/truth")[0])
            edited = {e["url"] for e in truth["edits"] if e["phase"] == phase and e["kind"] != "unpublish"}
            for article in truth["articles"]:
                url = article["url"]
                if article["status"] != "live" or url not in seen:
                    continue
                text = read(url, score)
                changed, seen[url] = text != seen[url], text
                if url in edited:
                    score.expected += 1
                    score.found += changed
                    if not changed:
                        score.misses.append(f"phase {phase} {url}")
                elif changed:
                    score.false += 1
                    score.false_changes.append(f"phase {phase} {url}")
    finally:
        server.terminate()
        server.wait()
    return score


# ---------------------------------------------------------------- output

def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def table(results: dict, scope: str) -> str:
    names_ = list(results)
    summaries = [results[n][scope] for n in names_]
    lines = [f"{'':28}" + "".join(f"{n:>36}" for n in names_)]
    for label, cell in (
            ("body F1 mean", lambda s: f"{s['body_f1_mean']:.3f}"),
            ("body F1 >= 0.9", lambda s: percent(s["body_f1_ge_0_9"])),
            ("title exact", lambda s: f"{percent(s['title_exact'])} of {s['title_pages']}"),
            ("title, names aside", lambda s: f"{percent(s['title_names_aside'])} of {s['title_pages']}"),
            ("published same day", lambda s: f"{percent(s['date_same_day'])} of {s['date_pages']}"),
            ("author found", lambda s: f"{percent(s['author_found'])} of {s['author_pages']}"),
            ("ms per page (median)", lambda s: f"{s['ms_median']:.1f}"),
            ("pages refused", lambda s: str(s["refused"]))):
        lines.append(f"{label:28}" + "".join(f"{cell(s):>36}" for s in summaries))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the realpages folder (default: %(default)s)")
    parser.add_argument("--source", choices=SOURCES, action="append", help="only these sources (default: both)")
    parser.add_argument("--limit", type=int, help="at most this many pages per source")
    parser.add_argument("--worst", type=int, default=0, help="list the N pages the generic extractor reads worst")
    parser.add_argument("--json", metavar="FILE", help="write the results (and every page's) as JSON; - for stdout")
    parser.add_argument("--edits", type=int, nargs="*", metavar="SEED",
                        help="also read the edited, noisy site realnews.py serves, with these seeds")
    args = parser.parse_args(argv)

    realnews = load_realnews(args.data)
    if realnews is None:
        print(f"extractors: skipped: no real pages at {args.data} (realnews.py and ../newsroom/evaluate.py are "
              "needed; they come with the shared checkout beside the repository, or name the folder with --data)",
              file=sys.stderr)
        return 0
    sources = tuple(args.source or SOURCES)
    pages = load_pages(realnews, sources, args.limit)
    generic_name, generic = generic_reader()
    plain_name, plain = trafilatura_reader()
    results, rows = run(realnews, pages, {generic_name: generic, plain_name: plain})

    counts = " + ".join(f"{s} {sum(p.source == s for p in pages)}" for s in sources)
    print(f"real pages: {counts} = {len(pages)} pages (python bench/extractors.py)\n")
    print(table(results, "all"))
    if len(sources) > 1:
        for source in sources:
            print(f"\n{source}:\n" + table(results, source))
    if args.worst:
        print(f"\nworst {args.worst} for {generic_name} (F1 generic / trafilatura):")
        for row in sorted(rows, key=lambda r: r[generic_name]["f1"])[:args.worst]:
            print(f"  {row['source']:12} {row['page']:28} {row[generic_name]['f1']:.3f} / {row[plain_name]['f1']:.3f}"
                  f"  {row[generic_name]['error']}")
    edits = []
    for seed in args.edits or ():
        print(f"\nedits and rotating chrome, seed {seed} (generic extractor alone, 3 phases):")
        for source in sources:
            e = run_edits(args.data, source, seed)
            edits.append({"source": source, "seed": seed, "expected": e.expected, "found": e.found,
                          "false": e.false, "errors": e.errors, "misses": e.misses, "false_changes": e.false_changes})
            print(f"  {source:12} edits read {e.found} of {e.expected} · false changes {e.false} · refused {e.errors}")
            for line in [f"miss  {m}" for m in e.misses] + [f"false {f}" for f in e.false_changes]:
                print(f"    {line}")
    emit_json({"results": results, "pages": rows, "edits": edits}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
