"""`newsmon export --format newsedits`: the stored versions as a NewsEdits-shaped SQLite database (Spangher
et al., NAACL 2022): each version's sentences (split_sentences) and how the sentences of consecutive
versions match (matched_sentences), the edits labelled addition, deletion, edit, refactor or unchanged.

Splitting and matching are monitor.compare.sentences. Articles are read and written one at a time, so the
export's memory does not grow with the database. The database is written to a temporary file beside FILE
and renamed only once complete: a failed export leaves nothing that looks like an export.
"""
from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from monitor.compare.sentences import ACTIONS, Sentence, article_sentences, match_sentences
from monitor.errors import BadInput
from monitor.store import queries
from monitor.store.queries import VersionRecord

SCHEMA = """
CREATE TABLE entries (
    entry_id INTEGER PRIMARY KEY,   -- this file's own number for the article
    site TEXT NOT NULL,
    article_id TEXT NOT NULL,       -- the site's id, as newsmon names it (site:article_id)
    url TEXT NOT NULL,              -- of the latest exported version
    title TEXT NOT NULL,            -- of the latest exported version
    published TEXT,                 -- declared publication date, ISO 8601
    versions INTEGER NOT NULL       -- versions exported
);
CREATE TABLE versions (
    entry_id INTEGER NOT NULL REFERENCES entries,
    version INTEGER NOT NULL,       -- newsmon's version number (newsmon show ARTICLE --version N)
    fetched_at TEXT NOT NULL,       -- when newsmon fetched it, UTC
    updated TEXT,                   -- declared update date, ISO 8601
    title TEXT NOT NULL,
    metadata_only INTEGER NOT NULL, -- 1 when only the declared dates changed
    sentences INTEGER NOT NULL,
    PRIMARY KEY (entry_id, version)
);
CREATE TABLE split_sentences (
    entry_id INTEGER NOT NULL REFERENCES entries,
    version INTEGER NOT NULL,
    sent_idx INTEGER NOT NULL,      -- from 0, in reading order: title, lead, body
    sentence TEXT NOT NULL,         -- as published
    part TEXT NOT NULL,             -- title | lead | body
    paragraph INTEGER NOT NULL,     -- the body paragraph it is in (0 for the title and the lead)
    PRIMARY KEY (entry_id, version, sent_idx)
);
CREATE TABLE matched_sentences (
    entry_id INTEGER NOT NULL REFERENCES entries,
    version_x INTEGER NOT NULL,     -- the older version
    version_y INTEGER NOT NULL,     -- the next exported version
    sent_idx_x INTEGER,             -- NULL for an addition
    sent_idx_y INTEGER,             -- NULL for a deletion
    action TEXT NOT NULL,           -- addition | deletion | edit | refactor | unchanged
    similarity REAL,                -- length-weighted Dice of the two sentences' words; NULL when unmatched
    coverage_x REAL,                -- share of sentence x's words found in sentence y
    coverage_y REAL                 -- share of sentence y's words found in sentence x
);
"""
# Created once the rows are in (faster than keeping them up to date row by row): the lookups NewsEdits'
# notebooks make, a sentence's matches from either side, and the edits of one kind.
INDEXES = """
CREATE UNIQUE INDEX entries_site_article ON entries (site, article_id);
CREATE INDEX matched_sentences_x ON matched_sentences (entry_id, version_x, sent_idx_x);
CREATE INDEX matched_sentences_y ON matched_sentences (entry_id, version_y, sent_idx_y);
CREATE INDEX matched_sentences_action ON matched_sentences (action);
"""


@dataclass(slots=True)
class NewsEditsSummary:
    path: Path
    entries: int = 0
    versions: int = 0
    sentences: int = 0
    actions: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        matches = " · ".join(f"{action} {self.actions[action]}" for action in ACTIONS)
        return (f"newsedits: {self.entries} entries, {self.versions} versions, {self.sentences} sentences; "
                f"matches: {matches} -> {self.path}")


def write_newsedits(session: Session, out: Path, *, site: str | None = None,
                    since: datetime | None = None) -> NewsEditsSummary:
    """Write the versions (of `site`, fetched since `since`) to a new SQLite database at `out`. An existing
    `out` is refused: an export never replaces a file."""
    _refuse_existing(out)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    except OSError as exc:
        raise BadInput(f"cannot write --out {out}: {exc.strerror}") from None
    os.close(fd)
    part = Path(name)
    try:
        summary = _fill(part, queries.export_versions(session, site, since), out)
        _refuse_existing(out)  # appeared while the export ran: still never replaced
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return summary


def _refuse_existing(out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise BadInput(f"--out {out} already exists: newsmon export never overwrites; remove it or name another file")


def _fill(path: Path, records: Iterable[VersionRecord], out: Path) -> NewsEditsSummary:
    summary = NewsEditsSummary(out)
    db = sqlite3.connect(path)
    try:
        # A temporary file, renamed only when complete: no journal is needed to survive a crash halfway.
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(SCHEMA)
        for entry_id, versions in enumerate(_articles(records), start=1):
            _write_article(db, entry_id, versions, summary)
        db.executescript(INDEXES)
        db.commit()
    finally:
        db.close()
    return summary


def _articles(records: Iterable[VersionRecord]) -> Iterator[list[VersionRecord]]:
    """The versions of one article at a time (export_versions gives them article by article, oldest first)."""
    for _, versions in itertools.groupby(records, key=lambda r: (r.site, r.article_id)):
        yield list(versions)


def _write_article(db: sqlite3.Connection, entry_id: int, versions: list[VersionRecord],
                   summary: NewsEditsSummary) -> None:
    latest = versions[-1]
    db.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
               (entry_id, latest.site, latest.article_id, latest.url, latest.title, latest.published,
                len(versions)))
    previous: tuple[int, list[Sentence]] | None = None
    for record in versions:
        sentences = article_sentences(record.title, record.lead, record.body)
        db.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (entry_id, record.version, record.fetched_at, record.updated, record.title,
                    int(record.metadata_only), len(sentences)))
        db.executemany("INSERT INTO split_sentences VALUES (?, ?, ?, ?, ?, ?)",
                       [(entry_id, record.version, index, s.text, s.part, s.paragraph)
                        for index, s in enumerate(sentences)])
        if previous is not None:
            _write_matches(db, entry_id, previous, (record.version, sentences), summary)
        previous = (record.version, sentences)
        summary.sentences += len(sentences)
    summary.entries += 1
    summary.versions += len(versions)


def _write_matches(db: sqlite3.Connection, entry_id: int, older: tuple[int, list[Sentence]],
                   newer: tuple[int, list[Sentence]], summary: NewsEditsSummary) -> None:
    matches = match_sentences([s.text for s in older[1]], [s.text for s in newer[1]])
    db.executemany("INSERT INTO matched_sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [(entry_id, older[0], newer[0], m.old, m.new, m.action, m.similarity, m.coverage_old,
                     m.coverage_new) for m in matches])
    summary.actions.update(m.action for m in matches)
