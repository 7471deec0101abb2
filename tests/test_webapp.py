"""`newsmon serve`: pages, the Atom feed and the JSON API served live from a database filled by real
crawls; read-only, escaped, with a strict Content-Security-Policy."""
from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from lxml import html as lxml_html

from monitor.report.webapp import served_hosts
from monitor.store import open_store
from tests.conftest import ROOT, Newsmon, run_in_process
from tests.reading import HOSTILE_TITLE, SILENT_SENTENCE, Filled, app_server
from tests.reading import served as serving


@dataclass
class Served:
    base: str
    filled: Filled

    def get(self, path: str, method: str = "GET", host: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """`host` replaces the Host header urllib would send (127.0.0.1:PORT)."""
        request = urllib.request.Request(self.base + path, method=method, headers={"Host": host} if host else {})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def page(self, path: str) -> lxml_html.HtmlElement:
        status, _, body = self.get(path)
        assert status == 200, (path, status)
        return lxml_html.fromstring(body.decode())

    def json(self, path: str) -> dict:
        status, headers, body = self.get(path)
        assert status == 200 and headers["Content-Type"].startswith("application/json"), (path, status)
        return json.loads(body)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("webapp")) as (base, filled):
        yield Served(base, filled)


def test_index_and_its_filters(served: Served) -> None:
    rows = served.page("/").cssselect("ol.changes li.change")
    assert len(rows) == 3
    silent = served.page("/?silent=1").cssselect("ol.changes li.change")
    assert len(silent) == 2 and all("silent edit" in r.text_content() for r in silent)
    titles = served.page("/?kind=title").cssselect("ol.changes li.change")
    assert [r.cssselect(".title a")[0].text_content() for r in titles] == ["Un nouveau titre pour cette dépêche"]
    assert len(served.page("/?edition=bangkok").cssselect("ol.changes li.change")) == 2
    assert served.page("/?since=2999-01-01").cssselect("li.empty")
    form = served.page("/?edition=bangkok").cssselect("form.filters")[0]
    assert form.cssselect('option[value="bangkok"]')[0].get("selected") is not None


def test_pagination_in_the_api_and_the_pages(served: Served) -> None:
    first = served.json("/api/changes?per_page=2")
    second = served.json("/api/changes?per_page=2&page=2")
    assert (first["total"], len(first["changes"]), len(second["changes"])) == (3, 2, 1)
    ids = [c["to_version"] for c in first["changes"] + second["changes"]]
    assert len({(c["article_id"], c["to_version"]) for c in first["changes"] + second["changes"]}) == len(ids)
    fields = set(first["changes"][0])
    assert {"site", "article_id", "url", "from_version", "to_version", "detected_at", "fields", "announced",
            "text_changed", "added_words", "removed_words"} <= fields


def test_article_page_and_diff_page(served: Served) -> None:
    silent = served.filled.silent_id
    doc = served.page(f"/articles/lepetitjournal/{silent}")
    assert [i.text_content().strip() for i in doc.cssselect(".diff.inline ins")] == [SILENT_SENTENCE]
    link = doc.cssselect("a.difflink")[0].get("href")
    assert link == f"/articles/lepetitjournal/{silent}/diff?from=1&to=2"
    diff = served.page(link)
    assert [i.text_content().strip() for i in diff.cssselect(".diff.inline ins")] == [SILENT_SENTENCE]


def test_api_article_and_diff(served: Served) -> None:
    titled = served.filled.title_id
    article = served.json(f"/api/articles/lepetitjournal/{titled}")
    assert article["latest"]["title"] == "Un nouveau titre pour cette dépêche"
    assert [v["version"] for v in article["versions"]] == [1, 2]
    assert len(article["urls"]) == 2
    diff = served.json(f"/api/articles/lepetitjournal/{titled}/diff?from=1&to=2")
    title = next(f for f in diff["fields"] if f["field"] == "title")
    assert "".join(s["text"] for s in title["segments"] if s["op"] in "=+") == "Un nouveau titre pour cette dépêche"


def test_errors_are_answers_not_crashes(served: Served) -> None:
    assert served.get("/articles/lepetitjournal/999999")[0] == 404
    status, headers, body = served.get("/api/articles/lepetitjournal/999999")
    assert status == 404 and "error" in json.loads(body)
    assert served.get("/api/changes?page=abc")[0] == 400
    assert served.get("/?kind=everything")[0] == 400
    assert served.get(f"/api/articles/lepetitjournal/{served.filled.silent_id}/diff?from=7")[0] == 404
    assert served.get("/no/such/page")[0] == 404
    assert served.get("/", method="POST")[0] == 405  # read-only


def test_every_answer_carries_a_strict_content_security_policy(served: Served) -> None:
    for path in ("/", f"/articles/lepetitjournal/{served.filled.hostile_id}", "/feed.atom", "/api/changes",
                 "/static/newsmon.css", "/static/favicon.svg", "/nowhere"):
        _, headers, _ = served.get(path)
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, path
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_hostile_text_is_text_in_pages_feed_and_api(served: Served) -> None:
    hostile = served.filled.hostile_id
    for path in ("/", f"/articles/lepetitjournal/{hostile}", f"/articles/lepetitjournal/{hostile}/diff?from=1&to=2"):
        doc = served.page(path)
        assert doc.cssselect("script") == [] and doc.xpath("//img") == [], path
        assert not [a for a in doc.xpath("//a[@href]") if a.get("href").strip().lower().startswith("javascript:")]
        assert not doc.xpath("//@*[starts-with(name(), 'on')]"), path
    assert served.page(f"/articles/lepetitjournal/{hostile}").cssselect("h1")[0].text_content() == HOSTILE_TITLE
    status, _, body = served.get("/feed.atom")
    feed = feedparser.parse(body)
    assert status == 200 and not feed.bozo and feed.version == "atom10"
    entry = next(e for e in feed.entries if HOSTILE_TITLE in e.title)
    assert "<script" not in entry.content[0].value and "&lt;b&gt;gras&lt;/b&gt;" in entry.content[0].value
    assert entry.link.startswith(served.base + "/articles/lepetitjournal/")
    api = served.json(f"/api/articles/lepetitjournal/{hostile}")
    assert api["latest"]["title"] == HOSTILE_TITLE  # JSON carries the text as it is; JSON is not HTML


def test_feed_filters_and_entries(served: Served) -> None:
    feed = feedparser.parse(served.get("/feed.atom?silent=1")[2])
    assert len(feed.entries) == 2 and all(e.title.startswith("[silent edit]") for e in feed.entries)
    assert all(e.id.startswith("urn:newsmon:change:lepetitjournal:") for e in feed.entries)


def test_serve_binds_to_loopback_by_default(tmp_path) -> None:
    newsmon = Newsmon(f"sqlite:///{tmp_path / 'n.db'}", tmp_path)
    open_store(newsmon.db).close()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--port", "0"], env=newsmon.env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert re.match(r"newsmon: serving http://127\.0\.0\.1:\d+/", line), line
        port = int(re.search(r":(\d+)/", line)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- no request makes a server error (issue 9)

THIRTY_DIGITS = "123456789012345678901234567890"


ODD_SINCE = [
    "since=99999999d",                        # now - 99999999 days is before year 1: OverflowError
    "since=9999999w",                         # timedelta(weeks=...) beyond its C int
    "since=" + "9" * 400 + "d",               # a float duration that is infinite
    "since=0001-01-01T00:00:00%2B05:00",      # parses, but has no UTC equivalent: overflowed in the query
    "since=9999-12-31T23:59:59-05:00",        # the same at the other end of the calendar
]
ODD_PAGES = [
    f"page={THIRTY_DIGITS}",                  # too big for SQLite's INTEGER: OverflowError in the driver
    "page=2147483648",                        # bounded like every number: 1 to 2**31-1
    "page=%C2%B2",                            # "²" passed str.isdigit(), then int() refused it
    "page=" + "9" * 5000,                     # longer than int() converts
]


@pytest.mark.parametrize(("path", "query"), [(path, query) for path in ("/", "/feed.atom", "/api/changes")
                                             for query in ODD_SINCE + ([] if path == "/feed.atom" else ODD_PAGES)])
def test_odd_filters_are_bad_input_not_server_errors(served: Served, path: str, query: str) -> None:
    status, headers, body = served.get(f"{path}?{query}")
    assert status == 400, (path, query, status)
    if path.startswith("/api/"):
        assert headers["Content-Type"].startswith("application/json") and json.loads(body)["error"]


@pytest.mark.parametrize("query", [f"per_page={THIRTY_DIGITS}", "per_page=%C2%B2", "per_page=501", "per_page=0",
                                   "page=-1", "page=0", "site=a%00b", "edition=%00"])
def test_odd_api_parameters_are_bad_input(served: Served, query: str) -> None:
    status, _, body = served.get(f"/api/changes?{query}")
    assert status == 400 and json.loads(body)["error"], query


@pytest.mark.parametrize("query", [f"from={THIRTY_DIGITS}", f"to={THIRTY_DIGITS}", "from=%C2%B2", "to=%C2%B2",
                                   "to=2147483648", "from=-1", "to=0"])
@pytest.mark.parametrize("api", ["", "/api"])
def test_odd_versions_are_bad_input(served: Served, api: str, query: str) -> None:
    status, _, body = served.get(f"{api}/articles/lepetitjournal/{served.filled.silent_id}/diff?{query}")
    assert status == 400, (api, query, status)
    if api:
        assert json.loads(body)["error"]


def test_the_largest_numbers_are_answered(served: Served) -> None:
    """2**31-1 is a page and a version number like any other: nothing there, not an error."""
    answer = served.json("/api/changes?per_page=500&page=2147483647")
    assert answer["changes"] == [] and answer["page"] == 2147483647
    assert served.get(f"/articles/lepetitjournal/{served.filled.silent_id}/diff?to=2147483647")[0] == 404


def test_errors_are_worded_for_the_web(served: Served) -> None:
    error = json.loads(served.get("/api/changes?since=last-week")[2])["error"]
    assert error.startswith("since takes a duration") and "--since" not in error
    error = json.loads(served.get("/api/changes?since=99999999d")[2])["error"]
    assert "since" in error and "--" not in error
    error = json.loads(served.get(f"/api/articles/lepetitjournal/{served.filled.silent_id}/diff?from=7")[2])["error"]
    assert error == f"article {served.filled.silent_id} has no version 7"  # no `newsmon history` hint
    error = json.loads(served.get("/api/articles/lepetitjournal/999999")[2])["error"]
    assert "site:id" not in error and "999999" in error
    assert b"--since" not in served.get("/?since=nope")[2]


@pytest.mark.parametrize("path", [
    "/articles/x/%ff", "/api/articles/%ff/%fe", "/articles/%c3%28/1",  # not UTF-8
    "/articles/lepetitjournal/431900%00", "/api/articles/x%00/1",        # NUL
    "/articles//", "/articles/lepetitjournal/", "/api//changes", "/%",
    "/articles/%20/{silent}",              # a blank site read as "any site" by the CLI's parser
    "/api/articles/lepetitjournal/%20{silent}",
    "/articles/lepetitjournal/{double}",   # %2534%2533... was unquoted twice, into the article's id
    "/articles/x:lepetitjournal/{silent}", "/articles/lepetitjournal/lepetitjournal:{silent}",
    "/articles/" + "x" * 5000 + "/1",
])
def test_odd_paths_are_not_found(served: Served, path: str) -> None:
    silent = str(served.filled.silent_id)
    double = "".join(f"%25{ord(c):02X}" for c in silent)
    status, headers, body = served.get(path.format(silent=silent, double=double))
    assert status == 404, (path, status)
    if path.startswith("/api/"):
        assert headers["Content-Type"].startswith("application/json") and json.loads(body)["error"]


def test_api_errors_are_json_everywhere_under_api(served: Served) -> None:
    for path, method, expected in (("/api/nothing", "GET", 404), ("/api/changes", "POST", 405),
                                   ("/api/articles/%ff/1", "GET", 404)):
        status, headers, body = served.get(path, method=method)
        assert (status, headers["Content-Type"]) == (expected, "application/json"), path
        assert json.loads(body)["error"]


# ---------------------------------------------------------------- Host header (DNS rebinding)

def raw_request(base: str, lines: Sequence[str]) -> tuple[int, bytes]:
    """Send exactly these request lines (no Host header unless given) and read the status and body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LOCALHOST", "localhost.",
                                  "[::1]:{port}", "[::1]"])
def test_loopback_host_names_are_served(served: Served, host: str) -> None:
    port = served.base.rsplit(":", 1)[1]
    assert served.get("/api/changes", host=host.format(port=port))[0] == 200, host


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example",
                                  "localhost.evil.example:{port}", "127.0.0.2", "0.0.0.0:{port}", "::1",
                                  "127.0.0.1:port", "127.0.0.1@evil.example", "[::1]evil"])
def test_foreign_host_names_are_refused(served: Served, host: str) -> None:
    port = served.base.rsplit(":", 1)[1]
    for path in ("/", "/api/changes", f"/articles/lepetitjournal/{served.filled.silent_id}", "/static/newsmon.css"):
        status, headers, body = served.get(path, host=host.format(port=port))
        assert (status, body) == (400, b"unknown host\n"), (host, path)
        assert headers["Content-Type"].startswith("text/plain")


def test_a_missing_host_is_refused_on_http_1_1_only(served: Served) -> None:
    assert raw_request(served.base, ["GET /api/changes HTTP/1.1", "Connection: close"]) == (400, b"unknown host\n")
    assert raw_request(served.base, ["GET /api/changes HTTP/1.1", "Host: ", "Connection: close"])[0] == 400
    status, body = raw_request(served.base, ["GET /api/changes HTTP/1.0"])  # no Host in HTTP/1.0: no name to fake
    assert status == 200 and json.loads(body)["total"] == 3


def test_served_hosts() -> None:
    assert served_hosts("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert served_hosts("0.0.0.0") == served_hosts("::") == served_hosts("") == served_hosts("127.0.0.1")
    assert served_hosts("192.0.2.7") == {"127.0.0.1", "localhost", "::1", "192.0.2.7"}
    assert served_hosts("::1", ["News.Example.org:443", "*"]) == {"127.0.0.1", "localhost", "::1",
                                                                  "news.example.org", "*"}


@contextmanager
def serve_in_thread(db: str, host: str, allowed: Sequence[str] = ()) -> Iterator[str]:
    """reading.app_server, skipped where this machine cannot listen on `host` (no IPv6...)."""
    with ExitStack() as stack:
        try:
            base = stack.enter_context(app_server(db, host, allowed))
        except OSError as exc:
            pytest.skip(f"cannot listen on {host}: {exc}")
        yield base


def test_allowed_hosts_and_the_listening_address(served: Served) -> None:
    def status(base: str, host: str) -> int:
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
        try:
            connection.putrequest("GET", "/api/changes", skip_host=True)
            connection.putheader("Host", host)
            connection.endheaders()
            return connection.getresponse().status
        finally:
            connection.close()

    cases: list[tuple[str, Sequence[str], dict[str, int]]] = [
        ("127.0.0.1", ["news.example.org"], {"news.example.org": 200, "NEWS.example.org:443": 200,
                                             "127.0.0.1": 200, "evil.example": 400}),
        ("127.0.0.1", ["*"], {"evil.example": 200, "news.example.org:8080": 200}),
        # A server bound to one address answers to that address too (127.0.0.2: loopback on Linux).
        ("127.0.0.2", [], {"127.0.0.2:{port}": 200, "127.0.0.2": 200, "localhost": 200, "127.0.0.3": 400}),
    ]
    for host, allowed, expected in cases:
        with serve_in_thread(served.filled.newsmon.db, host, allowed) as base:
            port = base.rsplit(":", 1)[1]
            got = {name: status(base, name.format(port=port)) for name in expected}
            assert got == expected, (host, allowed)


def test_serve_allowed_host_option(tmp_path: Path) -> None:
    newsmon = Newsmon(f"sqlite:///{tmp_path / 'n.db'}", tmp_path)
    open_store(newsmon.db).close()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--port", "0", "--allowed-host",
                             "news.example.org", "--allowed-host", "proxy.example.net:8443"], env=newsmon.env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        base = re.search(r"http://\S+:\d+", line)[0]
        served = Served(base, None)  # type: ignore[arg-type]
        for host, expected in (("news.example.org", 200), ("proxy.example.net", 200), ("127.0.0.1", 200),
                               ("evil.example", 400)):
            assert served.get("/api/changes", host=host)[0] == expected, host
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("args", [["--port", "99999"], ["--port", "-1"], ["--port", "65536"],
                                  ["--allowed-host", "bad/name"]])
def test_serve_refuses_bad_options_in_one_line(tmp_path: Path, args: list[str]) -> None:
    newsmon = Newsmon(f"sqlite:///{tmp_path / 'n.db'}", tmp_path)
    open_store(newsmon.db).close()
    result = run_in_process(["serve", *args], newsmon.env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("newsmon: error: ") and result.stderr.count("\n") == 1, result.stderr
