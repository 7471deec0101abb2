"""Opening the database: where it is by default, SQLite pragmas, migrations, and clear errors when the
database cannot be used. Everything else talks to the database through a `Store`."""
from __future__ import annotations

import math
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
        # Only a database not created yet takes it: rows of a version (its compressed page and text, ~3 KB)
        # fill 4 KB pages one each; in 16 KB pages they take ~20 % less room (bench/storage.py).
        cursor.execute("PRAGMA page_size=16384")
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
    """Open (and migrate) the database at `url`. With create=False a missing SQLite file, or a database
    without newsmon's schema, is an error: a mistyped path is never mistaken for an empty database, and a
    command that only reads never creates a schema."""
    url = url or default_db_url()
    engine = _engine(url, create)
    try:
        _migrate(engine, create)
        if engine.dialect.name == "sqlite":
            # WAL lets readers (reports, the web app) run while a crawl writes. It is a property of the
            # file, set once it is known to be ours: a refused foreign database is left exactly as it was.
            _write_ahead(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot use database {_safe(url)}: {_first_line(exc.orig or exc)}") from exc
    return Store(engine)


def _engine(url: str, create: bool) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number, e.g. in "pg://[::1/x"
        raise DatabaseError(f"not a database URL: {url!r} (expected e.g. sqlite:///path/newsmon.db)") from exc
    busy_timeout_ms: int | None = None  # SQLite only
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # An in-memory database is gone when newsmon exits: a read finds nothing, a crawl keeps nothing
            # (and its threads cannot share the one connection). "sqlite:///" is a path left out, not a plan.
            raise DatabaseError(f"{url!r} is an in-memory database, which keeps nothing: give a file, "
                                "e.g. sqlite:///path/newsmon.db")
        if "\x00" in parsed.database:
            raise DatabaseError(f"not a database path: {parsed.database!r}")
        path = Path(parsed.database).expanduser()
        if path.is_dir():
            raise DatabaseError(f"{path} is a folder, not a database file (e.g. sqlite:///{path / 'newsmon.db'})")
        if not path.exists():
            if not create:
                raise DatabaseError(f"no database at {path} (run `newsmon crawl` first, or pass --db)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except FileExistsError as exc:  # mkdir's "File exists" would not say which part is in the way
                raise DatabaseError(f"cannot create the database folder {path.parent}: a file is in the way") from exc
            except OSError as exc:
                raise DatabaseError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
        parsed = parsed.set(database=str(path))
        # ?timeout=SECONDS in the URL (the sqlite3 driver's own option) sets how long to wait for a lock;
        # checked before the driver reads it too.
        busy_timeout_ms = _busy_timeout_ms(parsed.query.get("timeout", "30"))
    try:
        engine = create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"unsupported database URL {_safe(url)}: {exc}") from exc
    if busy_timeout_ms is not None:
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
    return engine


def _busy_timeout_ms(value: str | tuple[str, ...]) -> int:
    """SQLite's busy timeout from the URL's `timeout` (seconds), checked: PRAGMA busy_timeout takes a C int."""
    text = value if isinstance(value, str) else value[-1]  # ?timeout=1&timeout=2: the last one, as sqlite3 does
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= 86400 * 24:  # also refuses NaN and infinity
        raise DatabaseError(f"the database URL's timeout must be a number of seconds from 0 to 2073600, "
                            f"not {text!r}")
    return int(seconds * 1000)


def _migrate(engine: Engine, create: bool = True) -> None:
    """Bring the schema to the newest revision; refuse databases that are not newsmon's or are newer, and
    (create=False) databases that have no schema yet."""
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
    if current is None and not create:
        # An empty SQLite file or PostgreSQL database (e.g. the server's default one, `postgresql://`).
        raise DatabaseError(f"no newsmon database at {_safe(str(engine.url))} (run `newsmon crawl` first, "
                            "or pass --db)")
    if current is not None and current not in {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}:
        raise DatabaseError(f"{_safe(str(engine.url))} was written by a newer newsmon (schema {current})")
    if current is None and not tables and engine.dialect.name == "sqlite":
        # An empty file is ours: its schema is written in WAL mode, without a sync per migration (a new
        # database took 0.2-0.7 s, most of a short first crawl's setup).
        _write_ahead(engine)
    command.upgrade(cfg, "head")


def _write_ahead(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
