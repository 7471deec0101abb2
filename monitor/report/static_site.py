"""`newsmon report`: a static HTML site of the changes, readable offline (no CDN, fonts or scripts).

    OUT/index.html                       changed articles, newest first; deleted and moved articles
    OUT/articles/SITE/ID.html            one page per article: changes (inline and side by side), timeline
    OUT/articles/SITE/ID.atom            that article's changes as an Atom feed
    OUT/feed.atom                        the same changes as an Atom feed
    OUT/stats.html                       charts of the same edits: per day, silent or announced, delays, most edited
    OUT/static/newsmon.css
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.compare.diffing import FieldDiff
from monitor.errors import BadInput
from monitor.report.feed import atom_feed
from monitor.report.labels import FEED_TITLE, article_feed_title
from monitor.report.pages import STATIC, Context, Links, article_page, index_page
from monitor.report.stats import read_edits, stats_page, summarise
from monitor.store import Store, queries

# A report opened from disk cannot send headers: the same policy as the web app's, in a <meta>.
STATIC_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True, slots=True)
class ReportSummary:
    out: Path
    changes: int
    articles: int


def write_report(store: Store, out: Path, where: queries.ChangeFilter, *, filters_label: str = "") -> ReportSummary:
    """Write the report into `out` (created if needed). A folder that cannot be written (under a file, no
    permission, disk full, a NUL in the name) is the user's input, reported as one line."""
    if "\x00" in str(out):  # the OS would raise ValueError, not OSError: no file can have that name
        raise BadInput(f"cannot write the report to {str(out)!r}: a path cannot hold a NUL character")
    try:
        return _write_report(store, out, where, filters_label)
    except OSError as exc:
        raise BadInput(f"cannot write the report to {out}: {exc.strerror or exc}") from None


def _write_report(store: Store, out: Path, where: queries.ChangeFilter, filters_label: str) -> ReportSummary:
    out.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    database = store.engine.url.render_as_string(hide_password=True)
    with store.session() as session:
        changes = queries.list_changes(session, where)
        events = queries.list_events(session, since=where.since, site=where.site)
        top = Context(Links(root="", suffix=".html"), generated, database, STATIC_CSP)
        (out / "index.html").write_text(index_page(
            top, changes, events, total_label=f"{len(changes)} change{'s' if len(changes) != 1 else ''}",
            filters_label=filters_label), encoding="utf-8")
        (out / "stats.html").write_text(stats_page(top, summarise(read_edits(session, where)),
                                                   filters_label=filters_label), encoding="utf-8")
        pages = {(c.site, c.article_id) for c in changes} | {(e.site, e.article_id) for e in events}
        nested = Context(Links(root="../../", suffix=".html"), generated, database, STATIC_CSP)
        diffs: dict[tuple[str, str, int], list[FieldDiff]] = {}
        for site, article_id in sorted(pages):
            view = queries.article_view(session, queries.resolve_article(session, f"{site}:{article_id}"))
            diffs.update({(site, article_id, d.change.to_version): d.diffs for d in view.changes})
            page = out / "articles" / site / f"{article_id}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(article_page(nested, view), encoding="utf-8")
            page.with_suffix(".atom").write_bytes(article_feed(view, nested.links, database))
    (out / "feed.atom").write_bytes(atom_feed(
        changes, lambda c: diffs[(c.site, c.article_id, c.to_version)], feed_id=f"urn:newsmon:report:{database}",
        base_url="", article_link=top.links.article, self_link=top.links.feed(), title=FEED_TITLE))
    shutil.copytree(STATIC, out / "static", dirs_exist_ok=True)
    return ReportSummary(out, len(changes), len(pages))


def article_feed(view: queries.ArticleView, links: Links, database: str) -> bytes:
    """One article's feed, every change its page shows. `links` are those of the article's page: the feed
    sits beside it, so the same relative links resolve from either."""
    site, article_id = view.history.site, view.history.article_id
    diffs = {d.change.to_version: d.diffs for d in view.changes}
    return atom_feed([d.change for d in view.changes], lambda c: diffs[c.to_version],
                     feed_id=f"urn:newsmon:report:{database}:{site}:{article_id}", base_url="",
                     article_link=links.article, self_link=links.article_feed(site, article_id),
                     title=article_feed_title(view.latest.title))
