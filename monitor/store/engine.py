"""Opening the database: where it is by default, SQLite pragmas, migrations, and clear errors when the
database cannot be used. Everything else talks to the database through a `Store`."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import DatabaseError

MIGRATIONS = Path(__file__).parent / "migrations"


def default_db_url() -> str:
    """NEWSMON_DB if set, else a SQLite file in the user's data folder (XDG_DATA_HOME)."""
    if url := os.environ.get("NEWSMON_DB"):
        return url
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{data_home / 'newsmon' / 'newsmon.db'}"


def _sqlite_pragmas(busy_timeout_ms: int):  # noqa: ANN202 - an event listener
    def set_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI types vary by driver
        cursor = dbapi_connection.cursor()
        # The busy timeout rides out the brief write locks of another process instead of failing at once.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
    return set_pragmas


class Store:
    """A migrated database and a session factory."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open (and migrate) the database at `url`. With create=False a missing SQLite file is an error,
    so a mistyped path is never mistaken for an empty database."""
    url = url or default_db_url()
    engine = _engine(url, create)
    try:
        _migrate(engine)
        if engine.dialect.name == "sqlite":
            # WAL lets readers (reports, the web app) run while a crawl writes. It is a property of the
            # file, set once it is known to be ours: a refused foreign database is left exactly as it was.
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot use database {_safe(url)}: {_first_line(exc.orig or exc)}") from exc
    return Store(engine)


def _engine(url: str, create: bool) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {url!r} (expected e.g. sqlite:///path/newsmon.db)") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).expanduser()
        if not path.exists():
            if not create:
                raise DatabaseError(f"no database at {path} (run `newsmon crawl` first, or pass --db)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
        parsed = parsed.set(database=str(path))
    try:
        engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"unsupported database URL {_safe(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        # ?timeout=SECONDS in the URL (the sqlite3 driver's own option) sets how long to wait for a lock.
        timeout = float(parsed.query.get("timeout", 30))  # type: ignore[arg-type]
        event.listen(engine, "connect", _sqlite_pragmas(int(timeout * 1000)))
    return engine


def _migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; refuse databases that are not newsmon's or are newer."""
    cfg = _alembic_config(engine)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    if current == head:
        return
    if current is None and tables - {"alembic_version"}:
        raise DatabaseError(f"{_safe(str(engine.url))} holds other tables ({', '.join(sorted(tables)[:3])}...): "
                            "not a newsmon database")
    if current is not None and current not in {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}:
        raise DatabaseError(f"{_safe(str(engine.url))} was written by a newer newsmon (schema {current})")
    command.upgrade(cfg, "head")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
