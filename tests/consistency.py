"""What a database must look like after anything, a kill included: the engine's own integrity check, and the
invariants of newsmon's history that no constraint spells out."""
from __future__ import annotations

from sqlalchemy import select, text

from monitor.store import open_store
from monitor.store.checkruns import RUN_LIMIT, unpack_times
from monitor.store.models import Check

# Each query lists the rows that break one invariant; all must come back empty.
INVARIANTS = {
    "a version without the check that stored it":
        "SELECT v.id FROM versions v WHERE NOT EXISTS (SELECT 1 FROM checks c WHERE c.version_id = v.id)",
    "version numbers with a gap or not starting at 1":
        "SELECT article_id FROM versions GROUP BY article_id HAVING min(number) <> 1 OR max(number) <> count(*)",
    "a change between versions of another article, or backwards":
        "SELECT ch.id FROM changes ch JOIN versions f ON f.id = ch.from_version_id "
        "JOIN versions t ON t.id = ch.to_version_id "
        "WHERE f.article_id <> ch.article_id OR t.article_id <> ch.article_id OR f.number >= t.number",
    "a check pointing at another article's version":
        "SELECT c.id FROM checks c JOIN versions v ON v.id = c.version_id WHERE v.article_id <> c.article_id",
    "two consecutive versions with the same content":
        "SELECT a.id FROM versions a JOIN versions b ON b.article_id = a.article_id AND b.number = a.number + 1 "
        "WHERE a.text_hash = b.text_hash AND a.dates_key = b.dates_key",
    "a run of checks that are not all the same unchanged check, or longer than a run may be":
        "SELECT id FROM checks WHERE repeats > 0 AND (outcome <> 'unchanged' OR error IS NOT NULL OR later IS NULL "
        f"OR repeats >= {RUN_LIMIT})",
}


def assert_consistent(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).all() == [("ok",)]
                assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            else:
                # PostgreSQL enforces its constraints on every commit; a constraint left NOT VALID would not be.
                assert conn.execute(text("SELECT conname FROM pg_constraint WHERE NOT convalidated "
                                         "AND connamespace = 'public'::regnamespace")).all() == []
            for broken, query in INVARIANTS.items():
                assert conn.execute(text(query)).all() == [], broken
            for row_id, first, later, repeats in conn.execute(select(Check.id, Check.checked_at, Check.later,
                                                                     Check.repeats).where(Check.repeats > 0)):
                times = unpack_times(first, later)
                assert len(times) == 1 + repeats and times == sorted(times), f"check run {row_id}: {times}"
    finally:
        store.close()
