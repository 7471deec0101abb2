"""Every command line, whatever it is given, ends in output (exit 0), a failure it explains (1), or one line
naming the bad input (2): never a traceback, and a command that only reads never changes the database.

The property test drives every command but `crawl`, `daemon` and `serve` (they start Scrapy's reactor, which
cannot restart in this process, or run until stopped) in-process, with option values drawn from the odd
values that once broke them mixed with random text and numbers. `crawl` and `daemon` refuse their bad
arguments before anything starts; the tests below run them in a child process to show it. Then one plain
test per bad input that used to end in a traceback, with its exact message.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from subprocess import CompletedProcess

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.durations import exceeds_limit, parse_duration
from monitor.errors import BadInput
from monitor.report.terminal import DIFF_FORMATS
from monitor.store.queries import CHANGE_KINDS, parse_since
from tests.conftest import Newsmon, run_in_process
from tests.fakesite import FakeSite, make_article

MOVED, QUIET = "431010", "431011"
HUGE = "123456789012345678901234567890"  # 30 digits: past SQLite's 64-bit integers
MAX = 2**31 - 1


# ---------------------------------------------------------------- one crawled database for the module

@dataclass
class World:
    """A database filled by real crawls, and the files and folders the odd option values point at."""

    newsmon: Newsmon
    tmp: Path
    moved_urls: tuple[str, str]    # MOVED's URL before and after its title was edited
    files: dict[str, bytes] = field(repr=False)  # the database's files once filled: no read may change them

    @property
    def db(self) -> str:
        return self.newsmon.db

    @property
    def data(self) -> Path:
        """The database's folder: nothing may appear in it (a missing database is never created)."""
        return self.tmp / "data"

    def run(self, *args: str) -> CompletedProcess[str]:
        """In-process, from a folder of its own: a relative path an option names lands there."""
        with contextlib.chdir(self.tmp / "cwd"):
            return run_in_process(args, self.newsmon.env)


def db_files(db_url: str) -> dict[str, bytes]:
    """Every file of a SQLite database (main file, WAL, shared memory), by name, with its bytes."""
    path = Path(db_url.removeprefix("sqlite:///"))
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


CONFIGS = {
    "good.toml": '[sites.lepetitjournal]\nbase_url = "http://127.0.0.1:8765"\neditions = ["cambodge"]\n',
    "long-tick.toml": 'tick = "99999999999d"\n[sites.x]\n',
    "inf-tick.toml": "tick = inf\n[sites.x]\n",
    "ipv6.toml": '[sites.x]\nbase_url = "http://[::1"\n',
    "port.toml": '[sites.x]\nbase_url = "http://127.0.0.1:99999"\n',
    "huge.toml": "[sites.x]\nfront_pages = 99999999999999999999999\n",
    "edition.toml": '[sites.x]\neditions = ["../admin"]\n',
    "tier.toml": '[sites.x.policy]\ntiers = [[1e300, 60]]\n',
    "empty-db.toml": 'db = ""\n[sites.x]\n',
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("properties")
    for folder in ("data", "cwd", "out", "configs"):
        (tmp / folder).mkdir()
    newsmon = Newsmon(f"sqlite:///{tmp / 'data' / 'newsmon.db'}", tmp)
    newsmon.env["XDG_CONFIG_HOME"] = str(tmp / "xdg-config")  # never the user's own config
    with FakeSite(theme="classic", noise=True) as site:
        for i, edition in enumerate(["cambodge", "bangkok", "cambodge"]):
            site.add(make_article(int(MOVED) + i, edition, paragraphs=4))
        newsmon.crawl(site)
        # A second crawl after an edit, so that there are changes, diffs and article pages to render.
        moved = site.article(int(MOVED))
        old_url = site.base_url + moved.url
        site.edit(moved.id, title="Un titre tout neuf", updated=moved.published + timedelta(days=1))
        newsmon.crawl(site, "--all")
        urls = (old_url, site.base_url + site.article(int(MOVED)).url)
    for name, text in CONFIGS.items():
        (tmp / "configs" / name).write_text(text, encoding="utf-8")
    (tmp / "junk.db").write_bytes(random.Random(0).randbytes(4096))
    (tmp / "a-file").write_text("not a folder\n", encoding="utf-8")
    yield World(newsmon, tmp, urls, db_files(newsmon.db))


# ---------------------------------------------------------------- what a command is given

ODD_TEXT = ["", " ", "\x00", "\n", "a\nb", "\t", "\r", "\u2028", "\x85", "\udcff", "\ud800", "-", "--", "-5d",
            "é", "'", '"', "%", "%s", "{}", "\\", "*", "x" * 300, "lepetitjournal", "cambodge", "nosuch", "..", "/"]
NUMBERS = ["0", "1", "2", "3", "-1", "-0", "+1", " 2 ", "1_000", str(MAX), str(MAX + 1), str(2**63), HUGE, "1" * 5000,
           "1e3", "0x10", "1.5", "٣", "", "abc", "\x00", "nan", "inf"]
SINCES = ["7d", "24h", "90m", "2w", "0.5d", "250ms", "99999999d", "999999999d", "9" * 400 + "s", "365000d",
          "365001d", "0001-01-01", "0001-01-01T00:00+14:00", "9999-12-31", "9999-12-31T23:59-14:00",
          "2021-07-27T12:00+07:00", "2021-13-45", "2021", "nan", "inf", "1e400s", "-5d", "5x", "now"]


def odd(*specific: str) -> st.SearchStrategy[str]:
    """The values worth trying for an option, the generic odd ones, and any text at all."""
    return st.one_of(st.sampled_from([*specific, *ODD_TEXT]), st.text(max_size=40))


def mostly(good: Sequence[str], other: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A good value two times in three: a command line with several options then often gets past the
    parser and reaches the database, the queries and the rendering."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), other)


def numbers() -> st.SearchStrategy[str]:
    return mostly(["1", "2"], st.one_of(st.sampled_from(NUMBERS), st.integers().map(str), odd()))


def db_urls(w: World) -> st.SearchStrategy[str]:
    db_path = w.db.removeprefix("sqlite:///")
    return mostly([w.db], st.one_of(st.sampled_from([
        f"{w.db}?timeout=2", f"{w.db}?timeout=abc", f"{w.db}?timeout=1e400", f"{w.db}?timeout=nan",
        "sqlite:///", "sqlite://", "sqlite:///:memory:", f"sqlite:///{w.data}", f"sqlite:///{w.data}/",
        f"sqlite:///{w.data}/missing/newsmon.db", f"sqlite:///{w.data}/missing.db", f"sqlite:///{w.tmp}/junk.db",
        f"sqlite:///{w.tmp}/a-file/newsmon.db", f"sqlite:///{w.data}/\x00.db", f"sqlite:////{db_path}",
        "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x", "postgresql://u:p@[::1/x", "postgresql://h:port/x",
        "foo://", "mysql://x/y", "http://x", "", " ", "\x00", "\udcff",
    ]), st.text(max_size=40)))


def configs(w: World) -> st.SearchStrategy[str]:
    return mostly([str(w.tmp / "configs" / "good.toml")], st.one_of(
        st.sampled_from([str(w.tmp / "configs" / name) for name in CONFIGS]),
        odd(str(w.tmp / "configs"), str(w.tmp / "junk.db"), str(w.tmp / "a-file" / "x.toml"), "missing.toml")))


def outs(w: World) -> st.SearchStrategy[str]:
    """Folders for `report --out`: good ones, impossible ones, and random names kept under `out/` (a "r"
    in front: never "." or "..", never the database's folder)."""
    out = w.tmp / "out"
    return mostly([str(out / "report")], st.one_of(
        st.sampled_from([str(w.tmp / "a-file"), str(w.tmp / "a-file" / "sub"), str(out / "\x00"), "", " ", "\x00",
                         "\udcff"]),
        st.text(max_size=30).map(lambda t: str(out / ("r" + t.replace("/", "_"))))))


def articles(w: World) -> st.SearchStrategy[str]:
    return mostly([MOVED, QUIET, f"lepetitjournal:{MOVED}", *w.moved_urls],
                  odd(f"nosuch:{MOVED}", "lepetitjournal:", f":{MOVED}", w.moved_urls[1] + "#top", "http://[::1",
                      "http://", "https://x/", "999999", HUGE))


FLAG = st.just(None)  # an option without a value


def commands(w: World) -> dict[str, tuple[list[st.SearchStrategy[str]], dict[str, st.SearchStrategy[str | None]],
                                          frozenset[str]]]:
    """Per read command: its positional arguments, its options, and which options it always gets."""
    sites = mostly(["lepetitjournal"], odd())
    editions = mostly(["cambodge", "bangkok"], odd())
    kinds = mostly(CHANGE_KINDS, odd())
    since = mostly(["7d", "2w", "2021-07-27"], st.one_of(st.sampled_from(SINCES), odd()))
    db = db_urls(w)
    filters = {"--since": since, "--silent": FLAG, "--site": sites, "--edition": editions, "--kind": kinds,
               "--db": db}
    return {
        "articles": ([], {"--site": sites, "--json": FLAG, "--db": db}, frozenset()),
        "changes": ([], {**filters, "--json": FLAG}, frozenset()),
        "history": ([articles(w)], {"--json": FLAG, "--db": db}, frozenset()),
        "show": ([articles(w)], {"--version": numbers(), "--json": FLAG, "--db": db}, frozenset()),
        "diff": ([articles(w)], {"--from": numbers(), "--to": numbers(), "--format": mostly(DIFF_FORMATS, odd()),
                                 "--db": db}, frozenset()),
        "status": ([], {"--json": FLAG, "--db": db}, frozenset()),
        "schedule": ([], {"--config": configs(w), "--site": sites, "--limit": numbers(), "--json": FLAG,
                          "--db": db}, frozenset()),
        "sites": ([], {"--config": configs(w), "--json": FLAG, "--db": db}, frozenset()),
        "export": ([], {"--site": sites, "--db": db}, frozenset()),
        "report": ([], {**filters, "--out": outs(w)}, frozenset({"--out"})),
    }


def command_line(data: st.DataObject, w: World, command: str) -> list[str]:
    positionals, options, required = commands(w)[command]
    parts = [[data.draw(s)] for s in positionals]
    for name, values in options.items():
        if name not in required and not data.draw(st.booleans()):
            continue
        value = data.draw(values)
        if value is None:
            parts.append([name])
        elif data.draw(st.booleans()):
            parts.append([f"{name}={value}"])  # the only way to give a value that starts with "-"
        else:
            parts.append([name, value])
    return [command, *(arg for part in data.draw(st.permutations(parts)) for arg in part)]


def assert_well_behaved(proc: CompletedProcess[str]) -> None:
    """Exit 0, 1 or 2; no traceback; on 2, nothing on stdout and one line on stderr, `newsmon: error: ...`."""
    assert proc.returncode in (0, 1, 2), (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 2:
        assert proc.stdout == "", proc.stdout
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and proc.stderr.endswith("\n"), proc.stderr
        assert lines[0].startswith("newsmon: error: "), lines[0]


# ---------------------------------------------------------------- the property

READ_COMMANDS = ["articles", "changes", "history", "show", "diff", "status", "schedule", "sites", "export", "report"]


@pytest.mark.parametrize("command", READ_COMMANDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_command_line_is_answered_without_a_traceback_and_reads_change_nothing(
        world: World, command: str, data: st.DataObject) -> None:
    listing = sorted(p.name for p in world.data.iterdir())
    argv = command_line(data, world, command)
    proc = world.run(*argv)  # an exception escaping main() fails the test with it
    # What the examples reached (pytest --hypothesis-show-statistics): answers, not only usage errors.
    event(f"exit {proc.returncode}" + (": usage" if "(see newsmon" in proc.stderr else ""))
    assert_well_behaved(proc)
    assert db_files(world.db) == world.files, f"newsmon {argv} changed the database"
    assert sorted(p.name for p in world.data.iterdir()) == listing, f"newsmon {argv} created a file"


# ---------------------------------------------------------------- each bad input that once was a traceback

def assert_one_line(proc: CompletedProcess[str], message: str) -> None:
    """Exit status 2, nothing on stdout, and exactly `newsmon: error: MESSAGE` on stderr."""
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"newsmon: error: {message}\n")


@pytest.fixture
def untouched(world: World) -> Iterator[World]:
    """`world`, checked after the test to be byte for byte what it was."""
    yield world
    assert db_files(world.db) == world.files, "the command changed the database"


@pytest.mark.parametrize(("since", "message"), [
    ("99999999d", "--since reaches too far back: '99999999d' (at most 1000 years)"),  # was OverflowError
    ("9" * 400 + "s", f"--since reaches too far back: '{'9' * 400}s' (at most 1000 years)"),  # float inf
    ("0001-01-01T00:00+14:00", "--since is out of the calendar's range once in UTC: '0001-01-01T00:00+14:00'"),
    ("9999-12-31T23:59-14:00", "--since is out of the calendar's range once in UTC: '9999-12-31T23:59-14:00'"),
    ("", "argument --since: takes a non-empty value, not '' (see newsmon changes --help)"),  # was: no filter
])
def test_a_since_out_of_range_is_one_line(untouched: World, since: str, message: str) -> None:
    assert_one_line(untouched.run("changes", "--since", since), message)


def test_the_longest_since_still_answers(untouched: World) -> None:
    assert untouched.run("changes", "--since", "365000d", "--json").returncode == 0


def test_parse_since_names_the_input_it_was_given() -> None:
    with pytest.raises(BadInput, match=r"^since takes a duration like 90m, 24h, 7d or an ISO date, not 'x'$"):
        parse_since("x", name="since")
    with pytest.raises(BadInput, match=r"^since reaches too far back: '99999999d'"):
        parse_since("99999999d", name="since")


@pytest.mark.parametrize("value", [float("inf"), 1e300, 10**400, "99999999999d", "9" * 400 + "s"])
def test_a_duration_past_the_calendar_is_none_not_an_overflow(value: object) -> None:
    assert parse_duration(value) is None and exceeds_limit(value)
    assert parse_duration(float("nan")) is None and not exceeds_limit(float("nan"))


@pytest.mark.parametrize(("args", "option", "what", "value"), [
    (("show", MOVED, "--version", HUGE), "--version", "version number", HUGE),  # was OverflowError from SQLite
    (("show", MOVED, "--version", "0"), "--version", "version number", "0"),
    (("diff", MOVED, "--from", HUGE), "--from", "version number", HUGE),
    (("diff", MOVED, "--to", str(MAX + 1)), "--to", "version number", str(MAX + 1)),
    (("schedule", "--limit", HUGE), "--limit", "number of articles", HUGE),
    (("schedule", "--limit", "-1"), "--limit", "number of articles", "-1"),  # was: every article (LIMIT -1)
])
def test_numbers_out_of_range_are_one_line(untouched: World, args: tuple[str, ...], option: str, what: str,
                                           value: str) -> None:
    assert_one_line(untouched.run(*args), f"argument {option}: takes a {what} from 1 to {MAX}, not {value!r} "
                                          f"(see newsmon {args[0]} --help)")


def test_the_largest_version_number_is_looked_up(untouched: World) -> None:
    assert_one_line(untouched.run("show", MOVED, "--version", str(MAX)),
                    f"article {MOVED} has no version {MAX}")


def test_a_report_folder_that_cannot_be_made_is_one_line(untouched: World) -> None:
    under_a_file = untouched.tmp / "a-file" / "report"
    assert_one_line(untouched.run("report", "--out", str(under_a_file)),
                    f"cannot write the report to {under_a_file}: Not a directory")  # was NotADirectoryError
    assert_one_line(untouched.run("report", "--out", str(untouched.tmp / "a-file")),
                    f"cannot write the report to {untouched.tmp / 'a-file'}: File exists")
    assert_one_line(untouched.run("report", "--out", "x\x00y"),
                    "cannot write the report to 'x\\x00y': a path cannot hold a NUL character")  # was ValueError
    # An empty --out wrote the report into the current folder.
    assert_one_line(untouched.run("report", "--out", ""),
                    "argument --out: takes a non-empty value, not '' (see newsmon report --help)")
    assert list((untouched.tmp / "cwd").iterdir()) == []


@pytest.mark.parametrize(("args", "option"), [
    (("articles", "--db", ""), "--db"),  # was: the default database
    (("articles", "--site", ""), "--site"),  # was: every site
    (("changes", "--edition", " "), "--edition"),
    (("sites", "--config", ""), "--config"),  # was: the default config
])
def test_an_empty_name_is_one_line(untouched: World, args: tuple[str, ...], option: str) -> None:
    assert_one_line(untouched.run(*args), f"argument {option}: takes a non-empty value, not {args[-1]!r} "
                                          f"(see newsmon {args[0]} --help)")


def test_db_urls_that_were_tracebacks_or_silent_are_one_line(untouched: World) -> None:
    db, data = untouched.db, untouched.data
    memory = "is an in-memory database, which keeps nothing: give a file, e.g. sqlite:///path/newsmon.db"
    cases = {
        "sqlite:///": f"'sqlite:///' {memory}",  # was: an empty listing, exit 0
        "sqlite://": f"'sqlite://' {memory}",
        f"sqlite:///{data}": f"{data} is a folder, not a database file (e.g. sqlite:///{data / 'newsmon.db'})",
        f"{db}?timeout=abc": "the database URL's timeout must be a number of seconds from 0 to 2073600, not 'abc'",
        f"{db}?timeout=1e400": "the database URL's timeout must be a number of seconds from 0 to 2073600, "
                               "not '1e400'",  # was OverflowError
        "postgresql://u:p@[::1/x": "not a database URL: 'postgresql://u:p@[::1/x' "
                                   "(expected e.g. sqlite:///path/newsmon.db)",  # was ValueError
        f"sqlite:///{data}/\x00.db": f"not a database path: '{data}/\\x00.db'",
        f"sqlite:///{untouched.tmp}/a-file/x.db": f"no database at {untouched.tmp}/a-file/x.db "
                                                 "(run `newsmon crawl` first, or pass --db)",
    }
    for url, message in cases.items():
        assert_one_line(untouched.run("articles", "--db", url), message)
    assert sorted(p.name for p in data.iterdir()) == ["newsmon.db"]


def test_a_read_command_does_not_create_a_schema_in_an_empty_database(untouched: World, postgres_url: str) -> None:
    # An empty database on the server (as `postgresql://` names the user's own): a read used to create the
    # whole schema in it. The test server's URL carries no password, so the message shows it as it is.
    assert_one_line(untouched.run("articles", "--db", postgres_url),
                    f"no newsmon database at {postgres_url} (run `newsmon crawl` first, or pass --db)")
    with psycopg.connect(postgres_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_arguments_that_are_not_utf8_are_one_line(untouched: World) -> None:
    # A real command line: the shell passes the byte 0xff, Python makes it "\udcff".
    proc = untouched.newsmon.run("history", os.fsdecode(b"\xff"), command=(sys.executable, "-m", "monitor"),
                                 check=False)
    assert_one_line(proc, "arguments must be UTF-8 text, not '\\xff'")  # was UnicodeEncodeError
    assert_one_line(untouched.run("articles", "--site", "caf\udce9"), "arguments must be UTF-8 text, not 'caf\\xe9'")


def test_a_message_quoting_a_newline_stays_one_line(untouched: World) -> None:
    assert_one_line(untouched.run("history", "http://a\nb"), "no tracked article has the URL http://a\\nb")
    assert_one_line(untouched.run("articles", "x\u2028y"),
                    "unrecognized arguments: x\\u2028y (see newsmon --help)")


@pytest.mark.parametrize(("config", "message"), [
    ("long-tick.toml", "tick: must be at most 1000 years, not '99999999999d'"),  # was OverflowError
    ("inf-tick.toml", "tick: must be at most 1000 years, not inf"),
    ("tier.toml", ('sites.x.policy.tiers: must be a list of [until, every] duration pairs, '
                   'e.g. [["6h", "15m"], ["1d", "1h"]]')),
    ("ipv6.toml", "sites.x.base_url: must be an http(s) URL with a host, not 'http://[::1' (Invalid IPv6 URL)"),
    ("port.toml", ("sites.x.base_url: must be an http(s) URL with a host, not 'http://127.0.0.1:99999' "
                   "(Port out of range 0-65535)")),
    ("huge.toml", f"sites.x.front_pages: must be from 1 to {MAX}, not 99999999999999999999999"),
    ("edition.toml", ("sites.x.editions: must be a list of edition names as in the site's URLs "
                      '(e.g. ["cambodge"])')),
    ("empty-db.toml", "db: must be a database URL, not an empty string"),
])
def test_a_config_value_out_of_range_is_one_line(untouched: World, config: str, message: str) -> None:
    path = untouched.tmp / "configs" / config
    assert_one_line(untouched.run("sites", "--config", str(path)), f"{path}: {message}")


def test_a_config_path_with_a_nul_is_one_line(untouched: World) -> None:
    assert_one_line(untouched.run("sites", "--config", "a\x00b"),
                    "cannot read config file 'a\\x00b': embedded null byte")


# ---------------------------------------------------------------- crawl and daemon: refused before they start

BAD_CRAWLS = [
    (("--base-url", "http://[::1"),  # was ValueError from urlsplit
     "--base-url must be an http(s) URL with a host, not 'http://[::1' (Invalid IPv6 URL)"),
    (("--base-url", "http://127.0.0.1:99999"),  # was a traceback after the crawl, and exit 0
     "--base-url must be an http(s) URL with a host, not 'http://127.0.0.1:99999' (Port out of range 0-65535)"),
    (("--base-url", "http://127.0.0.1:abc"),
     ("--base-url must be an http(s) URL with a host, not 'http://127.0.0.1:abc' "
      "(Port could not be cast to integer value as 'abc')")),
    (("--base-url", "http://a b"),
     "--base-url must be an http(s) URL with a host, not 'http://a b' (it holds spaces or control characters)"),
    (("--base-url", "http://127.0.0.1:1/?page=2"),
     ("--base-url must be an http(s) URL with a host, not 'http://127.0.0.1:1/?page=2' "
      "(paths are appended to it: no query or fragment)")),
    (("--base-url", ""),  # was: the spider's own address
     "argument --base-url: takes a non-empty value, not '' (see newsmon crawl --help)"),
    (("--front-pages", HUGE),
     (f"argument --front-pages: takes a number of front pages from 1 to {MAX}, not '{HUGE}' "
      "(see newsmon crawl --help)")),
    (("--edition", "../admin"),
     "--edition takes an edition's name as in the site's URLs (e.g. cambodge), not '../admin'"),
    (("--db", "sqlite:///"),  # was a traceback from SQLite's threads, and exit 0
     "'sqlite:///' is an in-memory database, which keeps nothing: give a file, e.g. sqlite:///path/newsmon.db"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_CRAWLS, ids=[" ".join(e) for e, _ in BAD_CRAWLS])
def test_crawl_refuses_bad_arguments_before_it_starts(untouched: World, extra: tuple[str, ...], message: str) -> None:
    # Newsmon.run runs a crawl in a child process: should the check fail, no reactor starts in this one.
    proc = untouched.newsmon.run("crawl", "lepetitjournal", *extra, check=False)
    assert_one_line(proc, message)


def test_crawl_refuses_a_bad_base_url_in_its_config(untouched: World) -> None:
    path = untouched.tmp / "configs" / "ipv6.toml"
    assert_one_line(untouched.newsmon.run("crawl", "x", "--config", str(path), check=False),
                    f"{path}: sites.x.base_url: must be an http(s) URL with a host, not 'http://[::1' "
                    "(Invalid IPv6 URL)")


@pytest.mark.parametrize("where", ["a-file/daemon.log", "data"], ids=["under a file", "a folder"])
def test_daemon_refuses_a_log_file_it_cannot_write(untouched: World, where: str) -> None:
    log = untouched.tmp / where
    reason = "Not a directory" if where.startswith("a-file") else "Is a directory"
    assert_one_line(untouched.newsmon.run("daemon", "--log-file", str(log), check=False),
                    f"cannot write the log file {log}: {reason}")  # was a traceback from logging
