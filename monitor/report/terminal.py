"""Renderers for the terminal, plain text and JSON, of the records in monitor/store/queries.py and of diffs.

On a terminal: colours and tables (rich). Otherwise: plain lines that grep and cut can read. Diffs in
plain text use wdiff's markers, [-removed-] and {+added+}, so they survive copy and paste; moved text is
[<where it stood<] and {>where it stands now>}.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.compare.diffing import DELETE, INSERT, MOVED_FROM, MOVED_TO, FieldDiff
from monitor.compare.reverts import FlipFlop
from monitor.report.labels import kind_label
from monitor.store.queries import (ArticleRecord, ChangeRecord, DueRecord, History, RunRecord, VersionRecord,
                                   VersionSummary)
from monitor.store.queue import QueueState
from monitor.store.usage import Pruned, Usage

if TYPE_CHECKING:  # importing Scrapy costs half a second that read-only commands need not pay
    from monitor.crawl.summary import CrawlSummary

DIFF_FORMATS = ("term", "text", "json")


def write_json(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False, indent=1) + "\n")


def write_json_lines(out: TextIO, records: Iterable[Any]) -> None:
    for record in records:
        out.write(json.dumps(record.as_json(), ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- diffs

def diff_as_json(diffs: Sequence[FieldDiff]) -> list[dict]:
    return [{"field": d.field, "added_words": d.added_words, "removed_words": d.removed_words,
             "moved_words": d.moved_words, "segments": [{"op": s.op, "text": s.text} for s in d.segments]}
            for d in diffs]


# wdiff's markers for added and removed words, and the same with < > for moved ones (where they stood, where
# they stand now).
TEXT_MARKERS = {DELETE: ("[-", "-]"), INSERT: ("{+", "+}"), MOVED_FROM: ("[<", "<]"), MOVED_TO: ("{>", ">}")}


def marked(op: str, text: str) -> str:
    start, end = TEXT_MARKERS.get(op, ("", ""))
    return f"{start}{text}{end}"


def word_counts(added: int, removed: int, moved: int) -> str:
    """'+3 -1 words', with ', 40 moved' when text moved: the same words in every renderer."""
    return f"+{added} -{removed} words" + (f", {moved} moved" if moved else "")


def short_counts(added: int, removed: int, moved: int) -> str:
    """A listing's words column: '+3 -1', with ' moved 40' when text moved."""
    return f"+{added} -{removed}" + (f" moved {moved}" if moved else "")


def diff_as_text(diffs: Sequence[FieldDiff]) -> str:
    blocks = []
    for d in diffs:
        text = "".join(marked(s.op, s.text) for s in d.segments)
        blocks.append(f"== {d.field} ({word_counts(d.added_words, d.removed_words, d.moved_words)})\n{text}")
    return "\n\n".join(blocks) + "\n" if blocks else "no text change\n"


# Insertions and deletions differ by more than colour: underline and strike-through; moved text is italic,
# dim where it stood.
RICH_STYLES = {DELETE: "red strike", INSERT: "green underline", MOVED_FROM: "dim italic", MOVED_TO: "blue italic"}


def diff_as_rich(diffs: Sequence[FieldDiff]) -> Text:
    out = Text()
    for i, d in enumerate(diffs):
        if i:
            out.append("\n\n")
        out.append(f"{d.field}", style="bold")
        out.append(f"  {word_counts(d.added_words, d.removed_words, d.moved_words)}\n", style="dim")
        for s in d.segments:
            # The markers too, on a terminal: the text that moved must read as moved without colours.
            out.append(marked(s.op, s.text) if s.op in (MOVED_FROM, MOVED_TO) else s.text,
                       style=RICH_STYLES.get(s.op, ""))
    return out if diffs else Text("no text change")


# ---------------------------------------------------------------- listings

class Output:
    """Where a command writes: a table on a terminal, plain tab-separated lines otherwise."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.console = Console(file=stream, highlight=False, soft_wrap=not stream.isatty())
        self.is_terminal = self.console.is_terminal

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        rows = [["" if v is None else str(v) for v in row] for row in rows]
        if self.is_terminal:
            table = Table(*columns, header_style="bold")
            for row in rows:
                table.add_row(*row)
            self.console.print(table)
        else:
            for row in rows:
                self.stream.write("\t".join(row) + "\n")

    def print(self, renderable: object) -> None:
        if isinstance(renderable, str) and not self.is_terminal:
            self.stream.write(renderable if renderable.endswith("\n") else renderable + "\n")
        else:
            self.console.print(renderable)


def articles_table(out: Output, records: Sequence[ArticleRecord]) -> None:
    out.table(("site", "id", "status", "versions", "edition", "published", "title"),
              ((r.site, r.article_id, r.status, r.versions, r.edition, r.published, r.title) for r in records))


def changes_table(out: Output, records: Sequence[ChangeRecord]) -> None:
    out.table(("detected", "site", "id", "versions", "kind", "fields", "edits", "words", "title"),
              ((r.detected_at, r.site, r.article_id, f"{r.from_version}→{r.to_version}",
                kind_label(r.text_changed, r.announced, r.fields), ",".join(r.fields), edits(r.kinds, r.reverts_to),
                short_counts(r.added_words, r.removed_words, r.moved_words), r.title) for r in records))


def history_view(out: Output, history: History) -> None:
    out.print(f"{history.site}:{history.article_id} ({history.status}) {history.url}")
    for url in history.urls:
        if url != history.url:
            out.print(f"  also at {url}")
    out.table(("version", "fetched", "declared update", "change", "words", "title"),
              ((v.version, v.fetched_at, v.updated, version_change(v),
                short_counts(v.added_words, v.removed_words, v.moved_words) if v.version > 1 else "", v.title)
               for v in history.versions))
    for flip in history.headline_flips:
        out.print(flip_line(flip))
    out.table(("at", "what", "outcome", "http", "version", "error"),
              ((e.at, e.kind, e.outcome, e.http_status, e.version, e.error) for e in history.timeline))


def version_change(v: VersionSummary) -> str:
    """What a version of a history changed: 'silent edit: body (spelling)'; 'first' for the first."""
    if v.version == 1:
        return "first"
    said = kind_label(not v.metadata_only, v.announced, v.fields)
    said += "" if v.metadata_only else f": {','.join(v.fields)}"
    return said + (f" ({edits(v.kinds, v.reverts_to)})" if v.kinds or v.reverts_to else "")


def edits(kinds: Sequence[str], reverts_to: int | None) -> str:
    """The kinds of edit of a change, and the version it reverts to: 'headline,reverts to v1'; '-' for none."""
    return ",".join([*kinds, *([f"reverts to v{reverts_to}"] if reverts_to else [])]) or "-"


def flip_line(flip: FlipFlop) -> str:
    """A headline flip-flop in one line: 'headline A/B: “A” ⇄ “B”, 3 changes (versions 2, 3, 4)'."""
    return (f"headline A/B: “{flip.titles[0]}” ⇄ “{flip.titles[1]}”, {flip.changes} changes "
            f"(versions {', '.join(map(str, flip.versions))})")


def version_view(out: Output, record: VersionRecord) -> None:
    dates = f"published {record.published or '?'}" + (f", updated {record.updated}" if record.updated else "")
    lines = [f"{record.site}:{record.article_id} version {record.version} (fetched {record.fetched_at})",
             record.url, "", record.title, f"{record.author} · {dates}", "", record.lead, "",
             *[p + "\n" for p in record.body]]
    lines += [f"[image] {c}" for c in record.captions]
    out.print("\n".join(lines))


def summary_line(summary: CrawlSummary) -> str:
    """One crawl in one line: the command's summary and the daemon's log line."""
    o = summary.outcomes
    line = (f"{summary.site}: checked {summary.checked} · new {o.get('new', 0)} · changed {o.get('changed', 0)}"
            f" · dates only {o.get('metadata', 0)} · unchanged {o.get('unchanged', 0)} · gone {o.get('gone', 0)}"
            f" · errors {o.get('error', 0)}")
    if o.get("suspect"):
        line += f" · held for confirmation {o['suspect']}"
    if o.get("retried"):
        line += f" · broken pages fetched again {o['retried']}"
    if summary.listing_errors:
        line += f" · listing errors {summary.listing_errors}"
    if summary.archive_left_out:
        line += f" · archive left out {summary.archive_left_out}"
    if summary.generic_fallback:
        line += f" · read by the generic extractor {summary.generic_fallback}"
    line += f" · {summary.bytes / 1e6:.1f} MB"
    if summary.not_modified:
        line += f" ({summary.not_modified} not modified, {summary.saved_bytes / 1e6:.1f} MB saved)"
    return f"{line} in {summary.seconds:.1f} s"


RENDER_DIFF: dict[str, Callable[[Sequence[FieldDiff]], object]] = {
    "term": diff_as_rich, "text": diff_as_text, "json": diff_as_json}


def sites_table(out: Output, records: Sequence[dict], path: object) -> None:
    out.print(f"config: {path or 'built-in defaults'}")
    out.table(("site", "spider", "base url", "editions", "discovery", "revisit tiers (until: every)"),
              ((r["name"], r["spider"], r["base_url"] or "(spider default)", ",".join(r["editions"]) or "all",
                f"every {r['discovery_interval']}",
                " · ".join(f"{u}: {e}" for u, e in r["policy"]["tiers"])) for r in records))


def status_view(out: Output, runs: Sequence[RunRecord], due_now: int, due: Sequence[DueRecord]) -> None:
    out.table(("site", "kind", "started", "finished", "outcome", "counts", "error"),
              ((r.site, r.kind, r.started_at, r.finished_at, r.outcome,
                " ".join(f"{k}={v}" for k, v in r.counts.items() if v), r.error) for r in runs))
    out.print(f"{due_now} article(s) due now; next checks:")
    schedule_rows(out, due)


def queue_view(out: Output, queue: QueueState) -> None:
    """Distributed mode's part of `newsmon status`: the job queue per site, and the workers' heartbeats."""
    out.print("job queue (distributed mode):")
    out.table(("site", "waiting", "running", "failed (day)", "done (hour)"),
              ((q.site, q.waiting, q.running, q.failed, q.done) for q in queue.sites))
    if not queue.workers:
        out.print("no worker has a heartbeat: start `newsmon worker`")
    out.table(("worker", "last beat", "seconds ago"), ((w.id, w.last_beat, w.seconds_ago) for w in queue.workers))


def schedule_table(out: Output, due_now: int, due: Sequence[DueRecord]) -> None:
    out.print(f"{due_now} article(s) due now")
    schedule_rows(out, due)


def schedule_rows(out: Output, due: Sequence[DueRecord]) -> None:
    out.table(("next check", "site", "id", "why"), ((d.next_check_at, d.site, d.article_id, d.reason) for d in due))


def notify_table(out: Output, records: Sequence[dict]) -> None:
    """`newsmon notify status`: deliveries per subscription (records as `--json` gives them)."""
    if not records:
        out.print("no subscription: add [notify.NAME] tables to the config")
        return
    out.table(("subscription", "pending", "sent", "failed", "last error"),
              ((r["name"], str(r["pending"]), str(r["sent"]), str(r["failed"]), r["last_error"] or "")
               for r in records))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


def usage_view(out: Output, usage: Usage) -> None:
    """`newsmon stats`: the database, its tables, then per site."""
    out.print(f"database ({usage.backend}): {_size(usage.database_bytes)} · {usage.per_version:,.0f} bytes per "
              f"version (page included) · {usage.per_check:,.0f} bytes per check (indexes included)")
    out.table(("table", "rows", "size", "bytes/row"),
              ((t.table, f"{t.rows:,}", _size(t.bytes), f"{t.per_row:,.0f}") for t in usage.tables if t.rows))
    out.table(("site", "versions", "pages", "pruned", "raw pages", "as fetched", "text", "checks", "check rows",
               "dictionaries"),
              ((s.site, f"{s.versions:,}", f"{s.pages:,}", f"{s.pruned:,}", _size(s.raw_bytes), _size(s.page_bytes),
                _size(s.text_bytes), f"{s.checks:,}", _size(s.check_bytes), s.dictionaries) for s in usage.sites))


def pruned_view(out: Output, pruned: Pruned) -> None:
    """`newsmon prune`: what was dropped (or would be), in one line per site and a summary."""
    for site, pages in sorted(pruned.by_site.items()):
        out.print(f"{site}: {pages:,} raw page(s)")
    span = f", fetched {pruned.oldest:%Y-%m-%d} to {pruned.newest:%Y-%m-%d}" if pruned.oldest and pruned.newest else ""
    verb = "would drop" if pruned.dry_run else "dropped"
    out.print(f"prune: {verb} {pruned.pages:,} raw page(s) of versions fetched before {pruned.before:%Y-%m-%d %H:%M} "
              f"UTC ({_size(pruned.bytes)} compressed{span}); text, versions and checks kept"
              + (" · dry run: nothing written" if pruned.dry_run else ""))
