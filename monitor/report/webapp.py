"""`newsmon serve`: the report's pages served live from the database, read-only, plus an Atom feed and a
JSON API. A small WSGI application on the standard library's server: one user, on loopback by default.

    /                                            changed articles (?edition= &kind= &silent=1 &since= &site= &page=)
    /articles/SITE/ID                            one article: changes, timeline, latest text
    /articles/SITE/ID/diff?from=N&to=M           any two versions
    /feed.atom                                   the changes as Atom (same filters as /)
    /api/changes                                 JSON (same filters, &per_page=)
    /api/articles/SITE/ID                        JSON: history and latest version
    /api/articles/SITE/ID/diff?from=N&to=M       JSON: the word diff
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
from urllib.parse import parse_qs, unquote, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sqlalchemy.orm import Session

from monitor.errors import BadInput, NewsmonError, NotFound
from monitor.report.feed import atom_feed
from monitor.report.pages import CONTENT_SECURITY_POLICY, STATIC, Context, Links, article_page, diff_page, index_page
from monitor.report.terminal import diff_as_json
from monitor.store import Store, queries

PER_PAGE = 50
MAX_PER_PAGE = 500
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
SECURITY_HEADERS = [("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY")]
ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/$"), "index"),
    (re.compile(r"^/feed\.atom$"), "feed"),
    (re.compile(r"^/static/(?P<name>[a-z]+\.(?:css|svg))$"), "asset"),
    (re.compile(r"^/articles/(?P<site>[^/]+)/(?P<key>[^/]+)$"), "article"),
    (re.compile(r"^/articles/(?P<site>[^/]+)/(?P<key>[^/]+)/diff$"), "diff"),
    (re.compile(r"^/api/changes$"), "api_changes"),
    (re.compile(r"^/api/articles/(?P<site>[^/]+)/(?P<key>[^/]+)$"), "api_article"),
    (re.compile(r"^/api/articles/(?P<site>[^/]+)/(?P<key>[^/]+)/diff$"), "api_diff"),
]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str


def html(body: str, status: int = 200) -> Response:
    return Response(status, body.encode(), "text/html; charset=utf-8")


def as_json(value: object, status: int = 200) -> Response:
    return Response(status, json.dumps(value, ensure_ascii=False, indent=1).encode(), "application/json")


class Request:
    def __init__(self, environ: dict[str, Any]):
        self.path = unquote(environ.get("PATH_INFO") or "/")
        self.query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        scheme = environ.get("wsgi.url_scheme", "http")
        self.base_url = f"{scheme}://{environ.get('HTTP_HOST') or environ.get('SERVER_NAME', 'localhost')}"

    def number(self, name: str, default: int | None = None, *, low: int = 1, high: int | None = None) -> int | None:
        raw = self.query.get(name)
        if raw in (None, ""):
            return default
        if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
            raise BadInput(f"{name} must be a whole number from {low}{f' to {high}' if high else ''}, not {raw!r}")
        return int(raw)

    def change_filter(self) -> queries.ChangeFilter:
        kind = self.query.get("kind") or None
        if kind is not None and kind not in queries.CHANGE_KINDS:
            raise BadInput(f"kind must be one of {', '.join(queries.CHANGE_KINDS)}, not {kind!r}")
        since = self.query.get("since") or None
        return queries.ChangeFilter(since=queries.parse_since(since) if since else None,
                                    site=self.query.get("site") or None, edition=self.query.get("edition") or None,
                                    kind=kind, silent_only=self.query.get("silent") in ("1", "true", "on"))


class App:
    """The WSGI application. Every request reads the database in its own short transaction."""

    def __init__(self, store: Store):
        self.store = store
        self.links = Links(root="/", suffix="")
        self.database = store.engine.url.render_as_string(hide_password=True)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            response = Response(405, b"read-only: GET only\n", "text/plain; charset=utf-8")
        else:
            response = self.dispatch(request)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   *SECURITY_HEADERS]
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body]

    def dispatch(self, request: Request) -> Response:
        for pattern, name in ROUTES:
            if match := pattern.match(request.path):
                api = name.startswith("api_")
                try:
                    with self.store.session() as session:
                        return getattr(self, name)(session, request, **match.groupdict())
                except NotFound as exc:
                    return as_json({"error": str(exc)}, 404) if api else html(self.error_page(str(exc)), 404)
                except (BadInput, NewsmonError) as exc:
                    return as_json({"error": str(exc)}, 400) if api else html(self.error_page(str(exc)), 400)
        return html(self.error_page(f"no page at {request.path}"), 404)

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
            current={"edition": where.edition, "kind": where.kind, "silent": where.silent_only,
                     "since": request.query.get("since")},
            pager=self.pager(request, page, total)))

    def pager(self, request: Request, page: int, total: int) -> dict[str, str | None]:
        def link(n: int) -> str:
            return "/?" + urlencode({**{k: v for k, v in request.query.items() if v}, "page": n})
        return {"prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page * PER_PAGE < total else None}

    def article(self, session: Session, request: Request, site: str, key: str) -> Response:
        view = queries.article_view(session, queries.resolve_article(session, f"{site}:{key}"))
        return html(article_page(self.context(), view))

    def diff(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = queries.resolve_article(session, f"{site}:{key}")
        new = queries.get_version(session, article, request.number("to"))
        old = queries.get_version(session, article, request.number("from", max(new.number - 1, 1)))
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

        def diffs_of(change: queries.ChangeRecord) -> list:
            article = queries.resolve_article(session, f"{change.site}:{change.article_id}")
            return queries.version_diffs(session, article, change.from_version, change.to_version)

        body = atom_feed(changes, diffs_of, feed_id=f"{request.base_url}/feed.atom", base_url=request.base_url,
                         article_link=self.links.article, self_link="/feed.atom")
        return Response(200, body, "application/atom+xml; charset=utf-8")

    # ------------------------------------------------------------ JSON API

    def api_changes(self, session: Session, request: Request) -> Response:
        where = request.change_filter()
        page = request.number("page", 1) or 1
        per_page = request.number("per_page", PER_PAGE, high=MAX_PER_PAGE) or PER_PAGE
        changes = queries.list_changes(session, where, limit=per_page, offset=(page - 1) * per_page)
        return as_json({"changes": [c.as_json() for c in changes], "page": page, "per_page": per_page,
                        "total": queries.count_changes(session, where)})

    def api_article(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = queries.resolve_article(session, f"{site}:{key}")
        history = queries.article_history(session, article)
        latest = queries.version_record(history.site, article, queries.get_version(session, article))
        return as_json({**history.as_json(), "latest": latest.as_json()})

    def api_diff(self, session: Session, request: Request, site: str, key: str) -> Response:
        article = queries.resolve_article(session, f"{site}:{key}")
        new = queries.get_version(session, article, request.number("to"))
        old = queries.get_version(session, article, request.number("from", max(new.number - 1, 1)))
        return as_json({"site": site, "article_id": key, "from_version": old.number, "to_version": new.number,
                        "fields": diff_as_json(queries.version_diffs(session, article, old.number, new.number))})


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        pass


def make_app_server(store: Store, host: str, port: int) -> WSGIServer:
    return make_server(host, port, App(store), server_class=_Server, handler_class=_QuietHandler)
