"""Reading one lepetitjournal-style article page: `read_article` with the site's extractor, page by page.

    .venv/bin/python bench/lepetitjournal_extraction.py                          # the working tree
    .venv/bin/python bench/lepetitjournal_extraction.py --baseline HEAD           # + the code at HEAD, side by side
    .venv/bin/python bench/lepetitjournal_extraction.py --articles 30 --passes 5 --json -
    .venv/bin/python bench/lepetitjournal_extraction.py --save readings.pickle    # the corpus and its readings
    .venv/bin/python bench/lepetitjournal_extraction.py --check readings.pickle   # every page read as saved
    .venv/bin/python bench/lepetitjournal_extraction.py --check --baseline HEAD   # every page read as at HEAD

The corpus is rendered once, by tests/fakesite.py, before anything is timed: for both themes (`classic`, the
Drupal-era layout; `modern`, the Next.js-era one) and with the site's noise off and on (per-request counters,
tokens and rotating chrome lists), `--articles` articles of varied editions, sections, lengths (1 to 12
paragraphs), seeds and blocks (quotes, intertitles, inline images and related boxes left out in turn), some
with an update date. Then an edited version of each page (title, lead, author, a paragraph, blocks added or
taken out, the update date, an edition moved), the same pages served with other encoding claims (no header, a
Latin-1 header that the page's <meta charset> contradicts, a byte-order mark), pages that take the layouts'
other paths (no __NEXT_DATA__ or JSON-LD, no title field or <h1>, another article's canonical link, no
author, date or main caption, their classes on other elements first: LAYOUT_CHANGES), and pages that must be
refused (a listing page at an article URL, a page cut short, a page with no body).

The timed function is `monitor.extract.read_article(body, url, content_type, "utf-8", extractor)` with the
extractor of `monitor.extract.registry.site_readers("lepetitjournal")`. Each code version reads the corpus in a
process of its own (`_read`, with that code first on its PYTHONPATH): one untimed pass (imports, caches, the
readings), then `--passes` timed passes. With `--baseline REF` (`git archive REF monitor`, extracted into a
temporary folder) the two processes take turns of TURN pages (~20 ms), which one goes first alternating: this
machine's speed drifts by a fifth within a second, so a noisy moment hits both alike. The figures are µs per
page (a pass's time over a group's pages), the median of the passes [min-max], and the median [min-max] of the
passes' ratios baseline / working tree (above 1: the working tree is faster).

`--check` compares the readings, page by page: `repr()` of the ExtractedArticle and the encoding it was read in
(or the error's class and message), against a file written by `--save` (its own corpus, so noisy pages are the
same bytes) or against the code at `--baseline REF`. It prints every page that reads otherwise and exits 1 if
there is one.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path

if TYPE_CHECKING:
    from tests.fakesite import FakeArticle, FakeSite

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://www.lepetitjournal.com"
FIRST_ID = 431000
HTML_UTF8 = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Page:
    group: str                  # "theme/noise/kind": the figures are per theme and noise
    url: str
    body: bytes
    content_type: str | None


# ====================================================================== the corpus

def build_corpus(articles: int) -> list[Page]:
    """Every page the bench reads: per theme and noise setting, the articles, their edited versions, their
    encoding variants, variants of their layout and a few pages that must be refused."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    pages: list[Page] = []
    for theme in ("classic", "modern"):
        for noise in (False, True):
            pages += site_pages(theme, noise, articles)
    return pages


def site_pages(theme: str, noise: bool, articles: int) -> list[Page]:
    from tests.fakesite import EDITIONS, FakeSite

    site = FakeSite(theme=theme, noise=noise, editions=tuple(EDITIONS))
    for i in range(articles):
        site.add(varied_article(i, tuple(EDITIONS)))
    group = f"{theme}/{'noise' if noise else 'quiet'}"
    originals = [Page(f"{group}/original", BASE_URL + a.url, render(site, a), HTML_UTF8) for a in site.articles]
    for i, a in enumerate(site.articles):
        edit(site, a.id, i)
    edited = [Page(f"{group}/edited", BASE_URL + a.url, render(site, a), HTML_UTF8) for a in site.articles]
    return (originals + edited + list(encoding_variants(originals[:12])) + list(layout_variants(originals[:24]))
            + refused_pages(site, group))


def varied_article(i: int, editions: tuple[str, ...]) -> FakeArticle:
    """The i-th article: every edition, 1 to 12 paragraphs, optional blocks left out in turn."""
    from tests.fakesite import BASE_TIME, make_article

    article = make_article(FIRST_ID + 7 * i, editions[i % len(editions)], paragraphs=1 + i % 12,
                           seed=None if i % 3 else f"s{i}", with_quote=i % 4 != 1, with_intertitle=i % 5 != 2,
                           with_related=i % 6 != 3, with_inline_image=i % 7 != 4)
    if i % 4 == 0:
        article.updated = BASE_TIME + timedelta(days=1 + i % 9, hours=i % 13, minutes=i % 60)
    return article


def edit(site: FakeSite, id: int, i: int) -> None:
    """One edit of the article, of a kind chosen by i: what newsmon must then read as changed."""
    from tests.fakesite import BASE_TIME, EDITIONS, Block

    a = site.article(id)
    kind = i % 7
    if kind == 0:
        site.edit(id, title=a.title + " (actualisé)", updated=BASE_TIME + timedelta(days=3, hours=5, minutes=i))
    elif kind == 1:
        site.edit(id, lead=a.lead.replace(" ", "\u00a0", 1) + " Précision\u202f: la date a changé.")
    elif kind == 2:
        site.edit(id, author=a.author.upper() + " et Léa NGUYEN")
    elif kind == 3:
        blocks = [replace(b, text=b.text + " Une phrase ajoutée.") if b.kind == "p" else b for b in a.blocks]
        site.edit(id, blocks=blocks)
    elif kind == 4:
        site.edit(id, blocks=a.blocks + [Block("h2", "Un intertitre ajouté"), Block("p", "Un  paragraphe\n ajouté.")])
    elif kind == 5:
        site.edit(id, blocks=[b for b in a.blocks if b.kind != "quote"] or a.blocks)
    else:
        site.edit(id, edition=next(e for e in EDITIONS if e != a.edition), updated=None)


def render(site: FakeSite, article: FakeArticle) -> bytes:
    """The article's page as the site serves it (noise drawn anew when the site has noise on)."""
    from tests.fakesite import THEMES, _Noise, _Renderer

    return THEMES[site.theme](_Renderer(site, _Noise(site.noise)), article).encode()


def encoding_variants(pages: list[Page]) -> Iterator[Page]:
    """The same pages with other encoding claims: none in the header (the page's <meta charset> decides), a
    Latin-1 header the page contradicts (both are tried), a UTF-8 byte-order mark."""
    for i, page in enumerate(pages):
        group = page.group.rsplit("/", 1)[0] + "/encoding"
        if i % 3 == 0:
            yield replace(page, group=group, content_type=None)
        elif i % 3 == 1:
            yield replace(page, group=group, content_type="text/html; charset=iso-8859-1")
        else:
            yield replace(page, group=group, body=b"\xef\xbb\xbf" + page.body)


# Pages that take the layouts' other paths, made by a change of the page's bytes: (what it removes, from, to).
LAYOUT_CHANGES = (
    ("next data", b'id="__NEXT_DATA__"', b'id="__OTHER_DATA__"'),     # the modern layout read from its DOM
    ("structured data", b'application/ld+json', b'application/x-json'),
    ("title field", b"field--name-title", b"field--name-headline"),   # the title from the <h1>...
    ("headline", b"<h1 ", b"<h2 "),                                  # ... or from og:title
    ("canonical", b'rel="canonical" href="', b'rel="canonical" href="/cambodge/autre-999999#'),
    ("author", b"Author_name", b"Byline_name"),
    ("dateline", b'class="date"', b'class="dateline"'),
    ("byline", b'class="author"', b'class="byline"'),
    ("date", b'class="date"', b'class="when"'),
    ("main caption", b'class="image-caption"', b'class="legend"'),
    # Classes the Drupal layout looks for inside others, outside them and first in the page.
    ("decoys", b'<div class="breadcrumb">',
     b'<div class="date author image-caption">Hier</div><div class="breadcrumb">'),
)


def layout_variants(pages: list[Page]) -> Iterator[Page]:
    """The pages with a part of their layout missing or changed (LAYOUT_CHANGES, in turn; the modern pages
    without __NEXT_DATA__ as well, so that their DOM is read)."""
    for i, page in enumerate(pages):
        group = page.group.rsplit("/", 1)[0] + "/layout"
        body = page.body.replace(*LAYOUT_CHANGES[0][1:]) if i % 2 else page.body
        for _, old, new in LAYOUT_CHANGES[i % len(LAYOUT_CHANGES):][:2]:
            body = body.replace(old, new)
        yield replace(page, group=group, body=body)


def refused_pages(site: FakeSite, group: str) -> list[Page]:
    """Pages read_article must refuse: a listing at an article URL, one cut short, one with no body."""
    from tests.fakesite import _Noise, _Renderer

    a = site.articles[0]
    listing = _Renderer(site, _Noise(site.noise)).front(a.edition, 0).encode()
    whole = render(site, a)
    no_body = whole.replace(b"field--name-body", b"field--name-tags").replace(b"Article_body", b"Article_tags")
    no_body = no_body.replace(b"__NEXT_DATA__", b"__OTHER_DATA__")
    return [Page(f"{group}/refused", BASE_URL + a.url, body, HTML_UTF8)
            for body in (listing, whole[:len(whole) // 2], no_body)] + [
        Page(f"{group}/refused", BASE_URL + f"/{a.edition}", whole, HTML_UTF8)]


# ====================================================================== reading (in a process per code version)

def serve_readings(corpus_file: Path) -> None:
    """`_read`: the readings of every page (one line of JSON), then, for each range of pages read on stdin
    ("START END"), the ns that reading each of them again took (one line of JSON)."""
    from monitor.extract import read_article
    from monitor.extract.registry import site_readers

    pages: list[Page] = pickle.loads(corpus_file.read_bytes())
    extractor = site_readers("lepetitjournal")[0]

    def read(page: Page) -> str:
        try:
            encoding, article = read_article(page.body, page.url, page.content_type, "utf-8", extractor)
        except ValueError as error:       # PageError, ExtractionError
            return f"{type(error).__name__}: {error}"
        return f"{encoding} {article!r}"

    print(json.dumps([read(page) for page in pages]), flush=True)
    clock = time.perf_counter_ns
    for line in sys.stdin:
        first, end = map(int, line.split())
        times = []
        for page in pages[first:end]:
            start = clock()
            read(page)
            times.append(clock() - start)
        print(json.dumps(times), flush=True)


class Reader:
    """A process reading the corpus with `code` first on its path; its readings come first, then pages, timed,
    on demand."""

    def __init__(self, code: Path, corpus_file: Path):
        env = {**os.environ, "PYTHONHASHSEED": "0",
               "PYTHONPATH": os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH")) if p)}
        self.process = subprocess.Popen([sys.executable, __file__, "_read", str(corpus_file)], env=env,
                                        cwd=corpus_file.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.readings: list[str] = json.loads(self.process.stdout.readline())

    def time_pages(self, pages: range) -> list[int]:
        self.process.stdin.write(f"{pages.start} {pages.stop}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def extract_baseline(ref: str, work: Path) -> Path:
    """monitor/ as committed at `ref` (read-only: git archive), in WORK/baseline."""
    dest = work / "baseline"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "monitor"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {ref}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


# ====================================================================== figures

def per_page_us(pages: list[Page], timings: list[list[int]], prefix: str) -> list[float]:
    """µs per page of the pages whose group starts with `prefix`, one figure per pass."""
    chosen = [i for i, page in enumerate(pages) if page.group.startswith(prefix)]
    return [sum(times[i] for i in chosen) / len(chosen) / 1000 for times in timings]


def summary(values: list[float], digits: int = 1) -> dict:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def report(pages: list[Page], timings: dict[str, list[list[int]]]) -> dict:
    """Per theme and noise setting, and over all pages: µs per page of each code version and, with a baseline,
    the median of the ratios baseline / tree of passes run one after the other (the machine's speed drifts
    more between rounds than between two passes)."""
    prefixes = ["", *dict.fromkeys(page.group.rsplit("/", 1)[0] for page in pages)]
    rows = {}
    print(f"{'pages':16s} {'n':>5s}" + "".join(f" {name + ' µs/page':>26s}" for name in timings)
          + ("   base/tree [min-max]" if len(timings) > 1 else ""))
    for prefix in prefixes:
        passes = {name: per_page_us(pages, t, prefix) for name, t in timings.items()}
        row: dict = {"pages": sum(page.group.startswith(prefix) for page in pages),
                     **{name: summary(values) for name, values in passes.items()}}
        line = f"{prefix or 'all':16s} {row['pages']:5d}" + "".join(
            f" {row[name]['median']:9.1f} [{row[name]['min']:.1f}-{row[name]['max']:.1f}]".rjust(27) for name in passes)
        if "baseline" in passes:
            row["ratio"] = summary([b / t for b, t in zip(passes["baseline"], passes["tree"], strict=True)], 3)
            line += f"   {row['ratio']['median']:.3f} [{row['ratio']['min']:.3f}-{row['ratio']['max']:.3f}]"
        print(line)
        rows[prefix or "all"] = row
    return rows


def compare(pages: list[Page], expected: list[str], found: list[str], against: str) -> int:
    """Every page whose reading differs from the expected one, printed; the exit status."""
    differ = [i for i, (a, b) in enumerate(zip(expected, found, strict=True)) if a != b]
    for i in differ:
        print(f"DIFFERS {pages[i].group} {pages[i].url}\n  {against}: {expected[i]}\n  tree:     {found[i]}")
    print(f"check: {len(pages)} pages compared with {against}, {len(pages) - len(differ)} read the same, "
          f"{len(differ)} differ")
    return 1 if differ else 0


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "_read":
        serve_readings(Path(sys.argv[2]))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=60, help="articles per theme and noise setting (60)")
    parser.add_argument("--passes", type=int, default=15, help="timed passes over the corpus per code version (15)")
    parser.add_argument("--baseline", metavar="REF", help="also the code at this git ref (git archive REF monitor)")
    parser.add_argument("--save", metavar="FILE", type=Path, help="write the corpus and the tree's readings to FILE")
    parser.add_argument("--check", metavar="FILE", nargs="?", const="", type=str,
                        help="compare the tree's readings with FILE's (from --save), or with --baseline's")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE (- for stdout)")
    args = parser.parse_args()
    if args.check == "" and not args.baseline:
        parser.error("--check needs a FILE written by --save, or --baseline REF")

    with tempfile.TemporaryDirectory(prefix="lpj-bench-") as tmp:
        work = Path(tmp)
        saved = pickle.loads(Path(args.check).read_bytes()) if args.check else None
        pages = saved["pages"] if saved else build_corpus(args.articles)
        corpus_file = work / "corpus.pickle"
        corpus_file.write_bytes(pickle.dumps(pages))
        codes = {"tree": ROOT}
        if args.baseline:
            codes["baseline"] = extract_baseline(args.baseline, work)
        readers = {name: Reader(code, corpus_file) for name, code in codes.items()}
        try:
            if args.check is not None or args.save:
                return check(args, pages, saved, {name: reader.readings for name, reader in readers.items()})
            timings = timed_passes(readers, len(pages), args.passes)
        finally:
            for reader in readers.values():
                reader.close()
    print(f"{len(pages)} pages, {args.passes} passes per code version (after one untimed pass)"
          + (f"; baseline {args.baseline}" if args.baseline else ""))
    rows = report(pages, timings)
    emit_json({"pages": len(pages), "passes": args.passes, "baseline": args.baseline, "figures": rows}, args.json)
    return 0


# Pages a code version reads in one turn: turns of ~20 ms. Shorter ones read every page with the caches cold
# from the other process's turn; whole passes as turns compared the machine's drift more than the code.
TURN = 16


def timed_passes(readers: dict[str, Reader], pages: int, passes: int) -> dict[str, list[list[int]]]:
    """Per code version, per pass, the ns each page took. The versions take turns (TURN pages each, which goes
    first alternating): this machine's speed drifts by a fifth within a second."""
    timings: dict[str, list[list[int]]] = {name: [] for name in readers}
    for n in range(passes):
        for times in timings.values():
            times.append([])
        for turn, first in enumerate(range(0, pages, TURN)):
            for name in list(readers)[::1 if (n + turn) % 2 == 0 else -1]:
                timings[name][-1] += readers[name].time_pages(range(first, min(first + TURN, pages)))
    return timings


def check(args: argparse.Namespace, pages: list[Page], saved: dict | None, readings: dict[str, list[str]]) -> int:
    """--save and --check: write the tree's readings, and compare them with the saved ones or the baseline's."""
    if args.save:
        args.save.write_bytes(pickle.dumps({"pages": pages, "readings": readings["tree"]}))
        print(f"saved {len(pages)} pages and their readings to {args.save}")
    if args.check is None:
        return 0
    expected, against = (saved["readings"], args.check) if saved else (readings["baseline"], args.baseline)
    status = compare(pages, expected, readings["tree"], against)
    emit_json({"pages": len(pages), "against": against, "same": status == 0}, args.json)
    return status


if __name__ == "__main__":
    sys.exit(main())
