"""Read every stored page again with the current extractors and repair what an older extractor got wrong.

Every version keeps the raw page it was read from, so a fixed extractor bug can be fixed in the history too:
each version's page is read again as the site's spider reads pages today (the site's own extractor and the
generic one: monitor/extract/registry.py; the family that read it first), and a version whose reading
differs (text or declared dates) takes the new reading. The changes from and to a repaired version are computed again, as ingest would have
computed them. One transaction per article: an article is repaired whole or not at all.

A version whose repaired content equals the version before it would be a change that changes nothing. It
is merged into that earlier version (the first page that showed this content): its checks point to the
earlier version and become `unchanged`, its change vanishes, the versions after it are numbered again
without a gap, and the next version's change is computed from the earlier one. The history's invariants
(tests/consistency.py) hold after a merge as they did before.

A version whose page no current extractor can read keeps its stored text, and is counted. A version whose
page was pruned (`newsmon prune`) is not read at all: its stored text stands, and it is counted apart.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.compare.diffing import diff_articles
from monitor.compare.edit_kinds import tally
from monitor.compare.versioning import (EXTRACTOR_CHANGE, Content, Outcome, body_words, compare, dates_key,
                                        extracted_hash, switch_verdict, text_hash)
from monitor.extract import Extractor, read_stored
from monitor.extract.generic import is_generic
from monitor.extract.registry import site_readers
from monitor.iso import to_iso
from monitor.items import VERSION_FIELDS, ExtractedArticle
from monitor.store import Store, queries
from monitor.store.models import Article, Change, Check, Site, Version


@dataclass(frozen=True, slots=True)
class ChangeValues:
    """What a change row says, whether stored or computed again."""

    fields: tuple[str, ...]
    text_changed: bool
    announced: bool
    added_words: int
    removed_words: int
    moved_words: int
    kinds: tuple[str, ...]

    def as_json(self) -> dict:
        return {"fields": list(self.fields), "text_changed": self.text_changed, "announced": self.announced,
                "added_words": self.added_words, "removed_words": self.removed_words,
                "moved_words": self.moved_words, "kinds": list(self.kinds)}


@dataclass(frozen=True, slots=True)
class Recomputed:
    """A change computed again; `before` is None when no change led to that version before."""

    from_version: int      # version numbers after the repair
    to_version: int
    before: ChangeValues | None
    after: ChangeValues


@dataclass(slots=True)
class ArticlePlan:
    """What re-extraction makes of one article. Version numbers are those stored before the repair."""

    site: str
    article_id: str
    versions: int = 0
    repaired: list[int] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)            # no page left to read: the stored text stands
    merged: dict[int, int] = field(default_factory=dict)      # merged version -> the version it joins
    changes: list[Recomputed] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.repaired)

    def as_json(self) -> dict:
        return {"site": self.site, "article_id": self.article_id, "versions": self.versions,
                "repaired": self.repaired, "unreadable": self.unreadable, "pruned": self.pruned,
                "merged": [{"version": v, "into": into} for v, into in self.merged.items()],
                "vanished_changes": len(self.merged),
                "changes": [{"from_version": c.from_version, "to_version": c.to_version,
                             "before": c.before.as_json() if c.before else None, "after": c.after.as_json()}
                            for c in self.changes]}

    def line(self) -> str:
        said = [f"repaired version(s) {_numbers(self.repaired)}"]
        said += [f"version {v} merged into {into} (its change vanishes)" for v, into in self.merged.items()]
        for c in self.changes:
            before = ",".join(c.before.fields) if c.before else "none"
            said.append(f"change {c.from_version}->{c.to_version}: {before} -> {','.join(c.after.fields)} "
                        f"(+{c.after.added_words} -{c.after.removed_words} words)")
        if self.unreadable:
            said.append(f"unreadable left as stored: {_numbers(self.unreadable)}")
        return f"{self.site}:{self.article_id}: " + "; ".join(said)


@dataclass(slots=True)
class Summary:
    articles: list[ArticlePlan] = field(default_factory=list)   # those touched only
    checked_articles: int = 0
    versions: int = 0
    unreadable: int = 0
    pruned: int = 0
    dry_run: bool = False

    def as_json(self) -> dict:
        return {"articles": [a.as_json() for a in self.articles], "summary": self.totals()}

    def totals(self) -> dict:
        return {"articles": self.checked_articles, "versions": self.versions, "articles_repaired": len(self.articles),
                "versions_repaired": sum(len(a.repaired) for a in self.articles),
                "changes_recomputed": sum(len(a.changes) for a in self.articles),
                "changes_vanished": sum(len(a.merged) for a in self.articles),
                "unreadable": self.unreadable, "pruned": self.pruned, "dry_run": self.dry_run}

    def line(self) -> str:
        t = self.totals()
        return (f"reextract: {t['articles']} article(s), {t['versions']} version(s) read · repaired "
                f"{t['versions_repaired']} version(s) of {t['articles_repaired']} article(s) · changes recomputed "
                f"{t['changes_recomputed']} · vanished {t['changes_vanished']} · unreadable {t['unreadable']}"
                + (f" · pruned pages skipped {t['pruned']}" if t["pruned"] else "")
                + (" · dry run: nothing written" if self.dry_run else ""))


def reextract(store: Store, *, site: str | None = None, dry_run: bool = False,
              timezones: Mapping[str, str] | None = None) -> Summary:
    """Re-read every stored version of every article (of `site`, if given) and repair the history, one
    transaction per article; with `dry_run`, only say what would change. `timezones` gives a `news` site's
    configured zone (site name -> IANA name), as its spider reads dates with it."""
    summary = Summary(dry_run=dry_run)
    for article_pk, site_name, spider in _articles(store, site):
        readers = site_readers(spider, (timezones or {}).get(site_name))
        with store.session() as session:
            # A dry run changes no row, so its transaction ends with nothing to commit.
            plan = _repair_article(session, session.get_one(Article, article_pk), site_name, readers, dry_run)
        summary.checked_articles += 1
        summary.versions += plan.versions
        summary.unreadable += len(plan.unreadable)
        summary.pruned += len(plan.pruned)
        if plan.touched:
            summary.articles.append(plan)
    return summary


def _articles(store: Store, site: str | None) -> list[tuple[int, str, str]]:
    """Every article to re-read: (its row id, its site's name, the site's spider). An unknown site is bad input."""
    with store.session() as session:
        queries.require_site(session, site)
        query = select(Article.id, Site.name, Site.spider).join(Site, Site.id == Article.site_id).order_by(Article.id)
        if site is not None:
            query = query.where(Site.name == site)
        return [(pk, name, spider) for pk, name, spider in session.execute(query)]


def read_again(version: Version, readers: tuple[Extractor, Extractor]) -> ExtractedArticle | None:
    """The version's page as the current extractors read it, or None when neither can. The family that read
    it first (the site's extractor, or the generic one), then the other, as spiders/base.py `read` falls back:
    a crawl compares like with like (monitor/store/ingest.py `_switch` reads an old page again with the
    generic extractor on purpose), and re-reading it with the other family would undo that comparison. The
    page is decoded as it was when stored."""
    own, generic = readers
    order = (generic, own) if is_generic(version.extractor) else (own, generic)
    page = version.page
    return read_stored(page, version.url, version.raw_encoding, order) if page is not None else None


def _differs(version: Version, reading: ExtractedArticle) -> bool:
    """Whether the reading says something else than the stored version: its text or its declared dates.
    A new extractor name alone, with the same text, is nothing to repair."""
    return version.extracted_hash != extracted_hash(reading) or version.dates_key != dates_key(reading)


def _same_content(a: Content, b: Content) -> bool:
    return text_hash(a) == text_hash(b) and dates_key(a) == dates_key(b)


def _repair_article(session: Session, article: Article, site: str, readers: tuple[Extractor, Extractor],
                    dry_run: bool) -> ArticlePlan:
    versions = list(session.scalars(select(Version).where(Version.article_id == article.id)
                                    .order_by(Version.number)))
    plan = ArticlePlan(site, article.key, versions=len(versions))
    content: dict[int, Content] = {}
    extractor: dict[int, str] = {}
    for version in versions:
        if not version.raw_html:   # pruned: nothing to read again
            plan.pruned.append(version.number)
            content[version.id], extractor[version.id] = version, version.extractor
            continue
        reading = read_again(version, readers)
        if reading is None:
            plan.unreadable.append(version.number)
        elif _differs(version, reading):
            plan.repaired.append(version.number)
        content[version.id] = reading if reading is not None and _differs(version, reading) else version
        # Compared under the name of what reads the page today: two pages the same extractor reads now are
        # no change of extractor, whatever read them when they were fetched.
        extractor[version.id] = reading.extractor if reading is not None else version.extractor
    if not plan.repaired:
        return plan
    kept = _merge_equal(versions, content, plan)
    repaired = set(plan.repaired)
    old_changes = {c.to_version_id: c for c in session.scalars(select(Change).where(Change.article_id == article.id))}
    new_values: dict[int, ChangeValues] = {}
    for j, (previous, current) in enumerate(pairwise(kept), start=1):
        original_previous = versions[current.number - 2]
        if previous is original_previous and not {previous.number, current.number} & repaired:
            continue   # neither end changed: the stored change stands
        values = _change_values(content[previous.id], content[current.id],
                                extractor[previous.id] != extractor[current.id])
        old = old_changes.get(current.id)
        plan.changes.append(Recomputed(j, j + 1, _stored_values(old) if old else None, values))
        new_values[current.id] = values
    if not dry_run:
        _apply(session, article, versions, kept, content, extractor, new_values, old_changes, plan)
    return plan


def _merge_equal(versions: Sequence[Version], content: Mapping[int, Content], plan: ArticlePlan) -> list[Version]:
    """The versions that stay: each one whose content (once repaired) equals the last one kept joins it."""
    kept: list[Version] = []
    for version in versions:
        if kept and _same_content(content[kept[-1].id], content[version.id]):
            plan.merged[version.number] = kept[-1].number
        else:
            kept.append(version)
    return kept


def _change_values(old: Content, new: Content, other_extractor: bool) -> ChangeValues:
    """The change between two consecutive versions, as ingest computes it (monitor/store/ingest.py): read by
    two extractors, the same words in the same order are a change of extractor, never an edit."""
    diffs = diff_articles(old, new)
    if other_extractor and (switched := switch_verdict(old, new)):
        counted = tally(old, new, diffs, text_changed=False)
        return ChangeValues(switched.fields, False, False, counted.added_words, counted.removed_words,
                            counted.moved_words, counted.kinds)
    verdict = compare(old, new)
    fields = (EXTRACTOR_CHANGE, *verdict.fields) if other_extractor else verdict.fields
    counted = tally(old, new, diffs, verdict.outcome is Outcome.CHANGED)
    return ChangeValues(fields, verdict.outcome is Outcome.CHANGED, verdict.announced, counted.added_words,
                        counted.removed_words, counted.moved_words, counted.kinds)


def _stored_values(change: Change) -> ChangeValues:
    return ChangeValues(tuple(change.fields), change.text_changed, change.announced, change.added_words,
                        change.removed_words, change.moved_words, tuple(change.kinds))


def _apply(session: Session, article: Article, versions: Sequence[Version], kept: Sequence[Version],
           content: Mapping[int, Content], extractor: Mapping[int, str], new_values: Mapping[int, ChangeValues],
           old_changes: Mapping[int, Change], plan: ArticlePlan) -> None:
    """Write the plan. Order matters to the foreign keys and to the unique (article, number): rows that
    point to a merged version move first, then it goes, then the versions after it are numbered again."""
    repaired = set(plan.repaired)
    for version in versions:
        if version.number in repaired:
            _store_reading(version, content[version.id], extractor[version.id])
    by_number = {v.number: v for v in versions}
    for number, into in plan.merged.items():
        merged, target = by_number[number], by_number[into]
        # A row holding a run of unchanged checks (monitor/store/checkruns.py) is of one version: it moves whole.
        session.execute(update(Check).where(Check.version_id == merged.id)
                        .values(version_id=target.id, outcome=Outcome.UNCHANGED.value))
        session.delete(old_changes[merged.id])
    for previous, current in pairwise(kept):
        if (values := new_values.get(current.id)) is not None:
            _store_change(old_changes[current.id], previous, values)
            current.metadata_only = not values.text_changed
            # The check that stored the version says what it was: an edit, or dates (or extractor) only.
            session.execute(update(Check).where(Check.version_id == current.id,
                                                Check.outcome.in_([Outcome.CHANGED.value, Outcome.METADATA.value]))
                            .values(outcome=(Outcome.CHANGED if values.text_changed else Outcome.METADATA).value))
    session.flush()
    for number in plan.merged:
        session.delete(by_number[number])
    session.flush()
    for n, version in enumerate(kept, start=1):
        if version.number != n:
            version.number = n
            session.flush()   # one row at a time, upwards: no two rows ever share a number
    latest = content[kept[-1].id]
    article.published_iso, article.date_precision = to_iso(latest.published), latest.date_precision
    # The revisit policy's anchor is the last edit: a vanished edit must not keep the article young.
    article.last_changed_at = session.scalar(select(func.max(Change.detected_at)).where(
        Change.article_id == article.id, Change.text_changed.is_(True)))


def _store_reading(version: Version, reading: Content, extractor: str) -> None:
    assert isinstance(reading, ExtractedArticle)
    for name in VERSION_FIELDS:
        setattr(version, name, getattr(reading, name))
    version.extractor = extractor
    version.text_hash, version.extracted_hash = text_hash(reading), extracted_hash(reading)
    version.body_words, version.dates_key = body_words(reading.body), dates_key(reading)


def _store_change(change: Change, previous: Version, values: ChangeValues) -> None:
    change.from_version_id = previous.id
    change.fields = list(values.fields)
    change.text_changed, change.announced = values.text_changed, values.announced
    change.added_words, change.removed_words = values.added_words, values.removed_words
    change.moved_words, change.kinds = values.moved_words, list(values.kinds)


def _numbers(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def lines(summary: Summary) -> Iterator[str]:
    """The text output: one line per article touched, then the summary."""
    for plan in summary.articles:
        yield plan.line()
    yield summary.line()
