"""`newsmon serve`: the report's pages served live from the database, read-only, plus an Atom feed and a
JSON API. A small WSGI application on the standard library's server: one user, on loopback by default.

    /                                            changed articles (?edition= &kind= &edit_kind= &silent=1 &since=
                                                 &site= &page=)
    /articles/SITE/ID                            one article: changes, timeline, latest text
    /articles/SITE/ID/diff?from=N&to=M           any two versions
    /articles/SITE/ID/feed.atom                  one article's changes as Atom
    /feed.atom                                   the changes as Atom (same filters as /)
    /stats                                       charts of the edits (?since= &site= &edition=)
    /api/changes                                 JSON (same filters, &per_page=)
    /api/articles/SITE/ID                        JSON: history and latest version
    /api/articles/SITE/ID/diff?from=N&to=M       JSON: the word diff
    /timemap/link/URL, /timegate/URL             Memento (RFC 7089): every version of the article seen at URL
    /memento/STAMP/URL, /raw/STAMP/URL           one version: newsmon's rendering; the page as fetched, sandboxed

It answers only requests whose Host header names a host it serves (see `host_allowed`), and every request
with an answer: 400 for bad input, 404 for what is not there, 503 when the database cannot be read.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from monitor.compare.diffing import FieldDiff
from monitor.errors import BadInput, DatabaseError, NewsmonError, NotFound
from monitor.report.feed import atom_feed
from monitor.report.labels import FEED_TITLE, article_feed_title
from monitor.report.memento import LINK_FORMAT, RAW_PAGE_POLICY, Archive, memento_page, parse_accept_datetime
from monitor.report.pages import CONTENT_SECURITY_POLICY, STATIC, Context, Links, article_page, diff_page, index_page
from monitor.report.stats import read_edits, stats_page, summarise
from monitor.report.terminal import diff_as_json
from monitor.store import Store, queries
from monitor.store.models import Article

PER_PAGE = 50
MAX_PER_PAGE = 500
# Pages, per_page and version numbers stop at the largest INTEGER of every backend: a bigger one overflows the
# database driver (SQLite refuses Python ints beyond 64 bits) long before it could name anything.
MAX_NUMBER = 2**31 - 1
# Host names always served: this machine's own. `--host` and `--allowed-host` add to them.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Addresses that listen on every interface: they are no name a browser would send, so they add none.
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})
DATABASE_DOWN = "the database cannot be read right now (locked, moved or damaged); try again in a moment"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
ATOM_TYPE = "application/atom+xml; charset=utf-8"
SECURITY_HEADERS = [("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY")]
ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/$"), "index"),
    (re.compile(r"^/feed\.atom$"), "feed"),
    (re.compile(r"^/stats$"), "stats"),
    (re.compile(r"^/static/(?P<name>[a-z]+\.(?:css|svg))$"), "asset"),
    (re.compile(r"^/articles/(?P<site>[^/]+)/(?P<key>[^/]+)$"), "article"),
    (re.compile(r"^/articles/(?P<site>[^/]+)/(?P<key>[^/]+)/diff$"), "diff"),
    (re.compile(r"^/articles/(?P<site>[^/]+)/(?P<key>[^/]+)/feed\.atom$"), "article_feed"),
    (re.compile(r"^/api/changes$"), "api_changes"),
    (re.compile(r"^/api/articles/(?P<site>[^/]+)/(?P<key>[^/]+)$"), "api_article"),
    (re.compile(r"^/api/articles/(?P<site>[^/]+)/(?P<key>[^/]+)/diff$"), "api_diff"),
    (re.compile(r"^/timemap/link/(?P<url>.+)$"), "timemap"),
    (re.compile(r"^/timegate/(?P<url>.+)$"), "timegate"),
    (re.compile(r"^/memento/(?P<stamp>[0-9]{14})/(?P<url>.+)$"), "memento"),
    (re.compile(r"^/raw/(?P<stamp>[0-9]{14})/(?P<url>.+)$"), "raw_page"),
]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


def html(body: str, status: int = 200) -> Response:
    return Response(status, body.encode(), "text/html; charset=utf-8")


def as_json(value: object, status: int = 200) -> Response:
    return Response(status, json.dumps(value, ensure_ascii=False, indent=1).encode(), "application/json")


def shown(value: str, limit: int = 40) -> str:
    """A value quoted for an error message, cut short: the message is read, not the whole input echoed."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def request_path(environ: dict[str, Any]) -> str | None:
    """The path as the client wrote it, or None when it names nothing this app could serve.

    WSGI servers hand PATH_INFO over already percent-decoded, as Latin-1 (PEP 3333): re-encoding gives the
    client's bytes, which must be UTF-8. Unquoting it again would decode `%2541` twice (into `A`)."""
    try:
        path = (environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None
    # A NUL names no page; PostgreSQL refuses it in any text parameter, so it must not reach a query.
    return None if "\0" in path else path


class Request:
    def __init__(self, environ: dict[str, Any]):
        self.path = request_path(environ)
        # errors="replace": an invalid escape such as %ff reads as U+FFFD instead of failing the request.
        self.query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), errors="replace").items()}
        scheme = environ.get("wsgi.url_scheme", "http")
        # HTTP_HOST was checked against the served hosts before any request got this far (host_allowed).
        self.base_url = f"{scheme}://{environ.get('HTTP_HOST') or environ.get('SERVER_NAME', 'localhost')}"
        # Memento routes: the query string belongs to the original URL they name; the TimeGate reads a header.
        self.query_string: str = environ.get("QUERY_STRING", "")
        self.accept_datetime: str | None = environ.get("HTTP_ACCEPT_DATETIME")

    def text(self, name: str) -> str | None:
        """A query parameter; None when absent or empty."""
        raw = self.query.get(name)
        if not raw:
            return None
        if "\0" in raw:  # PostgreSQL refuses NUL in text: say so here rather than fail in the driver
            raise BadInput(f"{name} cannot contain a NUL character")
        return raw

    def number(self, name: str, default: int | None = None, *, low: int = 1, high: int = MAX_NUMBER) -> int | None:
        raw = self.text(name)
        if raw is None:
            return default
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses. And at most ten of them, so
        # int() never meets a string too long to convert (Python caps it at 4300 digits).
        digits = raw.lstrip("0") or "0"
        if not re.fullmatch(r"[0-9]+", raw) or len(digits) > 10 or not low <= int(digits) <= high:
            raise BadInput(f"{name} must be a whole number from {low} to {high}, not {shown(raw)}")
        return int(digits)

    def change_filter(self) -> queries.ChangeFilter:
        kind = self.text("kind")
        if kind is not None and kind not in queries.CHANGE_KINDS:
            raise BadInput(f"kind must be one of {', '.join(queries.CHANGE_KINDS)}, not {shown(kind)}")
        # parse_since refuses, as bad input, what would overflow in the query (99999999d, year 1 at +05:00);
        # name= words its message for a query parameter, not the command line's --since.
        since = self.text("since")
        edit_kinds = queries.parse_edit_kinds([self.text("edit_kind") or ""], name="edit_kind")
        return queries.ChangeFilter(since=queries.parse_since(since, name="since") if since else None,
                                    site=self.text("site"), edition=self.text("edition"), kind=kind,
                                    edit_kinds=edit_kinds, silent_only=self.query.get("silent") in ("1", "true", "on"))


def find_article(session: Session, site: str, key: str) -> Article:
    """The article at /articles/SITE/KEY, exactly. resolve_article reads what people type on the command line
    (trimmed, split at the last colon, bare ids on any site), so a segment it would read differently (blank
    at either end, a colon in the key) names no article here."""
    if site.strip() == site and key.strip() == key and site and key and ":" not in key:
        try:
            return queries.resolve_article(session, f"{site}:{key}")
        except NotFound:
            pass
    raise NotFound(f"no article {shown(key)} on site {shown(site)}")


def host_allowed(environ: dict[str, Any], allowed: frozenset[str]) -> bool:
    """Whether the request's Host header names a host this app serves (protection from DNS rebinding: a page
    elsewhere whose name resolves to 127.0.0.1 would otherwise read this app as if it were its own).

    `allowed` holds names as `host_name` gives them; "*" allows any. HTTP/1.1 requires a Host header; an
    HTTP/1.0 request may come without one, and then names nothing a browser could have been tricked into."""
    header = environ.get("HTTP_HOST")
    if header is None:
        return environ.get("SERVER_PROTOCOL") == "HTTP/1.0"
    return "*" in allowed or host_name(header) in allowed


def host_name(value: str) -> str | None:
    """`name[:port]` or `[v6]:port` as a comparable name: lower case, without port, brackets or final dot;
    None when it is no host name (an empty one, a port that is not a number)."""
    value = value.strip().lower()
    match = re.fullmatch(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[^:\[\]/@\s]+))(?::[0-9]{0,5})?", value)
    if match is None:
        return None
    return match["v6"] or match["name"].rstrip(".") or None


def served_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a server listening on `host` answers to: this machine's, `host` itself when it is one
    address or name (not every interface), and `extra` (`--allowed-host`)."""
    names = [*LOOPBACK_HOSTS, *([] if host.strip() in ANY_ADDRESS else [host]), *extra]
    # A bare IPv6 address (`--host ::1`) is how a Host header writes it: in brackets.
    names = [f"[{n}]" if n.count(":") > 1 and not n.startswith("[") else n for n in names]
    return frozenset(n if n == "*" else host_name(n) or "" for n in names) - {""}


class App:
    """The WSGI application. Every request reads the database in its own short transaction."""

    def __init__(self, store: Store, allowed_hosts: frozenset[str] = served_hosts("127.0.0.1")):
        self.store = store
        self.allowed_hosts = allowed_hosts
        self.links = Links(root="/", suffix="")
        self.database = store.engine.url.render_as_string(hide_password=True)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        # JSON routes answer JSON, errors included, even for a path that is not UTF-8 or names no route.
        api = str(environ.get("PATH_INFO") or "").startswith("/api/")
        if not host_allowed(environ, self.allowed_hosts):
            response = Response(400, b"unknown host\n", "text/plain; charset=utf-8")
        elif environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            response = self.error(405, "read-only: GET only", api)
        else:
            response = self.dispatch(request, environ, api)
        # A response may tighten a security header (the raw page's sandbox): its own replaces the default.
        own = {name for name, _ in response.headers}
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   *(header for header in SECURITY_HEADERS if header[0] not in own), *response.headers]
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body]

    def dispatch(self, request: Request, environ: dict[str, Any], api: bool) -> Response:
        path = request.path
        if path is None:
            return self.error(404, "no such page", api)
        for pattern, name in ROUTES:
            if match := pattern.match(path):
                try:
                    with self.store.session() as session:
                        return getattr(self, name)(session, request, **match.groupdict())
                except NotFound as exc:
                    return self.error(404, str(exc), api)
                except (DBAPIError, PoolTimeout, DatabaseError) as exc:
                    # Locked, moved, damaged or unreachable: the request was fine, the database is not. Say
                    # so briefly (the driver's text is for the operator, on the server's error stream).
                    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
                    environ["wsgi.errors"].write(f"newsmon: database error on {path}: {first}\n")
                    return self.error(503, DATABASE_DOWN, api, headers=(("Retry-After", "5"),))
                except NewsmonError as exc:  # BadInput, and whatever else says the request cannot be answered
                    return self.error(400, str(exc), api)
        return self.error(404, f"no page at {shown(path, 200)}", api)

    def error(self, status: int, message: str, api: bool, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        """An error answer: JSON under /api/, else the index page's frame carrying the message."""
        body = as_json({"error": message}, status) if api else html(self.error_page(message), status)
        return Response(body.status, body.body, body.content_type, headers)

    def context(self) -> Context:
        return Context(self.links, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), self.database)

    def error_page(self, message: str) -> str:
        return index_page(self.context(), [], [], total_label=message)

    # ------------------------------------------------------------ pages

    def index(self, session: Session, request: Request) -> Response:
        where = request.change_filter()
        page = request.number("page", 1) or 1
        total = queries.count_changes(session, where)
        changes = queries.list_changes(session, where, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        events = queries.list_events(session, since=where.since, site=where.site, limit=50) if page == 1 else []
        return html(index_page(
            self.context(), changes, events, total_label=f"{total} change{'s' if total != 1 else ''}",
            filter_form=True, editions=queries.editions(session), kinds=queries.CHANGE_KINDS,
            current={"edition": where.edition, "kind": where.kind, "edit_kinds": where.edit_kinds,
                     "silent": where.silent_only, "since": request.query.get("since")},
            pager=self.pager(request, page, total)))

    def pager(self, request: Request, page: int, total: int) -> dict[str, str | None]:
        def link(n: int) -> str:
            return "/?" + urlencode({**{k: v for k, v in request.query.items() if v}, "page": n})
        return {"prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page * PER_PAGE < total else None}

    def stats(self, session: Session, request: Request) -> Response:
        where = request.change_filter()
        current = {"edition": where.edition, "site": where.site, "since": request.text("since")}
        said = ", ".join([f"{name} {value}" for name, value in current.items() if value]
                         + [f"{where.kind} changes"] * bool(where.kind) + ["silent edits only"] * where.silent_only)
        return html(stats_page(self.context(), summarise(read_edits(session, where)), filters_label=said,
                               filter_form=True, editions=queries.editions(session), current=current))

    def article(self, session: Session, request: Request, site: str, key: str) -> Response:
        view = queries.article_view(session, find_article(session, site, key))
        return html(article_page(self.context(), view))

    def diff(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = find_article(session, site, key)
        old, new = queries.version_pair(session, article, request.number("from"), request.number("to"))
        return html(diff_page(self.context(), site=site, article_id=key, title=new.title, from_version=old.number,
                              to_version=new.number, diffs=queries.version_diffs(session, article, old.number,
                                                                                 new.number)))

    def asset(self, session: Session, request: Request, name: str) -> Response:
        path = STATIC / name
        if not path.is_file():
            raise NotFound(f"no file {name}")
        kind = "text/css; charset=utf-8" if name.endswith(".css") else "image/svg+xml"
        return Response(200, path.read_bytes(), kind)

    def feed(self, session: Session, request: Request) -> Response:
        changes = queries.list_changes(session, request.change_filter(), limit=PER_PAGE)

        def diffs_of(change: queries.ChangeRecord) -> list[FieldDiff]:
            article = queries.resolve_article(session, f"{change.site}:{change.article_id}")
            return queries.version_diffs(session, article, change.from_version, change.to_version)

        return self.atom(request, changes, diffs_of, title=FEED_TITLE, self_link=self.links.feed())

    def article_feed(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = find_article(session, site, key)
        headline = queries.get_version(session, article).title  # the latest, as the article's page shows it
        changes = queries.list_changes(session, queries.ChangeFilter(article_id=article.id), limit=PER_PAGE)

        def diffs_of(change: queries.ChangeRecord) -> list[FieldDiff]:
            return queries.version_diffs(session, article, change.from_version, change.to_version)

        return self.atom(request, changes, diffs_of, title=article_feed_title(headline),
                         self_link=self.links.article_feed(site, key))

    def atom(self, request: Request, changes: list[queries.ChangeRecord],
             diffs_of: Callable[[queries.ChangeRecord], list[FieldDiff]], *, title: str, self_link: str) -> Response:
        """A feed whose id is its own absolute URL: unique to it, and stable for a reader that subscribed."""
        body = atom_feed(changes, diffs_of, feed_id=request.base_url + self_link, base_url=request.base_url,
                         article_link=self.links.article, self_link=self_link, title=title)
        return Response(200, body, ATOM_TYPE)

    # ------------------------------------------------------------ JSON API

    def api_changes(self, session: Session, request: Request) -> Response:
        where = request.change_filter()
        page = request.number("page", 1) or 1
        per_page = request.number("per_page", PER_PAGE, high=MAX_PER_PAGE) or PER_PAGE
        changes = queries.list_changes(session, where, limit=per_page, offset=(page - 1) * per_page)
        return as_json({"changes": [c.as_json() for c in changes], "page": page, "per_page": per_page,
                        "total": queries.count_changes(session, where)})

    def api_article(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = find_article(session, site, key)
        history = queries.article_history(session, article)
        latest = queries.version_record(history.site, article, queries.get_version(session, article))
        return as_json({**history.as_json(), "latest": latest.as_json()})

    def api_diff(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = find_article(session, site, key)
        old, new = queries.version_pair(session, article, request.number("from"), request.number("to"))
        return as_json({"site": site, "article_id": key, "from_version": old.number, "to_version": new.number,
                        "fields": diff_as_json(queries.version_diffs(session, article, old.number, new.number))})

    # ------------------------------------------------------------ Memento (RFC 7089)

    def timemap(self, session: Session, request: Request, url: str) -> Response:
        archive = Archive.of(session, request.base_url, url, request.query_string)
        return Response(200, archive.timemap().encode(), LINK_FORMAT)

    def timegate(self, session: Session, request: Request, url: str) -> Response:
        header = request.accept_datetime
        when = parse_accept_datetime(header) if header is not None else None  # a bad one: 400, database unread
        archive = Archive.of(session, request.base_url, url, request.query_string)
        return Response(302, b"", "text/plain; charset=utf-8", archive.timegate_headers(archive.select(when)))

    def memento(self, session: Session, request: Request, stamp: str, url: str) -> Response:
        archive = Archive.of(session, request.base_url, url, request.query_string)
        found = archive.at(stamp)
        version = queries.get_version(session, archive.article, found.number)
        page = memento_page(self.context(), archive, found, version, queries.site_name(session, archive.article))
        return Response(200, page.encode(), "text/html; charset=utf-8", archive.memento_headers(found))

    def raw_page(self, session: Session, request: Request, stamp: str, url: str) -> Response:
        archive = Archive.of(session, request.base_url, url, request.query_string)
        found = archive.at(stamp)
        version = queries.get_version(session, archive.article, found.number)
        page = version.page
        if page is None:
            raise NotFound(f"the page fetched at {stamp} was pruned (newsmon prune); its text is at "
                           f"{archive.memento_url(found)}")
        return Response(200, page, f"text/html; charset={version.raw_encoding}",
                        (("Content-Security-Policy", RAW_PAGE_POLICY), *archive.memento_headers(found)))


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        pass


def make_app_server(store: Store, host: str, port: int, allowed_hosts: Iterable[str] = ()) -> WSGIServer:
    """The app listening on host:port, answering to the names `served_hosts` gives (plus `allowed_hosts`)."""
    app = App(store, served_hosts(host, allowed_hosts))
    return make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
