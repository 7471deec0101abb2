"""End-to-end crawl throughput: newsmon (first crawl, unchanged re-check) next to a bare Scrapy spider.

    .venv/bin/python bench/crawl_throughput.py                      # 2000 articles, 5 rounds
    .venv/bin/python bench/crawl_throughput.py --articles 500 --repeat 3 --json -
    .venv/bin/python bench/crawl_throughput.py --profile py-spy     # + where the re-check's time goes
    .venv/bin/python bench/crawl_throughput.py --repeat 0 --profile py-spy --profile-run first  # the first crawl's
    .venv/bin/python bench/crawl_throughput.py --baseline HEAD~1    # + newsmon at that git ref, same rounds

What it does, in one run:

1. Renders a lepetitjournal-style site with tests/fakesite.py (noise off, so every page is byte-stable):
   home page, robots.txt, every edition's front pages and RSS feed, the sitemap index and per-edition
   sitemaps, and N article pages. Every page is rendered once, before anything is timed.
2. Serves those bytes from memory in a separate process (`--server raw`: a bare asyncio protocol writing
   pre-built responses, keep-alive; `--server twisted`: a twisted.web leaf resource), and measures the
   server alone with a keep-alive load generator in another process, so you can see it is not the limit.
3. Times three commands as whole processes, round after round, in a rotating order so machine noise hits
   them alike:
     first    `newsmon --db EMPTY crawl lepetitjournal --base-url URL`           (discovery + N new)
     recheck  `newsmon --db COPY crawl lepetitjournal --base-url URL --all --no-discovery`
              (N unchanged; COPY is a fresh copy of a database holding one first crawl)
     bare     a Scrapy spider defined here, in its own process, fetching the same N article URLs with
              newsmon's concurrency settings for loopback hosts (monitor/settings.py), doing a CSS select of
              the title and nothing else; no storage.
   With `--baseline REF` (a git ref), two more: `first@base` and `recheck@base`, the same two newsmon
   commands run with the code of REF (`git archive REF monitor spiders scrapy.cfg tests/__init__.py
   tests/fakesite.py`, first on their PYTHONPATH) instead of the working tree's; each code version re-checks
   copies of its own template database (an older schema refuses a database migrated by newer code). The
   pages are still rendered once, by the working tree's tests/fakesite.py, and served by the same server.
4. Prints medians [min-max] and, per round, the ratios newsmon/bare of articles per second; with
   --baseline also the baseline's figures, its ratios to bare and the per-round ratios working tree/baseline
   (the targets stay about the working tree).

The code measured is a copy of monitor/, spiders/ and tests/fakesite.py taken at start (first on every
child's PYTHONPATH), so edits saved while the bench runs do not mix into its rounds; --live-code runs the
working tree itself (the baseline is always a copy, extracted from git). A run whose counts are wrong (not
N new / N unchanged / N titles, or any error) is reported and left out of the figures.

Internal sub-commands (the bench starts them itself): `_serve`, `_load`, `_bare`, `_gc`.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jsonout import emit_json  # noqa: E402 - bench/ is the script's own folder on sys.path

ROOT = Path(__file__).resolve().parents[1]
# The code measured: a copy of the product taken when the bench starts (see snapshot_code), passed to every
# process the bench starts; the repository itself when run alone.
CODE = Path(os.environ.get("NEWSMON_BENCH_CODE") or ROOT)
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

VENV_BIN = Path(sys.executable).parent
FIRST_ID = 431000
# Suffix of the kinds run with the baseline's code (--baseline): "first@base", "recheck@base".
BASE = "@base"
SUMMARY = re.compile(r"checked (?P<checked>\d+) · new (?P<new>\d+) · changed (?P<changed>\d+) · dates only "
                     r"(?P<metadata>\d+) · unchanged (?P<unchanged>\d+) · gone (?P<gone>\d+) · errors "
                     r"(?P<error>\d+) · (?P<mb>[\d.]+) MB in (?P<seconds>[\d.]+) s")


# ====================================================================== the pages

def render_site(n: int, theme: str, paragraphs: int, base: str) -> tuple[dict[bytes, bytes], list[str], dict]:
    """Every page of the site as a complete HTTP/1.1 response (status line, headers, body), keyed by the
    request target; plus the article URLs and a few facts about the pages."""
    from tests.fakesite import EDITIONS, HTML, PAGE_SIZE, THEMES, FakeSite, _Noise, _Renderer, make_article

    editions = tuple(EDITIONS)
    site = FakeSite(theme=theme, noise=False, editions=editions)
    for i in range(n):
        site.add(make_article(FIRST_ID + i, editions[i % len(editions)], paragraphs=paragraphs))
    articles = site.articles

    # The site is frozen while we render: replace two O(N) look-ups done per page by cached ones, so
    # rendering 2000 pages takes seconds, not minutes. The bytes are the same (checked below).
    href_by_title = {a.title: a.url for a in articles}
    live_cache: dict[str | None, list] = {}
    live = site._live

    def cached_live(edition: str | None = None) -> list:
        if edition not in live_cache:
            live_cache[edition] = live(edition)
        return live_cache[edition]

    sample = [site._route(a.url, {}, base, conditional=False) for a in articles[:3]]
    site._related_href = lambda title: href_by_title.get(title, "#")  # type: ignore[method-assign]
    site._live = cached_live  # type: ignore[method-assign]

    responses: dict[bytes, bytes] = {}

    def put(target: str, status: int, headers: dict[str, str], body: bytes) -> None:
        reason = {200: "OK", 404: "Not Found"}.get(status, "OK")
        head = f"HTTP/1.1 {status} {reason}\r\nServer: bench\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        responses[target.encode()] = head.encode("latin-1") + body

    listing_targets = ["/robots.txt", "/", "/sitemap.xml"]
    for edition in editions:
        listing_targets += [f"/sitemap-{edition}.xml", f"/{edition}/rss.xml", f"/{edition}"]
        pages = max(1, -(-len(cached_live(edition)) // PAGE_SIZE))
        listing_targets += [f"/{edition}?page={p}" for p in range(1, pages)]
    for target in listing_targets:
        r = site._route(target, {}, base, conditional=False)
        put(target, r.status, r.headers, r.body)

    sizes = []
    for a in articles:
        body = THEMES[site.theme](_Renderer(site, _Noise(False)), a).encode()
        changed = a.updated or a.published
        headers = {"Content-Type": HTML, "ETag": site._etag(a),
                   "Last-Modified": format_datetime(changed.astimezone(timezone.utc), usegmt=True),
                   "Cache-Control": "max-age=60"}
        put(a.url, 200, headers, body)
        sizes.append(len(body))
    for a, r in zip(articles, sample):
        if responses[a.url.encode()].split(b"\r\n\r\n", 1)[1] != r.body:
            raise SystemExit(f"bench rendering differs from FakeSite's for {a.url}")
    urls = [base + a.url for a in articles]
    facts = {"article_bytes_median": int(statistics.median(sizes)), "listing_pages": len(listing_targets),
             "editions": len(editions)}
    return responses, urls, facts


NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n\r\n"
             b"Not found")


def lookup(responses: dict[bytes, bytes], target: bytes) -> bytes:
    found = responses.get(target)
    if found is None:
        path, _, query = target.partition(b"?")
        path = path.rstrip(b"/") or b"/"
        found = responses.get(path + (b"?" + query if query else b""), NOT_FOUND)
    return found


# ====================================================================== the server (its own process)

def serve_raw(responses: dict[bytes, bytes], port: int) -> None:
    """Pre-built responses written straight to the socket: request parsing is a find() and a split()."""
    import asyncio

    class Page(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buf = transport, b""

        def data_received(self, data: bytes) -> None:
            buf = self.buf + data
            while (end := buf.find(b"\r\n\r\n")) >= 0:
                head, buf = buf[:end], buf[end + 4:]
                line = head.split(b"\r\n", 1)[0].split(b" ")
                if len(line) < 3:
                    self.transport.close()
                    return
                resp = lookup(responses, line[1])
                if line[0] == b"HEAD":
                    resp = resp.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                self.transport.write(resp)
                if b"\r\nconnection: close" in head.lower():
                    self.transport.close()
                    return
            self.buf = buf

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Page, "127.0.0.1", port, backlog=512)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def serve_twisted(responses: dict[bytes, bytes], port: int) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    parsed = {}
    for target, raw in responses.items():
        head, body = raw.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = [tuple(h.split(b": ", 1)) for h in lines[1:] if not h.lower().startswith(b"content-length")]
        parsed[target] = (status, headers, body)

    class Pages(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            status, headers, body = parsed.get(request.uri) or parsed.get(request.path) or (404, [], b"Not found")
            request.setResponseCode(status)
            for k, v in headers:
                request.setHeader(k, v)
            return body

        render_HEAD = render_GET

    site = Site(Pages())
    site.log = lambda request: None  # no access log
    reactor.listenTCP(port, site, backlog=512, interface="127.0.0.1")
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


def cmd_serve(args: list[str]) -> None:
    pages, port, kind = args[0], int(args[1]), args[2]
    with open(pages, "rb") as f:
        responses = pickle.load(f)
    (serve_raw if kind == "raw" else serve_twisted)(responses, port)


# ====================================================================== the load generator (its own process)

def cmd_load(args: list[str]) -> None:
    """Keep-alive GETs of the article pages over `conns` connections for `seconds`; prints req/s."""
    import asyncio

    port, urls_file, conns, seconds = int(args[0]), args[1], int(args[2]), float(args[3])
    targets = [u.split("/", 3)[3] for u in Path(urls_file).read_text().split()]
    done = 0
    nbytes = 0

    async def client(k: int, stop_at: float) -> None:
        nonlocal done, nbytes
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < stop_at:
            writer.write(f"GET /{targets[i % len(targets)]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            i += conns
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = await reader.readexactly(length)
            done += 1
            nbytes += len(head) + len(body)
        writer.close()

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(client(k, start + seconds) for k in range(conns)))
        return time.perf_counter() - start

    elapsed = asyncio.run(main())
    print(json.dumps({"requests": done, "seconds": elapsed, "rps": done / elapsed, "mb": nbytes / 1e6}))


# ====================================================================== the bare spider (its own process)

def cmd_bare(args: list[str]) -> None:
    """A bare Scrapy spider: the same URLs, newsmon's concurrency for loopback hosts, a CSS select, no storage.
    Arguments: URLS_FILE [SETTING=VALUE ...] (overrides, for experiments by hand)."""
    import scrapy
    from scrapy.crawler import AsyncCrawlerProcess

    from monitor.config import SiteConfig
    from monitor.crawl.runner import site_settings

    urls = Path(args[0]).read_text().split()
    # The pace newsmon's crawl takes for this (loopback) site, from the same function newsmon uses.
    ns = site_settings(SiteConfig("bare", "lepetitjournal", base_url=urls[0].rsplit("/", 3)[0]),
                       db_url="sqlite://", revisit="none")

    class BareSpider(scrapy.Spider):
        name = "bare"
        pages = 0
        titles = 0

        async def start(self):  # noqa: ANN202
            for url in urls:
                yield scrapy.Request(url, callback=self.parse)

        def parse(self, response):  # noqa: ANN001, ANN202
            self.pages += 1
            if response.css("h1 ::text").get():
                self.titles += 1

    # Not the project's settings module: no pipeline, no frontier, no robots.txt; only what sets the pace.
    pace = ("CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY", "DOWNLOAD_TIMEOUT",
            "RETRY_TIMES", "USER_AGENT")
    settings = {name: ns[name] for name in pace} | {"TELNETCONSOLE_ENABLED": False, "LOG_LEVEL": "WARNING",
                                                     "ROBOTSTXT_OBEY": False}
    settings.update(dict(a.split("=", 1) for a in args[1:]))
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    started = time.monotonic()  # as monitor/crawl/runner.py's run_crawl measures its own seconds
    process.crawl(crawler)
    process.start()
    seconds = time.monotonic() - started
    spider = crawler.spider
    print(json.dumps({"pages": spider.pages, "titles": spider.titles, "seconds": seconds,
                      "status_200": crawler.stats.get_value("downloader/response_status_count/200", 0)}))


# ====================================================================== garbage collection timing (its own process)

def cmd_gc(args: list[str]) -> None:
    """_gc OUT.json (monitor ARGS... | _bare ARGS...): run newsmon or the bare spider, timing every collection
    of the cyclic garbage collector through gc.callbacks; the totals go to OUT.json at exit."""
    import atexit
    import gc
    import runpy

    out, what, rest = args[0], args[1], args[2:]
    counts, seconds, started = [0, 0, 0], [0.0, 0.0, 0.0], [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            counts[info["generation"]] += 1
            seconds[info["generation"]] += time.perf_counter() - started[0]

    atexit.register(lambda: Path(out).write_text(json.dumps({"collections": counts, "seconds": seconds})))
    gc.callbacks.append(timer)
    if what == "_bare":
        cmd_bare(rest)
    else:
        sys.argv = [what, *rest]
        runpy.run_module(what, run_name="__main__", alter_sys=True)


def gc_times(bench: Bench) -> dict:
    """Seconds spent in the garbage collector, per generation, in one re-check and one bare crawl."""
    db = bench.work / "gc.db"
    shutil.copyfile(bench.template, db)
    res = {}
    me = str(Path(__file__).resolve())
    for which, target in (("recheck", ["monitor", "--db", f"sqlite:///{db}", "crawl", "lepetitjournal", "--base-url",
                                       bench.base, "--all", "--no-discovery"]),
                          ("bare", ["_bare", str(bench.urls_file), *bench.args.bare_setting])):
        out = bench.work / f"gc-{which}.json"
        wall, cpu, _, _, _ = timed([sys.executable, me, "_gc", str(out), *target], bench.server_pid, bench.log)
        res[which] = {"wall": wall, "cpu": cpu, **json.loads(out.read_text())}
    return res


def print_gc(g: dict) -> None:
    print("\ngarbage collector (gc.callbacks), one run each:")
    print(f"    {'':10}{'wall s':>8}{'cpu s':>8}{'gc s':>7}   collections gen0/1/2   seconds gen0/1/2")
    for which in ("recheck", "bare"):
        r = g[which]
        print(f"    {which:10}{r['wall']:8.2f}{r['cpu']:8.2f}{sum(r['seconds']):7.2f}   "
              f"{'/'.join(map(str, r['collections'])):>22}   {'/'.join(f'{x:.2f}' for x in r['seconds'])}")


# ====================================================================== running and timing

@dataclass
class Run:
    kind: str
    round: int
    wall: float           # whole process, start-up included
    crawl_seconds: float  # the crawl's own figure (newsmon's summary; the bare spider's own clock)
    articles: int         # new (first), unchanged (recheck), pages with a title (bare)
    cpu: float            # user + sys of the crawler process
    maxrss_mb: float
    server_cpu: float     # user + sys of the server process during the run
    detail: dict = field(default_factory=dict)
    invalid: str = ""     # why the run does not count (wrong counts, errors); empty when it counts

    @property
    def rate_wall(self) -> float:
        return self.articles / self.wall

    @property
    def rate_crawl(self) -> float:
        return self.articles / self.crawl_seconds if self.crawl_seconds else float("nan")


def child_env(code: Path | None = None) -> dict[str, str]:
    """Every process the bench starts imports monitor/ and spiders/ from `code` (CODE unless said: the
    baseline's runs), first on its path."""
    code = code or CODE
    path = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "NEWSMON_BENCH_CODE": str(code), "PYTHONPATH": path, "PYTHONHASHSEED": "0"}


def snapshot_code(work: Path) -> Path:
    """A copy of the code to measure, so edits made to the working tree while the bench runs (a changed
    model, a half-saved file) do not mix into its rounds: monitor/, spiders/, scrapy.cfg, tests/fakesite.py."""
    dest = work / "code"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("monitor", "spiders"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    (dest / "tests").mkdir(parents=True)
    for name in ("__init__.py", "fakesite.py"):
        shutil.copyfile(ROOT / "tests" / name, dest / "tests" / name)
    shutil.copyfile(ROOT / "scrapy.cfg", dest / "scrapy.cfg")
    return dest


BASELINE_PATHS = ("monitor", "spiders", "scrapy.cfg", "tests/__init__.py", "tests/fakesite.py")


def resolve_ref(ref: str) -> str:
    """The full commit a git ref names; one clear line and exit when it names none (checked before any
    work is done)."""
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                           capture_output=True, text=True, check=False)
    if found.returncode != 0 or not found.stdout.strip():
        raise SystemExit(f"--baseline {ref}: not a commit of the repository at {ROOT}")
    return found.stdout.strip()


def extract_baseline(commit: str, work: Path) -> Path:
    """The baseline's code, as committed (the same files snapshot_code copies from the working tree), in
    WORK/baseline. The resolved commit, not the ref, so a ref moving meanwhile (HEAD) cannot change it."""
    dest = work / "baseline"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, *BASELINE_PATHS],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        why = (archive.stderr.decode().strip() or f"exit status {archive.returncode}").splitlines()[-1]
        raise SystemExit(f"--baseline: git archive {commit[:12]} failed: {why}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def proc_cpu(pid: int) -> float:
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def timed(cmd: list[str], server_pid: int, log: Path,
          code: Path | None = None) -> tuple[float, float, float, float, str]:
    """Run cmd to completion, with `code` (CODE unless said) first on its path and as its folder: wall
    seconds, cpu seconds, max RSS (MB), server cpu seconds, stdout."""
    code = code or CODE
    server_before = proc_cpu(server_pid)
    with open(log, "ab") as err:
        started = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=code, env=child_env(code))
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - started
    p.returncode = os.waitstatus_to_exitcode(status)
    server_cpu = proc_cpu(server_pid) - server_before
    text = out.decode()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited with {p.returncode}; stderr in {log}\n{text}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, server_cpu, text


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, base: str, urls_file: Path, server_pid: int,
                 baseline: Path | None = None):
        self.args, self.work, self.base, self.urls_file, self.server_pid = args, work, base, urls_file, server_pid
        self.template = work / "template.db"
        # Each code version re-checks copies of a database its own first crawl made: the schemas differ
        # between versions, and an older one refuses a database migrated by a newer one.
        self.templates = {"": self.template} | ({BASE: work / "template-base.db"} if baseline else {})
        self.codes = {"": CODE} | ({BASE: baseline} if baseline else {})
        self.log = work / "stderr.log"
        self.n = args.articles

    @staticmethod
    def version(kind: str) -> str:
        """The key of a kind's code and template: BASE for the baseline's kinds, "" for the working tree's."""
        return BASE if kind.endswith(BASE) else ""

    def newsmon(self, db: Path, *extra: str) -> list[str]:
        return [str(VENV_BIN / "newsmon"), "--db", f"sqlite:///{db}", "crawl", "lepetitjournal",
                "--base-url", self.base, *extra]

    def crawl_cmd(self, what: str, db: Path, template: Path) -> list[str]:
        """The newsmon command of a `first` crawl, into an empty database at `db`, or of a `recheck`, of a
        fresh copy of `template` there."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        if what == "recheck":
            shutil.copyfile(template, db)
            return self.newsmon(db, "--all", "--no-discovery")
        return self.newsmon(db)

    def run_newsmon(self, kind: str, rnd: int) -> Run:
        version = self.version(kind)
        what, template = kind.removesuffix(BASE), self.templates[version]
        db = self.work / f"{kind.replace('@', '-')}-{rnd}.db"  # no "@" in a database URL
        cmd = self.crawl_cmd(what, db, template)
        wall, cpu, rss, scpu, out = timed(cmd, self.server_pid, self.log, self.codes[version])
        m = SUMMARY.search(out)
        if not m:
            raise SystemExit(f"no crawl summary in newsmon's output ({kind}): {out!r}")
        counts = {k: float(v) if k in ("mb", "seconds") else int(v) for k, v in m.groupdict().items()}
        articles = counts["new"] if what == "first" else counts["unchanged"]
        expected = {"new": self.n} if what == "first" else {"unchanged": self.n, "checked": self.n}
        wrong = {k: counts[k] for k, v in expected.items() if counts[k] != v}
        invalid = f"expected {expected}, got {counts}; see {self.log}" if wrong or counts["error"] else ""
        if what == "first" and not template.exists():
            with sqlite3.connect(db) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(db, template)
        for suffix in ("", "-wal", "-shm"):
            if not self.args.keep:
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        return Run(kind, rnd, wall, counts["seconds"], articles, cpu, rss, scpu, counts, invalid)

    def bare_cmd(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "_bare", str(self.urls_file), *self.args.bare_setting]

    def run_bare(self, rnd: int) -> Run:
        wall, cpu, rss, scpu, out = timed(self.bare_cmd(), self.server_pid, self.log)
        got = json.loads(out.strip().splitlines()[-1])
        invalid = f"expected {self.n} titles, got {got}" if got["titles"] != self.n else ""
        return Run("bare", rnd, wall, got["seconds"], got["titles"], cpu, rss, scpu, got, invalid)

    def run(self, kind: str, rnd: int) -> Run:
        r = self.run_bare(rnd) if kind == "bare" else self.run_newsmon(kind, rnd)
        label = f"round {rnd + 1}" if rnd >= 0 else "warm-up"
        width = 12 if len(self.codes) > 1 else 8  # room for "recheck@base"
        print(f"  {label:8} {kind:{width}} {r.wall:6.2f} s wall  {r.rate_wall:6.0f}/s"
              f"  crawl {r.crawl_seconds:5.1f} s  cpu {r.cpu:5.2f} s  server cpu {r.server_cpu:4.2f} s",
              file=sys.stderr)
        if r.invalid:
            print(f"  WARNING: this run does not count: {r.invalid}", file=sys.stderr)
        return r


# ====================================================================== profiling the re-check

def short(path: str) -> str:
    for marker in ("site-packages/", f"{CODE}/", f"{ROOT}/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def profile_cprofile(bench: Bench, top: int, which: str) -> dict:
    import pstats

    prof = bench.work / f"{which}.prof"
    crawl = bench.crawl_cmd(which, bench.work / "profile.db", bench.template)
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "monitor", *crawl[1:]]
    wall, cpu, _, _, out = timed(cmd, bench.server_pid, bench.log)
    stats = pstats.Stats(str(prof))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{func} ({short(file)}:{line})", "calls": nc, "self_s": tt, "cum_s": ct})
    by_self = sorted(rows, key=lambda r: -r["self_s"])[:top]
    by_cum = sorted(rows, key=lambda r: -r["cum_s"])[:top * 2]
    return {"tool": "cProfile (main thread only: the pipeline's database thread and writer process are not seen)",
            "wall": wall, "cpu": cpu, "total_s": total, "self": by_self, "cumulative": by_cum,
            "file": str(prof), "summary": out.strip(), "run": which}


SAMPLE_RATE = 250


def profile_pyspy(bench: Bench, top: int, pyspy: str, which: str) -> dict:
    """One run under py-spy in --gil mode: each sample is of whichever thread holds the GIL, so the samples
    add up to the time the process spends running Python (and the C code it calls without releasing the
    GIL: lxml, zlib...), in whatever thread."""
    raw = bench.work / f"{which}.pyspy.txt"
    if which == "bare":
        target = bench.bare_cmd()
    else:
        target = bench.crawl_cmd(which, bench.work / "profile.db", bench.template)
    cmd = [pyspy, "record", "--format", "raw", "--gil", "--threads", "-r", str(SAMPLE_RATE), "-o", str(raw), "--",
           *target]
    wall, cpu, _, _, out = timed(cmd, bench.server_pid, bench.log)
    summary = [line for line in out.splitlines() if line.strip() and not line.startswith("py-spy>")]
    return {"tool": "py-spy --gil (sampled: whichever thread holds the GIL)", "run": which, "wall": wall,
            "cpu": cpu, "file": str(raw), "summary": summary[-1] if summary else "", **analyse_pyspy(raw, top)}


PROJECT = ("monitor/", "spiders/")


def package_of(frame: str) -> str:
    """'func (path)' -> the top-level package or stdlib module the frame runs in."""
    m = re.search(r"\((.*)\)$", frame)
    path = m.group(1) if m else ""
    if path.startswith(PROJECT):
        return path.split("/")[0] + "/" + path.split("/")[1].removesuffix(".py")
    if path.startswith("<frozen"):
        return path
    return path.split("/")[0].removesuffix(".py") or "?"


def analyse_pyspy(raw: Path, top: int) -> dict:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[0].startswith(("thread ", "process ")):
            threads[re.sub(r"^thread \(\d+\):? ?", "", frames[0]) or "(unnamed)"] += n
            frames = [f for f in frames if not f.startswith(("thread ", "process "))]
        frames = [re.sub(r" \((.*):(\d+)\)$", lambda m: f" ({short(m.group(1))})", f) for f in frames]
        total += n
        if not frames:
            continue
        own[frames[-1]] += n
        packages[package_of(frames[-1])] += n
        for f in set(frames):
            inclusive[f] += n
        # The phase: the outermost function of newsmon's own code on the stack (below the command's
        # entry points), else the framework alone (Scrapy's engine, downloader, Twisted, asyncio).
        mine = [f for f in frames if package_of(f).startswith(PROJECT)
                and not f.startswith(("<module> ", "main ", "cmd_crawl ", "run_crawl "))]
        phases[mine[0] if mine else "(no newsmon frame: Scrapy, Twisted, asyncio)"] += n
    pct = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    project_inclusive = [(f, c) for f, c in inclusive.most_common() if package_of(f).startswith(PROJECT)]
    return {"samples": total, "gil_seconds": total / SAMPLE_RATE,
            "package_seconds": {k: v / SAMPLE_RATE for k, v in packages.items()},
            "threads": {k: pct(v) for k, v in threads.most_common()},
            "packages": [{"package": k, "pct": pct(v)} for k, v in packages.most_common(top)],
            "phases": [{"function": k, "pct": pct(v)} for k, v in phases.most_common(top)],
            "self": [{"function": f, "pct": pct(c)} for f, c in own.most_common(top)],
            "cumulative": [{"function": f, "pct": pct(c)} for f, c in project_inclusive[:top * 2]]}


# ====================================================================== reporting

def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(s: dict[str, float], digits: int = 0) -> str:
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}–{s['max']:.{digits}f}]"


def per_round(runs: list[Run], over: list[Run]) -> dict[str, dict[str, float]]:
    """Ratios of articles per second, runs / over, taken within each round (both valid in that round), so
    the two sides of every ratio ran minutes apart at most: wall and crawl seconds, median [min-max]."""
    other = {r.round: r for r in over}
    pairs = [(r.rate_wall / other[r.round].rate_wall, r.rate_crawl / other[r.round].rate_crawl)
             for r in runs if r.round in other]
    if not pairs:
        raise SystemExit(f"no round with valid runs of both {runs[0].kind} and {over[0].kind}")
    return {"wall": spread([a for a, _ in pairs]), "crawl": spread([b for _, b in pairs])}


def report(runs: list[Run], meta: dict) -> dict:
    with_base = any(r.kind.endswith(BASE) for r in runs)
    compared = ["first", "recheck"] + ([f"first{BASE}", f"recheck{BASE}"] if with_base else [])
    kinds = compared + ["bare"]
    by_kind = {k: [r for r in runs if r.kind == k and not r.invalid] for k in kinds}
    meta["excluded_runs"] = [f"{r.kind} round {r.round + 1}: {r.invalid}" for r in runs if r.invalid]
    empty = [k for k in kinds if not by_kind[k]]
    if empty:
        raise SystemExit(f"no valid run of {', '.join(empty)}: " + "; ".join(meta["excluded_runs"]))
    table = {}
    for k in kinds:
        rs = by_kind[k]
        table[k] = {"wall_s": spread([r.wall for r in rs]), "crawl_s": spread([r.crawl_seconds for r in rs]),
                    "rate_wall": spread([r.rate_wall for r in rs]), "rate_crawl": spread([r.rate_crawl for r in rs]),
                    "cpu_s": spread([r.cpu for r in rs]), "maxrss_mb": spread([r.maxrss_mb for r in rs]),
                    "server_cpu_s": spread([r.server_cpu for r in rs]),
                    "articles": spread([float(r.articles) for r in rs])}
    ratios = {k: per_round(by_kind[k], by_kind["bare"]) for k in compared}
    res = {"meta": meta, "table": table, "ratios": ratios}
    if with_base:
        # Working tree / baseline, within each round: the figure the comparison is for.
        res["tree_vs_baseline"] = {k: per_round(by_kind[k], by_kind[k + BASE]) for k in ("first", "recheck")}
    return res | {"runs": [asdict(r) for r in runs]}


def print_report(res: dict, targets: dict[str, float]) -> None:
    m, t, q = res["meta"], res["table"], res["ratios"]
    print(f"\nnewsmon crawl throughput — {m['articles']} articles ({m['theme']} theme, "
          f"{m['article_bytes_median'] / 1000:.1f} KB each), {m['repeat']} rounds, medians [min–max]")
    print(f"server: {m['server']} in its own process, alone {m['server_rps']:.0f} req/s "
          f"({m['load_conns']} keep-alive connections); {m['cores']} cores; Python {m['python']}, "
          f"Scrapy {m['scrapy']}; code {m['git']}")
    if m["bare_settings"]:
        print(f"bare spider extra settings: {' '.join(m['bare_settings'])}")
    for line in m["excluded_runs"]:
        print(f"EXCLUDED from the figures: {line}")
    labels = {"first": "newsmon first crawl", "recheck": "newsmon re-check", "bare": "bare Scrapy spider"}
    compared = ["first", "recheck"]
    if (b := m.get("baseline")):
        # Each baseline row right under the working tree's row it is compared with.
        print(f"baseline: {b['ref']} = {b['commit'][:12]}, its committed code; the rows without it are the "
              f"working tree's")
        name = b["ref"] if len(b["ref"]) <= 20 else b["commit"][:12]  # a full hash would widen every row
        labels |= {f"first{BASE}": f"  baseline {name}", f"recheck{BASE}": f"  baseline {name}"}
        compared = ["first", f"first{BASE}", "recheck", f"recheck{BASE}"]
    w = max(22, *(len(v) + 2 for v in labels.values()))
    print(f"\n{'':{w}}{'articles/s (wall)':>22}{'articles/s (crawl)':>22}{'wall s':>20}{'cpu s':>20}"
          f"{'server cpu s':>18}")
    for k in compared + ["bare"]:
        r = t[k]
        print(f"{labels[k]:{w}}{fmt(r['rate_wall']):>22}{fmt(r['rate_crawl']):>22}{fmt(r['wall_s'], 2):>20}"
              f"{fmt(r['cpu_s'], 2):>20}{fmt(r['server_cpu_s'], 2):>18}")
    print("\nnewsmon / bare, articles per second (per-round ratios)")
    print(f"{'':{w}}{'wall (start-up incl.)':>26}{'crawl seconds':>26}")
    for k in compared:
        print(f"{labels[k]:{w}}{fmt(q[k]['wall'], 2):>26}{fmt(q[k]['crawl'], 2):>26}")
    if b:
        v = res["tree_vs_baseline"]
        print(f"\nworking tree / baseline {name}, articles per second (per-round ratios; above 1: the tree "
              f"is faster)")
        print(f"{'':{w}}{'wall (start-up incl.)':>26}{'crawl seconds':>26}")
        for k in ("first", "recheck"):
            print(f"{labels[k]:{w}}{fmt(v[k]['wall'], 2):>26}{fmt(v[k]['crawl'], 2):>26}")
    print()
    for k, target in targets.items():
        got = q[k]["wall"]["median"]
        print(f"target: {labels[k]} at ≥ {target:.0%} of the bare spider's rate (wall) — "
              f"{'met' if got >= target else 'NOT met'}: {got:.0%} (crawl seconds: {q[k]['crawl']['median']:.0%})")


def print_profile(p: dict, bare: dict | None = None) -> None:
    run = "first crawl" if p["run"] == "first" else "re-check"
    print(f"\nprofile of one {run}: {p['tool']}; wall {p['wall']:.1f} s, cpu {p['cpu']:.1f} s; raw data {p['file']}")
    print(f"  {p['summary']}")
    if "threads" in p:
        print(f"  {p['samples']} samples = {p['gil_seconds']:.1f} s holding the GIL; by thread: "
              + ", ".join(f"{k} {v}%" for k, v in p["threads"].items()))
        print("  by phase (outermost newsmon function on the stack), % of samples:")
        for r in p["phases"]:
            print(f"    {r['pct']:5.1f}%  {r['function']}")
        print("  by package of the running function (self time), % of samples:")
        for r in p["packages"]:
            print(f"    {r['pct']:5.1f}%  {r['package']}")
        print("  top functions, self time, % of samples:")
        for r in p["self"]:
            print(f"    {r['pct']:5.1f}%  {r['function']}")
        print("  newsmon's functions, inclusive time, % of samples:")
        for r in p["cumulative"]:
            print(f"    {r['pct']:5.1f}%  {r['function']}")
    else:
        print(f"  total profiled: {p['total_s']:.1f} s")
        print("  top self time (s):")
        for r in p["self"]:
            print(f"    {r['self_s']:6.2f}  {r['calls']:>9}  {r['function']}")
        print("  top cumulative time (s):")
        for r in p["cumulative"]:
            print(f"    {r['cum_s']:6.2f}  {r['calls']:>9}  {r['function']}")
    if bare:
        print(f"\nthe bare spider under the same profiler: wall {bare['wall']:.1f} s, "
              f"{bare['gil_seconds']:.1f} s holding the GIL")
        print(f"  seconds holding the GIL by package, {run} vs bare (largest differences first):")
        names = set(p["package_seconds"]) | set(bare["package_seconds"])
        rows = sorted(((p["package_seconds"].get(k, 0.0), bare["package_seconds"].get(k, 0.0), k) for k in names),
                      key=lambda r: -abs(r[0] - r[1]))
        print(f"    {run.split()[0]:>9} {'bare':>7} {'diff':>7}  package")
        for mine, theirs, k in rows[:15]:
            print(f"    {mine:9.2f} {theirs:7.2f} {mine - theirs:+7.2f}  {k}")
        print(f"    {p['gil_seconds']:9.2f} {bare['gil_seconds']:7.2f} {p['gil_seconds'] - bare['gil_seconds']:+7.2f}  total")


# ====================================================================== main

def git_state() -> str:
    """The commit measured, and whether product code had uncommitted changes (bench/ itself not counted)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!bench"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000, help="article pages served and crawled (2000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of each command (5; 0: profile only)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (1; builds the re-check database)")
    parser.add_argument("--theme", choices=["classic", "modern"], default="classic")
    parser.add_argument("--paragraphs", type=int, default=5, help="paragraphs per article (5)")
    parser.add_argument("--server", choices=["raw", "twisted"], default="raw")
    parser.add_argument("--load-seconds", type=float, default=3.0, help="length of the server-alone measure")
    # Issue 12's targets: a first crawl at 0.7 of the bare spider, an unchanged re-check at 0.9.
    parser.add_argument("--target", type=float, default=0.9, help="re-check / bare rate to meet (0.9)")
    parser.add_argument("--first-target", type=float, default=0.7, help="first crawl / bare rate to meet (0.7)")
    parser.add_argument("--profile", choices=["none", "py-spy", "cprofile"], default="none",
                        help="after the rounds, profile one crawl (--profile-run)")
    parser.add_argument("--profile-run", choices=["recheck", "first"], default="recheck",
                        help="which crawl --profile profiles: an unchanged re-check (default) or a first crawl")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="py-spy executable")
    parser.add_argument("--top", type=int, default=15, help="rows of each profile table")
    parser.add_argument("--bare-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a Scrapy setting for the bare spider only (repeatable), e.g. CONCURRENT_ITEMS=1")
    parser.add_argument("--baseline", metavar="REF",
                        help="also time newsmon at this git ref (its committed code), in the same rounds")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE (- for stdout)")
    parser.add_argument("--live-code", action="store_true",
                        help="run the working tree itself, not a copy taken at start")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (pages, databases, logs)")
    args = parser.parse_args()
    if args.articles < 1 or args.repeat < 0:
        parser.error("--articles must be at least 1 and --repeat at least 0")
    if args.repeat == 0 and args.profile == "none":
        parser.error("--repeat 0 (no timed rounds) only makes sense with --profile")
    if args.profile == "py-spy":
        if not (found := shutil.which(args.py_spy)):
            parser.error(f"py-spy not found ({args.py_spy}): `pip install py-spy` somewhere and give --py-spy PATH, "
                     "or use --profile cprofile")
        args.py_spy = str(Path(found).absolute())  # the runs start in the code snapshot's folder

    base_commit = resolve_ref(args.baseline) if args.baseline else ""  # an unknown ref fails before any work

    import scrapy

    global CODE
    work = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    code_state = git_state()
    if not args.live_code:
        CODE = snapshot_code(work)
        sys.path.insert(0, str(CODE))
    try:
        baseline = extract_baseline(base_commit, work) if args.baseline else None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    responses, urls, facts = render_site(args.articles, args.theme, args.paragraphs, base)
    pages_file, urls_file = work / "pages.pickle", work / "urls.txt"
    with open(pages_file, "wb") as f:
        pickle.dump(responses, f)
    urls_file.write_text("\n".join(urls) + "\n")
    print(f"rendered {len(responses)} pages in {time.perf_counter() - t:.1f} s into {work}", file=sys.stderr)

    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "_serve", str(pages_file), str(port),
                               args.server], stdout=subprocess.PIPE, cwd=CODE, env=child_env())
    try:
        if server.stdout.readline().strip() != b"ready":
            raise SystemExit("the page server did not start")
        load = json.loads(subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "_load", str(port), str(urls_file), "16",
             str(args.load_seconds)], check=True, capture_output=True, cwd=CODE, env=child_env()).stdout)
        print(f"server alone: {load['rps']:.0f} req/s over 16 keep-alive connections", file=sys.stderr)

        bench = Bench(args, work, base, urls_file, server.pid, baseline)
        # Each first before its recheck, so the warm-up's first crawl makes the template its recheck copies.
        kinds = ["first", "recheck", f"first{BASE}", f"recheck{BASE}", "bare"] if baseline else \
            ["first", "bare", "recheck"]
        for w in range(args.warmup):
            for k in kinds:
                bench.run(k, -1 - w)
        for version, template in bench.templates.items():
            if not template.exists():
                bench.run("first" + version, -99)
        runs = []
        for rnd in range(args.repeat):
            order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]  # rotate who goes first
            for k in order:
                runs.append(bench.run(k, rnd))

        meta = {"articles": args.articles, "repeat": args.repeat, "theme": args.theme, "paragraphs": args.paragraphs,
                "server": args.server, "server_rps": load["rps"], "load_conns": 16, "cores": os.cpu_count(),
                "scrapy": scrapy.__version__, "python": sys.version.split()[0], "base_url": base, **facts,
                "git": code_state, "code": str(CODE), "bare_settings": args.bare_setting,
                "commands": {"first": " ".join(bench.newsmon(Path("EMPTY.db"))),
                             "recheck": " ".join(bench.newsmon(Path("COPY.db"), "--all", "--no-discovery")),
                             "bare": " ".join(bench.bare_cmd())}}
        if baseline:
            # The same newsmon commands, run with the baseline's code first on PYTHONPATH and as their folder.
            meta["baseline"] = {"ref": args.baseline, "commit": base_commit, "code": str(baseline),
                                "kinds": [f"first{BASE}", f"recheck{BASE}"]}
        res = report(runs, meta) if runs else {"meta": meta}
        if runs:
            print_report(res, {"first": args.first_target, "recheck": args.target})
        if args.profile == "py-spy":
            res["profile"] = profile_pyspy(bench, args.top, args.py_spy, args.profile_run)
            res["profile_bare"] = profile_pyspy(bench, args.top, args.py_spy, "bare")
            print_profile(res["profile"], res["profile_bare"])
            res["gc"] = gc_times(bench)
            print_gc(res["gc"])
        elif args.profile == "cprofile":
            res["profile"] = profile_cprofile(bench, args.top, args.profile_run)
            print_profile(res["profile"])
        emit_json(res, args.json)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if args.keep or args.profile != "none":
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    internal = {"_serve": cmd_serve, "_load": cmd_load, "_bare": cmd_bare, "_gc": cmd_gc}
    if len(sys.argv) > 1 and sys.argv[1] in internal:
        internal[sys.argv[1]](sys.argv[2:])
    else:
        main()
