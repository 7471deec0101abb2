"""One daemon per database. The lock is one the operating system or the database server drops by itself
when the holder dies, so a daemon killed with SIGKILL never blocks its own restart:
- SQLite: an exclusive flock on a file beside the database;
- PostgreSQL: a session advisory lock held by a dedicated connection.
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from monitor.errors import NewsmonError
from monitor.store import Store

ADVISORY_LOCK_ID = 0x6E65_7773  # "news": any constant shared by all newsmon daemons


class DaemonRunning(NewsmonError):
    """Another daemon already works on this database."""


@contextmanager
def daemon_lock(store: Store) -> Iterator[None]:
    if store.engine.dialect.name == "sqlite":
        with _file_lock(Path(store.engine.url.database or "newsmon.db")):
            yield
    elif store.engine.dialect.name == "postgresql":
        with _advisory_lock(store):
            yield
    else:
        raise NewsmonError(f"the daemon needs SQLite or PostgreSQL, not {store.engine.dialect.name}")


@contextmanager
def _file_lock(database: Path) -> Iterator[None]:
    path = database.with_name(database.name + ".daemon-lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown pid"
            raise DaemonRunning(f"another newsmon daemon ({holder}) is already running on {database}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(store: Store) -> Iterator[None]:
    with store.engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID}).scalar():
            holder = conn.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :id AND granted"),
                {"id": ADVISORY_LOCK_ID}).scalar()
            raise DaemonRunning(f"another newsmon daemon (server pid {holder}) is already running on "
                                f"{store.engine.url.render_as_string(hide_password=True)}")
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
            conn.commit()
