"""The numbers of the statistics page: text edits (announced and silent) counted per day, per edition and
section, by time since publication, and per article. Read with one query; everything after it is a pure
function of the rows (`summarise`), tested with plain values; `stats_page` draws them (charts.py) into
templates/stats.html, for the static report (stats.html) and the web app (/stats).

An edit here is a change whose text changed: dates-only changes and pages read anew by another extractor are
not edits of the article, so they are left out of every chart.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup
from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, aliased

from monitor.compare.policy import publication_estimate
from monitor.iso import from_iso
from monitor.report.charts import Bar, column_chart, row_chart
from monitor.report.pages import ENV, Context, Links
from monitor.store.models import Article, Change, Site, Version
from monitor.store.queries import ChangeFilter

# Beyond this many days between the first and the last edit, days become weeks: a bar a day would be too
# thin to see on a phone.
MAX_DAYS = 92
# (upper bound, short label, long label): time from publication to an edit; the last bucket has no bound.
DELAY_BUCKETS: tuple[tuple[timedelta | None, str, str], ...] = (
    (timedelta(hours=1), "< 1 h", "within an hour"),
    (timedelta(hours=6), "1–6 h", "1 to 6 hours"),
    (timedelta(hours=24), "6–24 h", "6 to 24 hours"),
    (timedelta(days=3), "1–3 d", "1 to 3 days"),
    (timedelta(days=7), "3–7 d", "3 to 7 days"),
    (timedelta(days=28), "1–4 wk", "1 to 4 weeks"),
    (None, "> 4 wk", "over 4 weeks"),
)
MOST_EDITED = 10
NO_EDITION = "(no edition)"
NO_SECTION = "(no section)"


@dataclass(frozen=True, slots=True)
class Edit:
    """One text edit, with what the charts group it by."""

    site: str
    article_id: str
    title: str                   # the article's title in the edited version
    edition: str | None
    section: str | None
    detected_at: datetime        # UTC
    announced: bool
    published: datetime | None   # the declared publication, as well as newsmon can tell (publication_estimate)


@dataclass(frozen=True, slots=True)
class Tally:
    """Announced and silent edits under one label (a day, an edition, a delay bucket, an article)."""

    label: str
    announced: int
    silent: int
    detail: str = ""             # a longer wording of the label, for text alternatives
    site: str | None = None      # for an article: where its page is
    article_id: str | None = None

    @property
    def total(self) -> int:
        return self.announced + self.silent

    @property
    def silent_share(self) -> int:
        """Silent edits in percent of the total, rounded."""
        return round(100 * self.silent / self.total) if self.total else 0


@dataclass(frozen=True, slots=True)
class EditStats:
    announced: int
    silent: int
    articles: int
    first: date | None
    last: date | None
    period: str                  # "day" or "week": what one bar of `per_period` counts
    per_period: list[Tally]      # oldest first, periods without edits included
    by_edition: list[Tally]      # most edits first
    by_section: list[Tally]
    delays: list[Tally]          # DELAY_BUCKETS in order
    undated: int                 # edits of articles that declare no publication date
    most_edited: list[Tally]     # at most MOST_EDITED, most edits first

    @property
    def total(self) -> int:
        return self.announced + self.silent


def read_edits(session: Session, where: ChangeFilter) -> list[Edit]:
    """The text edits that `where` selects (as the change list filters them), oldest first. Only the columns
    the charts need are read: no version's text is loaded."""
    if where.kind == "dates":  # dates-only changes are no text edits: nothing to count
        return []
    new = aliased(Version)
    query = (select(Change.detected_at, Change.announced, Site.name, Article.key, Article.published_iso,
                    Article.date_precision, Article.first_seen_at, new.title, new.edition, new.section)
             .join(Article, Article.id == Change.article_id).join(Site, Site.id == Article.site_id)
             .join(new, new.id == Change.to_version_id)
             .where(Change.text_changed.is_(True))
             .order_by(Change.detected_at, Change.id))
    if where.since is not None:
        query = query.where(Change.detected_at >= where.since)
    if where.silent_only:
        query = query.where(Change.announced.is_(False))
    if where.site:
        query = query.where(Site.name == where.site)
    if where.edition:
        query = query.where(new.edition == where.edition)
    if where.kind:
        # As the change list filters (queries._changes_query): the JSON list's text holds each name in quotes.
        query = query.where(cast(Change.fields, String).like(f'%"{where.kind}"%'))
    return [Edit(site=site, article_id=key, title=title, edition=edition, section=section,
                 detected_at=detected.astimezone(UTC), announced=announced,
                 published=publication_estimate(from_iso(published), precision or "minute", first_seen))
            for detected, announced, site, key, published, precision, first_seen, title, edition, section
            in session.execute(query)]


def summarise(edits: list[Edit]) -> EditStats:
    """Every number the statistics page shows, from the edits oldest first."""
    announced = sum(e.announced for e in edits)
    first = edits[0].detected_at.date() if edits else None
    last = edits[-1].detected_at.date() if edits else None
    period = "week" if first and last and (last - first).days > MAX_DAYS else "day"
    delays = [(e.detected_at - e.published, e) for e in edits if e.published is not None]
    return EditStats(
        announced=announced, silent=len(edits) - announced, articles=len({(e.site, e.article_id) for e in edits}),
        first=first, last=last, period=period, per_period=per_period(edits, period),
        by_edition=by_group(edits, lambda e: e.edition or NO_EDITION),
        by_section=by_group(edits, lambda e: e.section or NO_SECTION),
        delays=by_delay(delays), undated=len(edits) - len(delays), most_edited=most_edited(edits))


def tally(label: str, edits: Iterable[Edit], *, detail: str = "", site: str | None = None,
          article_id: str | None = None) -> Tally:
    kinds = Counter(e.announced for e in edits)
    return Tally(label, announced=kinds[True], silent=kinds[False], detail=detail, site=site, article_id=article_id)


def period_start(moment: datetime, period: str) -> date:
    day = moment.date()
    return day - timedelta(days=day.weekday()) if period == "week" else day


def per_period(edits: list[Edit], period: str) -> list[Tally]:
    """One tally per day (or week, from Monday) from the first edit's to the last's, in UTC; empty ones too,
    so that quiet days show as gaps rather than vanish."""
    if not edits:
        return []
    groups: dict[date, list[Edit]] = defaultdict(list)
    for edit in edits:
        groups[period_start(edit.detected_at, period)].append(edit)
    step = timedelta(days=7 if period == "week" else 1)
    start, end = min(groups), max(groups)
    days = [start + step * i for i in range((end - start) // step + 1)]
    return [tally(f"{day:%b} {day.day}", groups[day],
                  detail=f"week of {day.isoformat()}" if period == "week" else day.isoformat()) for day in days]


def by_group(edits: list[Edit], key: Callable[[Edit], str]) -> list[Tally]:
    """Tallies per edition or section, most edits first (then by name, so that the order is stable)."""
    groups: dict[str, list[Edit]] = defaultdict(list)
    for edit in edits:
        groups[key(edit)].append(edit)
    tallies = [tally(name, group) for name, group in groups.items()]
    return sorted(tallies, key=lambda t: (-t.total, t.label))


def delay_bucket(delay: timedelta) -> int:
    """The index in DELAY_BUCKETS of a time from publication to an edit. A site may declare a publication
    later than newsmon saw an edit (a clock set wrong, a re-dated article): that counts as immediate."""
    for index, (bound, _, _) in enumerate(DELAY_BUCKETS):
        if bound is None or delay < bound:
            return index
    raise AssertionError("the last bucket has no bound")


def by_delay(delays: list[tuple[timedelta, Edit]]) -> list[Tally]:
    """One tally per DELAY_BUCKETS entry, empty ones included: the distribution's shape is the point."""
    groups: dict[int, list[Edit]] = defaultdict(list)
    for delay, edit in delays:
        groups[delay_bucket(delay)].append(edit)
    return [tally(short, groups[i], detail=long) for i, (_, short, long) in enumerate(DELAY_BUCKETS)]


def most_edited(edits: list[Edit], limit: int = MOST_EDITED) -> list[Tally]:
    """The articles with the most edits, titled as last edited; ties: the most recently edited first."""
    groups: dict[tuple[str, str], list[Edit]] = defaultdict(list)
    for edit in edits:
        groups[(edit.site, edit.article_id)].append(edit)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), -item[1][-1].detected_at.timestamp()))
    return [tally(group[-1].title, group, site=site, article_id=article_id, detail=f"{site}:{article_id}")
            for (site, article_id), group in ranked[:limit]]


# ---------------------------------------------------------------- the page

@dataclass(frozen=True, slots=True)
class Chart:
    """One figure of the page: its heading, a line on how to read it, the SVG, and its numbers as a table."""

    key: str
    heading: str
    note: str
    svg: Markup
    rows: list[Tally]
    label_header: str


def bar_hint(t: Tally, label: str) -> str:
    return f"{label}: {plural(t.total, 'edit')} ({t.announced} announced, {t.silent} silent)"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def words(tallies: list[Tally]) -> str:
    """The numbers of a chart in a sentence, for its <desc>: the bars that are not empty."""
    said = [bar_hint(t, t.detail or t.label) for t in tallies if t.total]
    return "; ".join(said) + "." if said else "No edits."


def share_bars(tallies: list[Tally]) -> list[Bar]:
    return [Bar(f"{t.label} — {t.silent_share} % silent", (t.announced, t.silent), bar_hint(t, t.label))
            for t in tallies]


def charts(stats: EditStats, links: Links) -> list[Chart]:
    per = stats.period
    dated = stats.total - stats.undated
    undated = (f" {plural(stats.undated, 'edit')} of articles that declare no publication date left out."
               if stats.undated else "")
    return [
        Chart("per-period", f"Edits per {per}",
              f"Text edits by the {per} newsmon detected them (UTC), announced and silent stacked.",
              column_chart(f"chart-per-{per}", f"Edits per {per}",
                           f"Edits per {per} from {stats.first} to {stats.last}: " + words(stats.per_period),
                           [Bar(t.label, (t.announced, t.silent), bar_hint(t, t.detail)) for t in stats.per_period],
                           axis_label="edits"),
              stats.per_period, per.capitalize()),
        Chart("by-edition", "Silent and announced, by edition",
              "Each edition's edits: announced, then silent, with the silent share.",
              row_chart("chart-by-edition", "Silent and announced edits by edition", words(stats.by_edition),
                        share_bars(stats.by_edition)),
              stats.by_edition, "Edition"),
        Chart("by-section", "Silent and announced, by section",
              "Each section's edits: announced, then silent, with the silent share.",
              row_chart("chart-by-section", "Silent and announced edits by section", words(stats.by_section),
                        share_bars(stats.by_section)),
              stats.by_section, "Section"),
        Chart("delays", "Time from publication to edit",
              f"How long after its declared publication each of {plural(dated, 'edit')} was detected." + undated,
              column_chart("chart-delays", "Time from publication to edit",
                           "Edits by time from the article's publication: " + words(stats.delays),
                           [Bar(t.label, (t.announced, t.silent), bar_hint(t, t.detail)) for t in stats.delays],
                           axis_label="edits", max_labels=len(DELAY_BUCKETS)),
              stats.delays, "After publication"),
        Chart("most-edited", "Most edited articles",
              f"The {plural(len(stats.most_edited), 'article')} with the most edits; each bar opens its page.",
              row_chart("chart-most-edited", "Most edited articles", words(stats.most_edited),
                        [Bar(t.label, (t.announced, t.silent), bar_hint(t, t.label),
                             href=links.article(t.site or "", t.article_id or "")) for t in stats.most_edited]),
              stats.most_edited, "Article"),
    ]


def stats_page(ctx: Context, stats: EditStats, *, filters_label: str = "", filter_form: bool = False,
               editions: Sequence[str] = (), current: dict[str, str | None] | None = None) -> str:
    return ENV.get_template("stats.html").render(
        links=ctx.links, generated=ctx.generated, database=ctx.database, static_csp=ctx.static_csp, stats=stats,
        charts=charts(stats, ctx.links) if stats.total else [], filters_label=filters_label,
        filter_form=filter_form, editions=editions, current=current or {})
