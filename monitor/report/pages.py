"""HTML pages of changes and articles, shared by the static report and the web app.

Everything shown comes from crawled pages and is untrusted: templates autoescape every value, no HTML
from a crawled page is ever rendered (only extracted text), and a link to a crawled URL is made only for
http(s) URLs. The two outputs differ only in their `Links` (relative files vs. routes).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.compare.diffing import FieldDiff, Segment, is_changed, paragraphs
from monitor.compare.edit_kinds import EDIT_KINDS
from monitor.report.labels import EDIT_KIND_HELP, FIELD_LABELS, KIND_LABELS, article_feed_title, change_kind
from monitor.store.queries import ArticleView, ChangeRecord, EventRecord

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Served pages: nothing but our own stylesheet may load; no script runs, no form posts elsewhere.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")


@dataclass(frozen=True, slots=True)
class Links:
    """Where pages live: `root` is the prefix back to the top, `suffix` ends page links (".html" for files)."""

    root: str
    suffix: str

    def index(self) -> str:
        return f"{self.root}index{self.suffix}" if self.suffix else self.root or "/"

    def article(self, site: str, article_id: str) -> str:
        return f"{self.root}articles/{quote(site, safe='')}/{quote(article_id, safe='')}{self.suffix}"

    def diff(self, site: str, article_id: str, from_version: int, to_version: int) -> str:
        """A page of its own in the web app; in a static report, the change's place on the article page."""
        if self.suffix:
            return f"{self.article(site, article_id)}#v{to_version}"
        return f"{self.article(site, article_id)}/diff?from={from_version}&to={to_version}"

    def asset(self, name: str) -> str:
        return f"{self.root}static/{name}"

    def feed(self) -> str:
        return f"{self.root}feed.atom"

    def stats(self) -> str:
        return f"{self.root}stats{self.suffix}"

    def article_feed(self, site: str, article_id: str) -> str:
        """One article's feed: beside its page in a static report (ID.html, ID.atom), under its route live."""
        page = f"{self.root}articles/{quote(site, safe='')}/{quote(article_id, safe='')}"
        return f"{page}.atom" if self.suffix else f"{page}/feed.atom"


def is_web_url(value: object) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def when(iso: str) -> str:
    """'2026-11-24T22:56:02.151793Z' -> '2026-11-24 22:56 UTC'."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def declared(iso: str | None, precision: str = "minute") -> str:
    """A date as the site declared it: the day alone when the page gave no time."""
    if not iso:
        return "?"
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d") if precision == "day" else moment.strftime("%Y-%m-%d %H:%M (UTC%z)")


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A paragraph of an inline diff, or a run of unchanged paragraphs left out."""

    segments: list[Segment]
    skipped: int = 0


def excerpts(diff: FieldDiff) -> list[Excerpt]:
    """Changed paragraphs of a field, unchanged ones between them counted, not shown."""
    out: list[Excerpt] = []
    skipped = 0
    for paragraph in paragraphs(diff.segments):
        if is_changed(paragraph):
            if skipped:
                out.append(Excerpt([], skipped))
            out.append(Excerpt(paragraph))
            skipped = 0
        else:
            skipped += 1
    if skipped:
        out.append(Excerpt([], skipped))
    return out


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["declared"] = declared
    env.filters["excerpts"] = excerpts
    env.tests["is_web_url"] = is_web_url
    env.filters["is_web_url"] = is_web_url
    env.globals["field_labels"] = FIELD_LABELS
    env.globals["kind_labels"] = KIND_LABELS
    env.globals["edit_kind_help"] = EDIT_KIND_HELP
    env.globals["edit_kinds"] = EDIT_KINDS
    env.globals["change_kind"] = change_kind
    env.globals["article_feed_title"] = article_feed_title
    return env


ENV = _environment()


@dataclass(frozen=True, slots=True)
class Context:
    links: Links
    generated: str
    database: str
    static_csp: str | None = None   # static files cannot send headers: the policy goes in a <meta>


def index_page(ctx: Context, changes: list[ChangeRecord], events: list[EventRecord], *, total_label: str,
               filters_label: str = "", filter_form: bool = False, editions: list[str] = (),  # type: ignore[assignment]
               kinds: tuple[str, ...] = (), current: dict | None = None, pager: dict | None = None) -> str:
    return ENV.get_template("index.html").render(
        links=ctx.links, generated=ctx.generated, database=ctx.database, static_csp=ctx.static_csp,
        changes=changes, events=events, total_label=total_label, filters_label=filters_label,
        filter_form=filter_form, editions=editions, kinds=kinds, current=current or {}, pager=pager)


def article_page(ctx: Context, view: ArticleView) -> str:
    return ENV.get_template("article.html").render(
        links=ctx.links, generated=ctx.generated, database=ctx.database, static_csp=ctx.static_csp,
        history=view.history, latest=view.latest, changes=view.changes, timeline=view.timeline,
        quiet_checks=view.quiet_checks)


def diff_page(ctx: Context, *, site: str, article_id: str, title: str, from_version: int, to_version: int,
              diffs: list[FieldDiff]) -> str:
    return ENV.get_template("diff.html").render(
        links=ctx.links, generated=ctx.generated, database=ctx.database, static_csp=ctx.static_csp, site=site,
        article_id=article_id, title=title, from_version=from_version, to_version=to_version, diffs=diffs)


def inline_diff_html(diffs: list[FieldDiff]) -> str:
    """The inline diffs alone, as an HTML fragment (for feed entries)."""
    return ENV.from_string('{% from "macros.html" import change_diffs %}{{ change_diffs(diffs) }}').render(diffs=diffs)
