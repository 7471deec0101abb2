"""The job queue: procrastinate's App on newsmon's own PostgreSQL database (its tables beside newsmon's), the
names of the jobs, and the database made ready on first use: newsmon's schema migrated, procrastinate's
applied, by one process at a time.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.config import SiteConfig
from monitor.crawl.runner import newsmon_settings, register_site, spider_class
from monitor.distributed import tasks
from monitor.errors import BadInput, DatabaseError
from monitor.store import Store, open_store

QUEUE = "newsmon"
VISIT = "newsmon.visit"
DISCOVER = "newsmon.discover"
# Held while a process migrates newsmon's schema and applies procrastinate's: a planner and its workers
# usually start together on an empty database, and two migrations at once would collide.
SETUP_LOCK = 0x6E65_7774


def require_postgres(db_url: str) -> None:
    """Distributed mode keeps its job queue in the database: SQLite (one machine's file) cannot hold it."""
    try:
        url = make_url(db_url)
    except (ArgumentError, ValueError):
        raise DatabaseError(f"not a database URL: {db_url!r}") from None
    if url.get_backend_name() != "postgresql":
        raise BadInput(f"distributed mode needs PostgreSQL, which holds its job queue (e.g. --db "
                       f"postgresql+psycopg://user@host/newsmon), not {url.render_as_string(hide_password=True)}")


def quiet_procrastinate(level: str) -> None:
    """procrastinate logs every job's start and end at INFO: the worker's own line per job says more."""
    logging.getLogger("procrastinate").setLevel(level if level == "DEBUG" else "WARNING")


def conninfo(db_url: str) -> str:
    """The libpq URI of a SQLAlchemy URL (postgresql+psycopg://... -> postgresql://...)."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(db_url: str, *, connections: int = 4) -> App:
    """An App (not yet open) whose connection pool holds at most `connections`, with newsmon's two jobs."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(db_url), min_size=1, max_size=connections))
    app.task(name=VISIT, queue=QUEUE, pass_context=True)(tasks.visit)
    app.task(name=DISCOVER, queue=QUEUE, pass_context=True)(tasks.discover)
    return app


def lane_lock(site: str, lane: int) -> str:
    """procrastinate's `lock` of a site's lane: no two jobs holding it run at once, whichever workers take them."""
    return f"{site}#{lane}"


@contextmanager
def setup_lock(db_url: str) -> Iterator[psycopg.Connection]:
    """A session advisory lock: it goes with the connection, so a process killed while holding it frees it."""
    try:
        conn = psycopg.connect(conninfo(db_url), autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        safe = make_url(db_url).render_as_string(hide_password=True)
        raise DatabaseError(f"cannot use database {safe}: {str(exc).strip().splitlines()[0]}") from None
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        yield conn


def open_shared_store(db_url: str, sites: Sequence[SiteConfig]) -> tuple[Store, dict[str, int]]:
    """newsmon's store, migrated, with procrastinate's schema beside it (applied on first use, once), and the
    ids of the config's sites, registered: all under one lock, as the planner and the workers start together."""
    with setup_lock(db_url) as conn:
        store = open_store(db_url)
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
            with conn.transaction():  # all of it or nothing: a kill mid-way leaves no half schema
                conn.execute(SchemaManager.get_schema())
        settings = newsmon_settings()
        site_ids = {site.name: register_site(store, site, spider_class(settings, site.spider)) for site in sites}
    return store, site_ids
