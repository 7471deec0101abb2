"""Shared fixtures: a fake news site over real HTTP, real databases (SQLite files, PostgreSQL databases
created per test), and a way to run `newsmon` as a user does."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.store import open_store
from monitor.store.models import Check
from tests.fakesite import FakeSite, make_article

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("NEWSMON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def count_checks(db: str) -> int:
    """Checks in the database at `db`: a row of `checks` may hold a run of unchanged checks (1 + repeats)."""
    store = open_store(db)
    try:
        with store.session() as session:
            return int(session.scalar(select(func.coalesce(func.sum(1 + Check.repeats), 0))) or 0)
    finally:
        store.close()


def count(db: str, model: type, **where: object) -> int:
    """Rows of a model in the database at `db`, optionally where columns equal the given values."""
    store = open_store(db)
    try:
        with store.session() as session:
            query = session.query(model)
            for key, value in where.items():
                query = query.filter(getattr(model, key) == value)
            return query.count()
    finally:
        store.close()


def postgres_or_skip() -> None:
    """Skip when no PostgreSQL server answers; under CI an absent server is a failure."""
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and is not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres() as url:
        yield url


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards (skipped, or failed under CI, without a server)."""
    import psycopg

    postgres_or_skip()
    name = f"newsmon_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newsmon.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Both backends: tests using this run once on a SQLite file and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


# Confirmations (a suspicious page fetched again before it is believed) wait NEWSMON_CONFIRM_DELAY, 5 s by
# default. Tests crawl through a config that shortens it: the second fetch still happens, in a tenth the time.
QUICK_CONFIRM_DELAY = "0.3s"


def site_config(path: Path, site: FakeSite, *, confirm_delay: str = QUICK_CONFIRM_DELAY, extra: str = "") -> Path:
    """Write a config at `path` naming `site` as the site `lepetitjournal`, with a short `confirm_delay`, for
    `newsmon crawl lepetitjournal --config PATH` (Newsmon.crawl_config). `extra` follows the site's table: more
    keys of it, then further tables (`[sites.lepetitjournal.politeness]`...)."""
    path.write_text(f'[sites.lepetitjournal]\nbase_url = "{site.base_url}"\nconfirm_delay = "{confirm_delay}"\n'
                    f"{extra}", encoding="utf-8")
    return path


@pytest.fixture
def site() -> Iterator[FakeSite]:
    """A small live site: six articles over two editions, noise on (counters, tokens change per request)."""
    with FakeSite(theme="classic", noise=True) as fake:
        for i, edition in enumerate(["cambodge", "cambodge", "bangkok", "bangkok", "cambodge", "bangkok"]):
            fake.add(make_article(431010 + i, edition, paragraphs=4 + i))
        yield fake


# Commands that start Scrapy's reactor (which cannot restart in one process) or run until stopped: these run
# in a child process. Every other command runs in the test's process, through the same `main(argv)`.
OWN_PROCESS = frozenset({"crawl", "daemon", "serve", "worker"})


def run_in_process(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`newsmon ARGS` through `monitor.cli.main` in this process, with `env` as the environment and stdout
    and stderr captured: what a child process would print and exit with, without starting Python again."""
    from monitor.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, or a usage error
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess(["newsmon", *args], code, out.getvalue(), err.getvalue())


class Newsmon:
    """Runs the command line against one database as a user would: crawls and daemons in a child process,
    the other commands in-process through the same entry point (see OWN_PROCESS)."""

    def __init__(self, db: str, tmp_path: Path):
        self.db = db
        self.env = {**os.environ, "NEWSMON_DB": db, "XDG_DATA_HOME": str(tmp_path / "xdg")}

    def run(self, *args: str, check: bool = True, cwd: Path | None = None,
            command: tuple[str, ...] | None = None) -> subprocess.CompletedProcess[str]:
        """`command` runs this exact program in a child process (e.g. the installed `newsmon` script)."""
        if command is None and cwd is None and not OWN_PROCESS.intersection(args):
            proc = run_in_process(args, self.env)
        else:
            proc = subprocess.run([*(command or (sys.executable, "-m", "monitor")), *args], env=self.env,
                                  capture_output=True, text=True, timeout=180, cwd=cwd or ROOT,
                                  stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"newsmon {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        return proc

    def crawl(self, site: FakeSite, *extra: str) -> str:
        return self.run("crawl", "lepetitjournal", "--base-url", site.base_url, *extra).stdout

    def crawl_config(self, config: Path, *extra: str) -> str:
        """`newsmon crawl lepetitjournal --config CONFIG` (see site_config): site and settings from the file."""
        return self.run("crawl", "lepetitjournal", "--config", str(config), *extra).stdout

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args).stdout)

    def export(self) -> list[dict]:
        return [json.loads(line) for line in self.run("export").stdout.splitlines()]

    def changes(self) -> list[dict]:
        return self.json("changes", "--json")  # type: ignore[return-value]


class QuickNewsmon(Newsmon):
    """A Newsmon whose `crawl(site)` goes through a config written for the site (site_config): confirmations
    after 0.3 s instead of 5 s, nothing else changed. For shared helpers that crawl with `crawl(site)`."""

    def __init__(self, db: str, tmp_path: Path):
        super().__init__(db, tmp_path)
        self.tmp_path = tmp_path

    def crawl(self, site: FakeSite, *extra: str) -> str:
        return self.crawl_config(site_config(self.tmp_path / "quick-site.toml", site), *extra)


@pytest.fixture
def newsmon(db_url: str, tmp_path: Path) -> Newsmon:
    return Newsmon(db_url, tmp_path)


@pytest.fixture
def newsmon_sqlite(sqlite_url: str, tmp_path: Path) -> Newsmon:
    return Newsmon(sqlite_url, tmp_path)


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the test server."""
    return PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + f"/{name}"


class FirstCrawl:
    """A site's first crawl, made once per backend and copied to each test: crawls run in their own process
    and take seconds, and many tests begin with the same first crawl of the same site before they edit it.

    `copy(backend, tmp_path)` gives a Newsmon on a fresh copy of the database as that crawl left it (SQLite's
    backup API; PostgreSQL's CREATE DATABASE ... TEMPLATE), with the site restored to the state it was crawled
    in (FakeSite.save/restore). The site keeps running between tests, on one port: the copied database names
    its URLs. A test may edit, crawl and write as it likes; the next one starts from the first crawl again."""

    def __init__(self, site: FakeSite, workdir: Path):
        self.site, self.workdir = site, workdir
        self.saved = site.save()
        self.templates: dict[str, str] = {}  # backend -> URL of the database the first crawl filled
        self.pg_databases: list[str] = []   # every PostgreSQL database made here, dropped by close()

    def template(self, backend: str) -> str:
        if backend not in self.templates:
            self.site.restore(self.saved)
            if backend == "sqlite":
                url = f"sqlite:///{self.workdir / 'first-crawl.db'}"
            else:
                url = pg_url(self._create_pg())
            Newsmon(url, self.workdir).crawl(self.site)
            self.templates[backend] = url
        return self.templates[backend]

    @contextlib.contextmanager
    def copy(self, backend: str, tmp_path: Path) -> Iterator[Newsmon]:
        if backend == "postgres":
            postgres_or_skip()
        template = self.template(backend)
        self.site.restore(self.saved)
        if backend == "sqlite":
            path = tmp_path / "newsmon.db"
            with contextlib.closing(sqlite3.connect(template.removeprefix("sqlite:///"))) as src, \
                    contextlib.closing(sqlite3.connect(path)) as dst:
                src.backup(dst)
            yield Newsmon(f"sqlite:///{path}", tmp_path)
            return
        name = self._create_pg(template=template.rsplit("/", 1)[1])
        try:
            yield Newsmon(pg_url(name), tmp_path)
        finally:
            self._drop_pg(name)

    def _create_pg(self, template: str | None = None) -> str:
        import psycopg

        name = f"newsmon_test_{uuid.uuid4().hex[:12]}"
        self.pg_databases.append(name)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def _drop_pg(self, name: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.pg_databases.remove(name)

    def close(self) -> None:
        for name in list(self.pg_databases):
            self._drop_pg(name)


# ---------------------------------------------------------------- a real browser (tests/test_browser.py, test_stats.py)

CHROMIUM = os.environ.get("NEWSMON_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# As the machine's own probe starts it: no sandbox as root, and nothing that reaches for the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"Chromium is required under CI and is not at {CHROMIUM} (apt-get install chromium)")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
