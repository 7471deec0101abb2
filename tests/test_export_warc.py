"""`newsmon export --format warc` (issue 13): a database filled by real crawls of a local fake site (edits,
unchanged re-checks, a gzipped page), exported, then read back by warcio's own command-line tools as a user
would run them, and by warcio's ArchiveIterator. Real SQLite files and PostgreSQL databases; no mocks."""
from __future__ import annotations

import contextlib
import gzip
import io
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import urlopen

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from monitor import settings
from monitor.store import open_store
from monitor.store.codec import pack_head, unpack_head
from monitor.store.heads import site_reference
from monitor.store.ingest import ensure_site
from monitor.store.models import Article, Check, Site, Version
from monitor.store.queries import check_times
from tests.conftest import ROOT, Newsmon, QuickNewsmon, fresh_postgres
from tests.fakesite import FakeSite, Fault, make_article

WARCIO = str(Path(sys.executable).with_name("warcio"))
GZIPPED = 431014   # the article whose page the site sends gzip-encoded


@dataclass(frozen=True)
class Crawled:
    """A database after three crawls of the site, and when the second one began."""

    db: str
    second_crawl: datetime
    workdir: Path


def fill(newsmon: Newsmon, site: FakeSite) -> datetime:
    """Crawl the site, edit one article and add one served gzipped, crawl it all again twice: versions of
    several kinds and unchanged re-checks. Returns when the second crawl began."""
    newsmon.crawl(site)
    second = datetime.now(UTC)
    site.edit(431010, title="Le port en eau profonde ouvre plus tôt que prévu")
    article = site.add(make_article(GZIPPED, "bangkok", paragraphs=5))
    with urlopen(site.base_url + article.url) as response:
        page = response.read()
    site.set_fault(article.url, Fault(body=gzip.compress(page), headers={"Content-Encoding": "gzip"}))
    newsmon.crawl(site, "--all")
    newsmon.crawl(site, "--all")
    return second


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crawled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """Filled once per backend for the module: the tests only read it (or read a copy, see `copy_db`)."""
    workdir = tmp_path_factory.mktemp(f"warc-{request.param}")
    with FakeSite(theme="classic", noise=True) as site, database(request.param, workdir) as db:
        for i, edition in enumerate(["cambodge", "bangkok", "cambodge", "bangkok"]):
            site.add(make_article(431010 + i, edition, paragraphs=4 + i))
        second = fill(QuickNewsmon(db, workdir), site)
        yield Crawled(db, second, workdir)


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A new database's URL: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'newsmon.db'}"
        return
    with fresh_postgres() as url:
        yield url


def export(db: str, workdir: Path, *args: str) -> list:
    """`newsmon export --format warc ARGS --out FILE`, checked by `warcio check` and `warcio index`; its records."""
    out = workdir / f"export-{time.monotonic_ns()}.warc.gz"
    Newsmon(db, workdir).run("export", "--format", "warc", *args, "--out", str(out))
    for tool in ("check", "index"):
        proc = subprocess.run([WARCIO, tool, str(out)], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, f"warcio {tool}: {proc.stdout}{proc.stderr}"
    return read_records(out.read_bytes())


@dataclass(frozen=True)
class Record:
    type: str
    headers: dict[str, str]
    status: str | None
    protocol: str | None
    http: list[tuple[str, str]]
    payload: bytes


def read_records(data: bytes) -> list[Record]:
    records = []
    for r in ArchiveIterator(io.BytesIO(data)):
        http = r.http_headers
        records.append(Record(r.rec_type, dict(r.rec_headers.headers), http.statusline if http else None,
                              http.protocol if http else None, list(http.headers) if http else [],
                              r.content_stream().read()))
    return records


def of_type(records: list[Record], kind: str) -> list[Record]:
    return [r for r in records if r.type == kind]


def version_key(record: Record) -> tuple[str, int]:
    return record.headers["WARC-Newsmon-Article"], int(record.headers["WARC-Newsmon-Version"])


@dataclass(frozen=True)
class Stored:
    fetched_at: datetime
    page: bytes | None   # read by the store's own reader; None when pruned


def stored(db: str, since: datetime | None = None) -> dict[tuple[str, int], Stored]:
    """The stored versions by (site:key, number)."""
    store = open_store(db)
    try:
        with store.session() as session:
            query = select(Site.name, Article.key, Version).join(Article, Article.id == Version.article_id) \
                .join(Site, Site.id == Article.site_id)
            if since:
                query = query.where(Version.fetched_at >= since)
            return {(f"{name}:{key}", version.number): Stored(version.fetched_at, version.page)
                    for name, key, version in session.execute(query)}
    finally:
        store.close()


def unchanged_checks(db: str) -> int:
    """How many checks found an article unchanged: a row may stand for several (check_times)."""
    store = open_store(db)
    try:
        with store.session() as session:
            return sum(len(check_times(c)) for c in session.scalars(select(Check).where(Check.outcome == "unchanged")))
    finally:
        store.close()


def header(record: Record, name: str) -> str | None:
    return next((v for k, v in record.http if k.lower() == name.lower()), None)


def test_one_response_per_version_with_the_page_byte_for_byte(crawled: Crawled) -> None:
    records = export(crawled.db, crawled.workdir)
    versions = stored(crawled.db)
    assert records[0].type == "warcinfo"
    responses = of_type(records, "response")
    assert sorted(map(version_key, responses)) == sorted(versions)
    assert any(number > 1 for _, number in versions), "the edit made no second version"
    for response in responses:
        version = versions[version_key(response)]
        assert response.payload == version.page
        assert response.headers["WARC-Date"].startswith(version.fetched_at.strftime("%Y-%m-%dT%H:%M:%S"))
        assert (response.protocol, response.status) == ("HTTP/1.1", "200 OK")
        # The fake site's own headers, as it sent them (Scrapy title-cases names: ETag -> Etag).
        assert header(response, "Server").startswith("fakesite/1.0 ")
        assert header(response, "Cache-Control") == "max-age=60"
        assert header(response, "Etag").startswith('"')
        assert header(response, "Content-Type") == "text/html; charset=utf-8"
        assert header(response, "Content-Length") == str(len(version.page))


def test_a_request_record_goes_with_each_response(crawled: Crawled) -> None:
    records = export(crawled.db, crawled.workdir)
    responses = {r.headers["WARC-Record-ID"]: r for r in of_type(records, "response")}
    requests = of_type(records, "request")
    assert len(requests) == len(responses)
    for request in requests:
        response = responses[request.headers["WARC-Concurrent-To"]]
        url = response.headers["WARC-Target-URI"]
        assert request.headers["WARC-Target-URI"] == url
        assert request.headers["WARC-Date"] == response.headers["WARC-Date"]
        assert f"{request.protocol} {request.status}" == f"GET /{url.split('/', 3)[3]} HTTP/1.1"
        assert header(request, "Host") == url.split("/")[2]
        assert header(request, "User-Agent") == settings.USER_AGENT
        assert request.headers["WARC-Newsmon-Headers"].startswith("reconstructed")


def test_revisits_one_per_unchanged_check_only_when_asked(crawled: Crawled) -> None:
    without = export(crawled.db, crawled.workdir)
    assert of_type(without, "revisit") == []
    records = export(crawled.db, crawled.workdir, "--revisits")
    revisits = of_type(records, "revisit")
    assert len(revisits) == unchanged_checks(crawled.db) >= 8   # 5 articles unchanged in the third crawl, more
    responses = {r.headers["WARC-Record-ID"]: r for r in of_type(records, "response")}
    for revisit in revisits:
        response = responses[revisit.headers["WARC-Refers-To"]]
        assert revisit.headers["WARC-Profile"].endswith("/revisit/identical-payload-digest")
        assert revisit.headers["WARC-Refers-To-Target-URI"] == response.headers["WARC-Target-URI"]
        assert revisit.headers["WARC-Refers-To-Date"] == response.headers["WARC-Date"]
        assert revisit.headers["WARC-Payload-Digest"] == response.headers["WARC-Payload-Digest"]
        assert revisit.headers["WARC-Date"] > response.headers["WARC-Date"]
        assert version_key(revisit) == version_key(response)
    # The records besides the revisits are the same with or without them.
    assert [r for r in records if r.type != "revisit"][1:] == without[1:]


def test_a_gzipped_page_is_stored_decoded_and_its_headers_say_so(crawled: Crawled) -> None:
    records = export(crawled.db, crawled.workdir)
    response = next(r for r in of_type(records, "response") if version_key(r) == (f"lepetitjournal:{GZIPPED}", 1))
    assert response.payload.startswith(b"<!DOCTYPE html>")
    assert header(response, "Content-Encoding") is None
    assert header(response, "Content-Length") == str(len(response.payload))
    note = response.headers["WARC-Newsmon-Headers"]
    assert note.startswith("received; dropped Content-Encoding: gzip; Content-Length was ")
    assert int(note.rsplit(" ", 1)[1]) < len(response.payload)   # what travelled: the compressed length
    others = [r for r in of_type(records, "response") if r is not response]
    assert {r.headers["WARC-Newsmon-Headers"] for r in others} == {"received"}


def test_since_and_site_filter_the_versions(crawled: Crawled) -> None:
    since = crawled.second_crawl.isoformat()
    records = export(crawled.db, crawled.workdir, "--since", since, "--revisits")
    expected = stored(crawled.db, crawled.second_crawl)
    assert 0 < len(expected) < len(stored(crawled.db))
    assert sorted(map(version_key, of_type(records, "response"))) == sorted(expected)
    assert {version_key(r) for r in of_type(records, "revisit")} <= set(expected)
    assert len(of_type(export(crawled.db, crawled.workdir, "--site", "lepetitjournal"), "response")) == \
        len(stored(crawled.db))


@pytest.mark.parametrize("args, message", [
    (("--site", "nowhere"), "no site named 'nowhere' in the database"),
    (("--since", "last tuesday"), "--since takes a duration"),
])
def test_bad_site_or_since_is_one_line_and_exit_2(crawled: Crawled, args: tuple[str, ...], message: str,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "out.warc.gz"
    proc = Newsmon(crawled.db, crawled.workdir).run("export", "--format", "warc", *args, "--out", str(out),
                                                    check=False)
    assert proc.returncode == 2
    assert not out.exists() or out.stat().st_size == 0
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr


# Tests that change the database run on a copy of the SQLite one: what they change is plain SQL, the same on
# both backends.
ON_SQLITE = pytest.mark.parametrize("crawled", ["sqlite"], indirect=True)


def copy_db(crawled: Crawled, tmp_path: Path) -> str:
    path = tmp_path / "copy.db"
    with contextlib.closing(sqlite3.connect(crawled.db.removeprefix("sqlite:///"))) as src, \
            contextlib.closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
    return f"sqlite:///{path}"


@ON_SQLITE
def test_a_version_stored_before_heads_were_kept_says_what_is_known(crawled: Crawled, tmp_path: Path) -> None:
    db = copy_db(crawled, tmp_path)
    # What migration 0009 leaves in the versions stored before it: no head.
    with contextlib.closing(sqlite3.connect(db.removeprefix("sqlite:///"))) as conn, conn:
        conn.execute("UPDATE versions SET response_head = NULL WHERE number = 1")
    records = export(db, tmp_path)
    versions = stored(db)
    for response in of_type(records, "response"):
        note = response.headers["WARC-Newsmon-Headers"]
        if version_key(response)[1] > 1:
            assert note.startswith("received")
            continue
        assert note.startswith("reconstructed; stored before newsmon kept response headers")
        assert response.status == "200 OK"
        assert response.http == [("Content-Type", "text/html; charset=utf-8"),
                                 ("Content-Length", str(len(response.payload)))]
        assert response.payload == versions[version_key(response)].page


@ON_SQLITE
def test_pruned_pages_get_a_metadata_record_instead(crawled: Crawled, tmp_path: Path) -> None:
    db = copy_db(crawled, tmp_path)
    Newsmon(db, tmp_path).run("prune", "--raw-older-than", crawled.second_crawl.isoformat())
    records = export(db, tmp_path, "--revisits")
    versions = stored(db)
    pruned = {key for key, v in versions.items() if v.page is None}
    assert pruned and pruned != set(versions)
    assert {version_key(r) for r in of_type(records, "metadata")} == pruned
    assert {version_key(r) for r in of_type(records, "response")} == set(versions) - pruned
    note = next(r for r in of_type(records, "metadata") if version_key(r) == ("lepetitjournal:431011", 1))
    assert note.payload.startswith(b"page: pruned by newsmon prune; no response record for this version\r\n"
                                   b"http-status: 200\r\nrevisits-left-out: ")


def test_stdout_and_out_give_the_same_bytes(crawled: Crawled, tmp_path: Path) -> None:
    newsmon = Newsmon(crawled.db, tmp_path)
    out = tmp_path / "out.warc.gz"
    env = {**newsmon.env, "SOURCE_DATE_EPOCH": "1785000000"}   # the warcinfo's date; all else is the data's
    args = [sys.executable, "-m", "monitor", "export", "--format", "warc", "--revisits"]
    printed = subprocess.run(args, env=env, capture_output=True, timeout=120, cwd=ROOT, check=True).stdout
    subprocess.run([*args, "--out", str(out)], env=env, capture_output=True, timeout=120, cwd=ROOT, check=True)
    assert printed[:2] == b"\x1f\x8b" and printed == out.read_bytes()
    assert read_records(printed)[0].headers["WARC-Date"] == "2026-07-25T17:20:00Z"


def test_a_stored_head_takes_few_bytes(crawled: Crawled) -> None:
    store = open_store(crawled.db)
    try:
        with store.session() as session:
            sizes = [len(head) for head in session.scalars(select(Version.response_head))]
    finally:
        store.close()
    assert all(sizes)
    print(f"response heads: {sum(sizes) / len(sizes):.0f} bytes per version on average ({len(sizes)} versions)")
    assert sum(sizes) / len(sizes) < 80


def test_two_writers_agree_on_a_sites_reference_head(postgres_url: str) -> None:
    """Every head of a site is packed against the first one stored (monitor/store/heads.py): two crawls
    storing a site's first versions at once must not each set their own."""
    store = open_store(postgres_url)
    try:
        with store.session() as session:
            site_id = ensure_site(session, "harbour", "news", "http://harbour.example")
        heads = {name: f"HTTP/1.1 200\r\nServer: {name}\r\nContent-Type: text/html\r\n".encode() for name in "ab"}
        references: dict[str, bytes] = {}
        holding = threading.Event()

        def first_writer() -> None:
            with store.session() as session:
                references["a"] = site_reference(session, site_id, heads["a"])
                holding.set()
                time.sleep(0.5)   # its transaction still open while the second writer comes

        thread = threading.Thread(target=first_writer)
        thread.start()
        holding.wait(10)
        with store.session() as session:
            references["b"] = site_reference(session, site_id, heads["b"])
            packed = pack_head(heads["b"], references["b"])
        thread.join()
        assert references == {"a": heads["a"], "b": heads["a"]}
        assert unpack_head(packed, heads["a"]) == heads["b"]
    finally:
        store.close()
