"""`newsmon serve` answers every request (issue 9): whatever a request carries, in any route, parameter or
path segment, the answer is a page, JSON or a 4xx, never a server error; a database that cannot be read
answers 503; and no request changes the database. Over real HTTP, on a database filled by real crawls."""
from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.report.webapp import ROUTES, make_app_server
from monitor.store import Store, open_store
from monitor.store.models import ArticleUrl, Version
from tests.conftest import Newsmon
from tests.fakesite import FakeSite
from tests.reading import Filled, fill

# Every route of the app, as a path to fill in; test_every_route_is_exercised keeps it complete.
TEMPLATES = {"index": "/", "feed": "/feed.atom", "stats": "/stats", "asset": "/static/{name}",
             "article": "/articles/{site}/{key}",
             "diff": "/articles/{site}/{key}/diff", "article_feed": "/articles/{site}/{key}/feed.atom",
             "api_changes": "/api/changes",
             "api_article": "/api/articles/{site}/{key}", "api_diff": "/api/articles/{site}/{key}/diff",
             "timemap": "/timemap/link/{url}", "timegate": "/timegate/{url}", "memento": "/memento/{stamp}/{url}",
             "raw_page": "/raw/{stamp}/{url}"}
# Values that once made a 500 or sit at a boundary, by the kind of parameter, plus ordinary ones so that
# requests also get past validation and into the queries.
NUMBERS = ("", "0", "1", "2", "3", "-1", "+1", " 1", "01", "2147483647", "2147483648", "123456789012345678901234567890",
           "9" * 5000, "²", "١٢", "１", "1.0", "1e3", "0x10", "nan")
DATES = ("", "7d", "90m", "24h", "2w", "1.5h", "0d", "99999999d", "9999999w", "9" * 400 + "d", "1e400d", "nan", "-1d",
         "2024-05-01", "2999-01-01", "0001-01-01", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
         "2024-02-30", "2024-05-01T25:00", "2021", "１d")
TEXTS = ("", "title", "body", "dates", "lead", "everything", "cambodge", "bangkok", "lepetitjournal", "1", "true",
         "on", "\0", "x\0y", "x" * 3000, "'\"<>&;--", "%", "\ufffd", "\U0001f600", " ", "\t")
# Every query parameter the app reads, with the values aimed at it.
PARAMETERS = {"page": NUMBERS, "per_page": NUMBERS + ("500", "501", "50"), "from": NUMBERS, "to": NUMBERS,
              "since": DATES, "kind": TEXTS, "edition": TEXTS, "site": TEXTS, "silent": TEXTS,
              "edit_kind": TEXTS + ("spelling", "figures,quotes", ",", "move,typo")}
# Fragments sent as they are, not escaped: broken or non-UTF-8 percent-escapes, and form syntax.
RAW_FRAGMENTS = ("%", "%f", "%zz", "%ff", "%fe%ff", "%00", "%c3%28", "%ed%a0%80", "%c0%af", "+", "%2B1", "&", "=",
                 "%25", "%2F", "..", ".")
JSON_ROUTES = "/api/"
MEMENTO_ROUTES = ("/timemap/", "/timegate/", "/memento/", "/raw/")
# The one 5xx allowed, and only while the database is broken on purpose. What is decided before the database
# is read (a bad parameter, a path that names no route, a static file) still answers as usual then.
DATABASE_DOWN = 503


@dataclass
class Live:
    base: str
    db_path: Path
    filled: Filled
    store: Store
    rows: dict[str, list[tuple]]  # every row, as filled: no request may change one
    urls: tuple[str, ...]         # every URL an article was seen at (Memento routes name articles by URL)
    mementos: tuple[tuple[str, str], ...]  # every version's fetch time (YYYYMMDDhhmmss) and URL: a memento's path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("webprops")
    db_path = tmp / "newsmon.db"
    with FakeSite(noise=True) as site:
        filled = fill(Newsmon(f"sqlite:///{db_path}", tmp), site)
    # The store's own ?timeout= (seconds to wait for a lock): a locked database fails in 0.2 s, not 30.
    store = open_store(f"sqlite:///{db_path}?timeout=0.2", create=False)
    server = make_app_server(store, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", db_path, filled, store, contents(db_path),
                   *memento_names(store))
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def memento_names(store: Store) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The URLs that name articles in the filled database, and the (fetch time, URL) of each memento."""
    with store.session() as session:
        urls = tuple(session.scalars(select(ArticleUrl.url).order_by(ArticleUrl.id)))
        mementos = tuple((f"{at:%Y%m%d%H%M%S}", url)
                         for at, url in session.execute(select(Version.fetched_at, Version.url).order_by(Version.id)))
    return urls, mementos


def request(live: Live, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Send `target` exactly as given (http.client does not re-encode it, unlike urllib)."""
    connection = http.client.HTTPConnection(live.base.removeprefix("http://"), timeout=30)
    try:
        connection.request(method, target)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def contents(db_path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read through a connection of its own that cannot write."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall() for table in tables}


def tables(db_path: Path) -> list[str]:
    with closing(sqlite3.connect(db_path)) as conn:
        return [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]


@contextmanager
def tables_gone(db_path: Path) -> Iterator[None]:
    """The database's tables vanish under the running app (another process renames them away: what a
    restore from backup or a wrong file in place looks like to a reader), then come back as they were."""
    names = [name for name in tables(db_path) if name != "alembic_version"]
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        conn.executescript("BEGIN;" + "".join(f'ALTER TABLE "{n}" RENAME TO "{n}_gone";' for n in names) + "COMMIT;")
        try:
            yield
        finally:
            conn.executescript("BEGIN;" + "".join(f'ALTER TABLE "{n}_gone" RENAME TO "{n}";' for n in names)
                               + "COMMIT;")


@contextmanager
def locked(live: Live) -> Iterator[None]:
    """Another process holds the database's exclusive lock. In WAL mode that lock can only be taken while no
    other connection has the file open, so the app's idle pooled connections are closed first (as the pool
    itself does when they fail or age); the app's next connection then waits its 0.2 s and fails."""
    live.store.engine.dispose()
    conn = sqlite3.connect(live.db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.close()  # in exclusive locking mode the lock lasts until the connection closes


def database_paths(live: Live) -> list[str]:
    """One request of every route that reads the database."""
    article = f"lepetitjournal/{live.filled.silent_id}"
    with live.store.session() as session:
        version = session.scalars(select(Version).order_by(Version.id).limit(1)).one()
        memento = f"{version.fetched_at:%Y%m%d%H%M%S}/{version.url}"
    return ["/", "/?since=7d&page=1", "/feed.atom", "/stats", "/stats?since=7d&edition=cambodge", "/api/changes",
            f"/articles/{article}",
            f"/articles/{article}/diff?from=1&to=2", f"/api/articles/{article}", f"/api/articles/{article}/diff",
            f"/timemap/link/{version.url}", f"/timegate/{version.url}", f"/memento/{memento}", f"/raw/{memento}"]


def assert_database_down(live: Live, paths: list[str]) -> None:
    for path in paths:
        status, headers, body = request(live, path)
        assert status == DATABASE_DOWN, (path, status, body[:300])
        assert headers["Retry-After"] == "5"
        if path.startswith(JSON_ROUTES):
            assert headers["Content-Type"] == "application/json", path
            assert json.loads(body)["error"].startswith("the database cannot be read right now"), path
        else:
            assert headers["Content-Type"].startswith("text/html") and b"the database cannot be read" in body, path
    # What needs no database still answers.
    assert request(live, "/static/newsmon.css")[0] == 200
    assert request(live, "/api/changes?page=abc")[0] == 400


def assert_database_up(live: Live, paths: list[str]) -> None:
    for path in paths:
        assert request(live, path)[0] == (302 if path.startswith("/timegate/") else 200), path


def test_every_route_is_exercised() -> None:
    assert set(TEMPLATES) == {name for _, name in ROUTES}


def test_a_locked_database_answers_503(live: Live) -> None:
    paths = database_paths(live)  # read while it can be
    with locked(live):
        assert_database_down(live, paths)
    assert_database_up(live, paths)
    assert contents(live.db_path) == live.rows


def test_a_database_whose_tables_vanished_answers_503(live: Live) -> None:
    paths = database_paths(live)
    request(live, "/")  # a pooled connection that has read the schema before it went away
    with tables_gone(live.db_path):
        assert_database_down(live, paths)
    assert_database_up(live, paths)
    assert contents(live.db_path) == live.rows


# ---------------------------------------------------------------- any request

def escaped(text: str) -> str:
    return quote(text, safe="")


def parts(known: tuple[str, ...], weight: int = 1) -> st.SearchStrategy[str]:
    """A path segment or a query value as it goes on the wire: the values aimed at it, escaped, `weight` times
    as often as anything else (big and negative numbers, random text and bytes escaped, raw fragments)."""
    anything = st.one_of(st.integers(-10**40, 10**40).map(str), st.text(max_size=30).map(escaped),
                         st.binary(max_size=20).map(lambda raw: quote_from_bytes(raw, safe="")),
                         st.lists(st.sampled_from(RAW_FRAGMENTS), min_size=1, max_size=4).map("".join))
    aimed = st.sampled_from(known).map(escaped)
    return st.sampled_from([True] * weight + [False]).flatmap(lambda aim: aimed if aim else anything)


@st.composite
def targets(draw: st.DrawFn, live: Live) -> str:
    filled = live.filled
    ids = tuple(str(i) for i in (filled.silent_id, filled.title_id, filled.hostile_id, filled.gone_id))
    if draw(st.sampled_from([False] * 9 + [True])):  # now and then random segments, matching no route or any
        path = "/" + "/".join(draw(st.lists(parts(("articles", "api", "static", "diff", "timemap", "link", "timegate",
                                                          "memento", "raw", "", *ids)), max_size=5)))
    else:
        template = TEMPLATES[draw(st.sampled_from(sorted(TEMPLATES)))]
        # A memento's time with its own URL half of the time, so that requests reach the memento pages.
        stamp, url = draw(st.sampled_from(live.mementos))
        # Mostly a real article, so that requests reach the version numbers and the pages.
        path = template.format(site=draw(parts(("lepetitjournal",) * 8 + (" ", "x:y"), weight=4)),
                               key=draw(parts(ids * 3 + ("0", " 1", "x:1"), weight=4)),
                               name=draw(parts(("newsmon.css", "favicon.svg", "x.css"))),
                               url=draw(parts((url,) * len(live.urls) + live.urls, weight=4)),
                               stamp=draw(parts((stamp,), weight=4)))
    # Each parameter there or not, so that a bad value of one does not always hide another's behind its 400.
    present = st.sampled_from([False, False, True])  # (Hypothesis leans to the first choice: mostly absent)
    query = [(name, draw(parts(values))) for name, values in PARAMETERS.items() if draw(present)]
    query += draw(st.lists(st.tuples(parts(tuple(PARAMETERS)), parts(TEXTS)), max_size=2))  # odd names, repeats
    if path.startswith(MEMENTO_ROUTES) and draw(st.sampled_from([True, False])):
        query = []  # a query string there is part of the original URL: mostly none, to name stored URLs
    order = draw(st.permutations(query))
    return path + ("?" + "&".join(f"{name}={value}" for name, value in order) if order else "")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_request_is_answered_without_a_server_error(live: Live, data: st.DataObject) -> None:
    target = data.draw(targets(live), label="target")
    method = data.draw(st.sampled_from(["GET"] * 9 + ["HEAD"]), label="method")
    broken = data.draw(st.sampled_from([False] * 9 + [True]), label="break the database")
    if broken:
        with tables_gone(live.db_path):
            status, headers, body = request(live, target, method)
        assert status < 500 or status == DATABASE_DOWN, (target, status, body[:300])
    else:
        status, headers, body = request(live, target, method)
        assert status < 500, (target, status, body[:300])
    # The server reads a path that starts with // from its first other character (http.server's own rule).
    if ("/" + target.lstrip("/")).startswith(JSON_ROUTES):
        assert headers["Content-Type"] == "application/json", (target, status)
        if method == "GET":
            answer = json.loads(body)
            assert isinstance(answer, dict) and (status < 400) != ("error" in answer), (target, answer)
    elif status >= 400:
        assert headers["Content-Type"].startswith("text/html"), (target, status)
    assert "Content-Security-Policy" in headers
    assert contents(live.db_path) == live.rows, target
