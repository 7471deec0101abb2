"""The command line as a user meets it: every command and its output formats, read back after real crawls
of the fake site, and every kind of bad input (one line on stderr, exit status 2, the database untouched).

Most tests share one crawled database (module fixture `edited`): six articles crawled, then edited on the
site and crawled again twice, so that it holds titles moved to a new slug, silent and announced edits, a
dates-only change and a gone article. Read commands never write, so sharing is safe; the error tests
check exactly that by comparing the database file's bytes before and after.
"""
from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import ROOT, Newsmon
from tests.fakesite import Block, FakeArticle, FakeSite, make_article, squash

EDITIONS = ["cambodge", "cambodge", "bangkok", "bangkok", "cambodge", "bangkok"]
IDS = [str(431010 + i) for i in range(len(EDITIONS))]
MOVED, TWICE, GONE, DATES, LEAD, QUIET = IDS  # what happens to each article in `edited`
NEW_TITLE = "Un titre entièrement nouveau pour cet article"
ADDED_SENTENCE = "Une phrase ajoutée sans prévenir."

EXPORT_FIELDS = {"site", "article_id", "url", "version", "fetched_at", "status", "edition", "section", "title",
                 "lead", "author", "published", "updated", "date_precision", "body", "captions", "metadata_only",
                 "extractor"}
CHANGE_FIELDS = {"site", "article_id", "url", "title", "edition", "from_version", "to_version", "detected_at",
                 "fields", "text_changed", "announced", "added_words", "removed_words", "moved_words", "kinds",
                 "reverts_to", "declared_updated"}
ARTICLE_FIELDS = {"site", "article_id", "url", "status", "edition", "section", "title", "published", "versions",
                  "first_seen_at", "last_checked_at", "next_check_at"}
HISTORY_FIELDS = {"site", "article_id", "url", "status", "urls", "versions", "headline_flips", "timeline"}
HISTORY_VERSION_FIELDS = {"version", "fetched_at", "title", "updated", "metadata_only", "fields", "announced",
                          "added_words", "removed_words", "moved_words", "kinds", "reverts_to"}
TIMELINE_FIELDS = {"at", "kind", "outcome", "http_status", "version", "error", "url"}


def summary_counts(line: str) -> dict[str, int]:
    """The counts of a crawl summary line: 'site: checked 6 · new 6 · changed 0 · dates only 0 · ...'."""
    return {name: int(n) for n, name in
            ((m[2], m[1]) for m in re.finditer(r"(checked|new|changed|dates only|unchanged|gone|errors|held for confirmation) (\d+)",
                                                line))}


def db_files(db_url: str) -> dict[str, bytes]:
    """Every file of a SQLite database (main file, WAL, shared memory), by name, with its bytes."""
    path = Path(db_url.removeprefix("sqlite:///"))
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))}


def assert_bad_input(proc: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit status 2, nothing on stdout, one line on stderr that starts `newsmon: error:` and names `names`."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr.endswith("\n"), proc.stderr
    assert lines[0].startswith("newsmon: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def body_paragraphs(article: FakeArticle) -> list[Block]:
    return [b for b in article.blocks if b.kind == "p"]


# ---------------------------------------------------------------- the shared, edited database

@dataclass
class Edited:
    newsmon: Newsmon
    site: FakeSite
    summaries: list[str]  # stdout of the three crawls
    old_url: str          # MOVED's URL before its title was edited
    new_url: str
    old_title: str
    files: dict[str, bytes] = field(repr=False)  # the database once set up: no read or error may change it

    def export(self) -> list[dict]:
        return self.newsmon.export()


def backdate_changes(db_url: str, ages: dict[str, timedelta]) -> None:
    """Make each article's changes look detected `age` ago: the only way to test `--since 7d` without
    waiting a week. Done with the sqlite3 module, as it stores them: naive UTC."""
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        for key, age in ages.items():
            n = conn.execute("UPDATE changes SET detected_at = ? WHERE article_id = (SELECT id FROM articles "
                             "WHERE key = ?)", ((now - age).isoformat(sep=" "), key)).rowcount
            assert n >= 1, key
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edited]:
    tmp = tmp_path_factory.mktemp("edited")
    newsmon = Newsmon(f"sqlite:///{tmp / 'newsmon.db'}", tmp)
    with FakeSite(theme="classic", noise=True) as site:
        for i, edition in enumerate(EDITIONS):
            site.add(make_article(431010 + i, edition, paragraphs=4 + i))
        summaries = [newsmon.crawl(site)]

        moved = site.article(int(MOVED))
        old_url, old_title = site.base_url + moved.url, moved.title
        site.edit(moved.id, title=NEW_TITLE, updated=moved.published + timedelta(days=1))  # announced, 301
        twice = site.article(int(TWICE))
        body_paragraphs(twice)[1].text = body_paragraphs(twice)[1].text.replace(" ", " vraiment ", 1)
        site.edit(twice.id, blocks=list(twice.blocks))  # silent body edit
        site.edit(int(GONE), status=410)
        dates = site.article(int(DATES))
        site.edit(dates.id, updated=dates.published + timedelta(days=2))  # dates only
        site.rotate_noise()
        summaries.append(newsmon.crawl(site, "--all"))

        body_paragraphs(twice)[0].text += " " + ADDED_SENTENCE
        site.edit(twice.id, blocks=list(twice.blocks))  # a second silent edit: version 3
        lead = site.article(int(LEAD))
        site.edit(lead.id, lead=lead.lead.replace(" ", " discrètement ", 1))  # silent lead edit
        site.rotate_noise()
        summaries.append(newsmon.crawl(site, "--all"))

        # TWICE's two changes stay fresh; the others move back in time (see test_changes_since).
        backdate_changes(newsmon.db, {LEAD: timedelta(hours=5), MOVED: timedelta(days=3),
                                      DATES: timedelta(days=30)})
        yield Edited(newsmon, site, summaries, old_url, site.base_url + moved.url, old_title, db_files(newsmon.db))


@pytest.fixture
def untouched(edited: Edited) -> Iterator[Edited]:
    """`edited`, checked after the test to be byte for byte what it was."""
    yield edited
    assert db_files(edited.newsmon.db) == edited.files, "the command changed the database"


# ---------------------------------------------------------------- crawl summaries

def test_crawl_summaries_count_what_happened(edited: Edited) -> None:
    first, second, third = edited.summaries
    for line in edited.summaries:
        assert len(line.splitlines()) == 1 and line.startswith("lepetitjournal: checked ")
    assert summary_counts(first) == {"checked": 6, "new": 6, "changed": 0, "dates only": 0, "unchanged": 0,
                                     "gone": 0, "errors": 0}
    # A title, a body edited; one article 410 (fetched twice to confirm it), one with only a new declared
    # date; two untouched.
    assert summary_counts(second) == {"checked": 6, "new": 0, "changed": 2, "dates only": 1, "unchanged": 2,
                                      "gone": 1, "errors": 0, "held for confirmation": 1}
    # A body and a lead edited. The gone article is asked for again and is still gone.
    assert summary_counts(third) == {"checked": 6, "new": 0, "changed": 2, "dates only": 0, "unchanged": 3,
                                     "gone": 1, "errors": 0}


# ---------------------------------------------------------------- articles

def test_articles_table_lists_every_article(untouched: Edited) -> None:
    out = untouched.newsmon.run("articles").stdout
    lines = out.splitlines()
    assert len(lines) == 6
    rows = {line.split("\t")[1]: line.split("\t") for line in lines}
    assert sorted(rows) == IDS
    assert rows[GONE][2] == "gone" and rows[MOVED][2] == "live"
    assert NEW_TITLE in rows[MOVED]  # the latest title


def test_articles_json_has_the_documented_fields(untouched: Edited) -> None:
    articles = untouched.newsmon.json("articles", "--json")
    assert isinstance(articles, list) and len(articles) == 6
    by_id = {a["article_id"]: a for a in articles}
    assert sorted(by_id) == IDS
    for a in articles:
        assert set(a) == ARTICLE_FIELDS
        assert a["site"] == "lepetitjournal"
        assert a["url"] == untouched.site.base_url + untouched.site.article(int(a["article_id"])).url
        assert a["edition"] == EDITIONS[IDS.index(a["article_id"])]
        datetime.fromisoformat(a["first_seen_at"])
        datetime.fromisoformat(a["last_checked_at"])
    assert {k: a["versions"] for k, a in by_id.items()} == {MOVED: 2, TWICE: 3, GONE: 1, DATES: 2, LEAD: 2, QUIET: 1}
    assert {k: a["status"] for k, a in by_id.items()} == {k: "gone" if k == GONE else "live" for k in IDS}
    assert by_id[MOVED]["title"] == NEW_TITLE


# ---------------------------------------------------------------- changes

def test_changes_json_newest_first_with_the_documented_fields(untouched: Edited) -> None:
    changes = untouched.newsmon.json("changes", "--json")
    assert [(c["article_id"], c["from_version"], c["to_version"]) for c in changes] == [
        (TWICE, 2, 3), (TWICE, 1, 2), (LEAD, 1, 2), (MOVED, 1, 2), (DATES, 1, 2)]
    for c in changes:
        assert set(c) == CHANGE_FIELDS
        assert c["site"] == "lepetitjournal" and c["detected_at"].endswith("Z")
    stamps = [datetime.fromisoformat(c["detected_at"]) for c in changes]
    assert stamps == sorted(stamps, reverse=True)
    by = {(c["article_id"], c["to_version"]): c for c in changes}
    moved = by[MOVED, 2]
    assert moved["fields"] == ["title", "updated"] and moved["announced"] is True and moved["text_changed"] is True
    assert moved["url"] == untouched.new_url and moved["title"] == NEW_TITLE and moved["edition"] == "cambodge"
    assert moved["declared_updated"] is not None and datetime.fromisoformat(moved["declared_updated"]).utcoffset() \
        == timedelta(hours=7)
    first_edit = by[TWICE, 2]
    assert first_edit["fields"] == ["body"] and first_edit["announced"] is False
    assert (first_edit["added_words"], first_edit["removed_words"]) == (1, 0)
    assert first_edit["declared_updated"] is None
    assert (by[TWICE, 3]["added_words"], by[TWICE, 3]["removed_words"]) == (5, 0)
    assert by[LEAD, 2]["fields"] == ["lead"] and by[LEAD, 2]["announced"] is False
    dates = by[DATES, 2]
    assert dates["text_changed"] is False and dates["fields"] == ["updated"]
    assert (dates["added_words"], dates["removed_words"]) == (0, 0)


def test_changes_plain_output_is_one_line_per_change(untouched: Edited) -> None:
    lines = untouched.newsmon.run("changes").stdout.splitlines()
    assert len(lines) == 5
    cells = [line.split("\t") for line in lines]
    assert [(c[2], c[3]) for c in cells] == [(TWICE, "2→3"), (TWICE, "1→2"), (LEAD, "1→2"), (MOVED, "1→2"),
                                             (DATES, "1→2")]
    assert [c[4] for c in cells] == ["silent edit", "silent edit", "silent edit", "announced edit", "dates only"]
    assert cells[3][-1] == NEW_TITLE


def test_changes_silent_keeps_only_unannounced_text_edits(untouched: Edited) -> None:
    silent = untouched.newsmon.json("changes", "--silent", "--json")
    assert [(c["article_id"], c["to_version"]) for c in silent] == [(TWICE, 3), (TWICE, 2), (LEAD, 2)]
    assert all(c["text_changed"] is True and c["announced"] is False for c in silent)
    assert len(untouched.newsmon.run("changes", "--silent").stdout.splitlines()) == 3


def test_changes_since(untouched: Edited) -> None:
    """Detected: TWICE's two changes just now, LEAD 5 hours ago, MOVED 3 days ago, DATES 30 days ago."""
    def since(value: str) -> list[tuple[str, int]]:
        return [(c["article_id"], c["to_version"])
                for c in untouched.newsmon.json("changes", "--since", value, "--json")]  # type: ignore[union-attr]

    fresh = [(TWICE, 3), (TWICE, 2)]
    assert since("90m") == fresh
    assert since("24h") == fresh + [(LEAD, 2)]
    assert since("7d") == since("2w") == fresh + [(LEAD, 2), (MOVED, 2)]
    assert since("3650d") == fresh + [(LEAD, 2), (MOVED, 2), (DATES, 2)]
    now = datetime.now(UTC)
    assert since((now - timedelta(days=10)).date().isoformat()) == fresh + [(LEAD, 2), (MOVED, 2)]
    # An offset is honoured: 4 hours ago, written in Phnom Penh time, is still 4 hours ago.
    four_hours_ago = (now - timedelta(hours=4)).astimezone(timezone(timedelta(hours=7)))
    assert since(four_hours_ago.isoformat(timespec="minutes")) == fresh
    assert since((now + timedelta(days=1)).date().isoformat()) == []


# ---------------------------------------------------------------- history

def test_history_finds_an_article_by_id_old_url_new_url_and_site_id(untouched: Edited) -> None:
    run = untouched.newsmon.json
    by_id = run("history", MOVED, "--json")
    assert run("history", untouched.old_url, "--json") == by_id
    assert run("history", untouched.new_url, "--json") == by_id
    assert run("history", f"lepetitjournal:{MOVED}", "--json") == by_id
    assert isinstance(by_id, dict) and set(by_id) == HISTORY_FIELDS
    assert by_id["site"] == "lepetitjournal" and by_id["article_id"] == MOVED and by_id["status"] == "live"
    assert by_id["url"] == untouched.new_url
    assert by_id["urls"] == [untouched.old_url, untouched.new_url]
    v1, v2 = by_id["versions"]
    assert all(set(v) == HISTORY_VERSION_FIELDS for v in (v1, v2))
    assert (v1["version"], v1["title"], v1["fields"], v1["announced"]) == (1, untouched.old_title, [], None)
    assert (v2["version"], v2["title"], v2["fields"], v2["announced"]) == (2, NEW_TITLE, ["title", "updated"], True)
    assert v2["updated"] is not None and v1["updated"] is None
    assert all(set(e) == TIMELINE_FIELDS for e in by_id["timeline"])
    assert [(e["kind"], e["outcome"], e["version"]) for e in by_id["timeline"] if e["kind"] == "check"] == [
        ("check", "new", 1), ("check", "changed", 2), ("check", "unchanged", 2)]
    assert [e["kind"] for e in by_id["timeline"]].count("moved") == 1


def test_history_of_a_gone_article_and_of_a_dates_only_change(untouched: Edited) -> None:
    gone = untouched.newsmon.json("history", GONE, "--json")
    assert gone["status"] == "gone" and len(gone["versions"]) == 1
    assert "gone" in [e["kind"] for e in gone["timeline"]]
    assert 410 in [e["http_status"] for e in gone["timeline"] if e["kind"] == "check"]
    dates = untouched.newsmon.json("history", DATES, "--json")
    assert [v["metadata_only"] for v in dates["versions"]] == [False, True]


def test_history_plain_output(untouched: Edited) -> None:
    out = untouched.newsmon.run("history", untouched.old_url).stdout
    lines = out.splitlines()
    assert lines[0] == f"lepetitjournal:{MOVED} (live) {untouched.new_url}"
    assert f"  also at {untouched.old_url}" in lines
    assert any(line.startswith("2\t") and "announced edit: title,updated" in line and line.endswith(NEW_TITLE)
               for line in lines)


# ---------------------------------------------------------------- show

def test_show_json_is_the_matching_export_line(untouched: Edited) -> None:
    exported = {(v["article_id"], v["version"]): v for v in untouched.export()}
    latest = untouched.newsmon.json("show", TWICE, "--json")
    assert latest == exported[TWICE, 3]
    assert untouched.newsmon.json("show", TWICE, "--version", "1", "--json") == exported[TWICE, 1]
    assert untouched.newsmon.json("show", untouched.old_url, "--version", "1", "--json") == exported[MOVED, 1]


def test_show_plain_output_latest_by_default(untouched: Edited) -> None:
    latest = untouched.newsmon.run("show", MOVED).stdout
    assert latest.startswith(f"lepetitjournal:{MOVED} version 2 ")
    assert untouched.new_url in latest and NEW_TITLE in latest and untouched.old_title not in latest
    first = untouched.newsmon.run("show", MOVED, "--version", "1").stdout
    assert first.startswith(f"lepetitjournal:{MOVED} version 1 ")
    assert untouched.old_url in first and untouched.old_title in first and NEW_TITLE not in first
    article = untouched.site.article(int(MOVED))
    assert squash(article.lead) in squash(first)
    assert all(paragraph in squash(first) for paragraph in article.body)


# ---------------------------------------------------------------- diff

def test_diff_defaults_to_latest_against_previous(untouched: Edited) -> None:
    default = untouched.newsmon.run("diff", TWICE).stdout  # not a terminal: plain text
    assert default == untouched.newsmon.run("diff", TWICE, "--from", "2", "--to", "3", "--format", "text").stdout
    assert default.startswith("== body (+5 -0 words)\n")
    assert "{+" in default and ADDED_SENTENCE.split()[1] in default and "[-" not in default
    to_two = untouched.newsmon.json("diff", TWICE, "--to", "2", "--format", "json")
    assert (to_two["from_version"], to_two["to_version"]) == (1, 2)


def test_diff_text_marks_removed_and_added_words(untouched: Edited) -> None:
    out = untouched.newsmon.run("diff", MOVED, "--from", "1", "--to", "2", "--format", "text").stdout
    assert out.startswith("== title (+")
    assert f"[-{untouched.old_title}-]{{+{NEW_TITLE}+}}" in out
    body = untouched.newsmon.run("diff", TWICE, "--from", "1", "--to", "2", "--format", "text").stdout
    assert "{+vraiment +}" in body and "[-" not in body
    across = untouched.newsmon.run("diff", TWICE, "--from", "1", "--to", "3", "--format", "text").stdout
    assert across.startswith("== body (+6 -0 words)\n") and "{+vraiment +}" in across
    same = untouched.newsmon.run("diff", QUIET, "--format", "text").stdout  # one version: nothing to show
    assert same == "no text change\n"


def test_diff_json_segments_rebuild_the_new_text(untouched: Edited) -> None:
    exported = {(v["article_id"], v["version"]): v for v in untouched.export()}
    for key, old, new in [(TWICE, 1, 3), (MOVED, 1, 2), (LEAD, 1, 2)]:
        diff = untouched.newsmon.json("diff", key, "--from", str(old), "--to", str(new), "--format", "json")
        assert set(diff) == {"article_id", "from_version", "to_version", "fields"}
        assert (diff["article_id"], diff["from_version"], diff["to_version"]) == (key, old, new)
        assert diff["fields"], key
        for part in diff["fields"]:
            assert set(part) == {"field", "added_words", "removed_words", "moved_words", "segments"}
            assert {s["op"] for s in part["segments"]} <= {"=", "+", "-", "<", ">"}
            rebuilt = "".join(s["text"] for s in part["segments"] if s["op"] in "=+>")
            value = exported[key, new][part["field"]]
            assert rebuilt == ("\n\n".join(value) if isinstance(value, list) else value), (key, part["field"])
    title = untouched.newsmon.json("diff", MOVED, "--format", "json")["fields"]
    assert [f["field"] for f in title] == ["title"]
    assert [s["op"] for s in title[0]["segments"]] == ["-", "+"]
    assert squash(title[0]["segments"][0]["text"]) == squash(untouched.old_title)


# ---------------------------------------------------------------- export

def test_export_is_one_json_line_per_version_with_every_field(untouched: Edited) -> None:
    lines = untouched.newsmon.run("export").stdout.splitlines()
    versions = [json.loads(line) for line in lines]
    assert len(versions) == 2 + 3 + 1 + 2 + 2 + 1
    assert [(v["article_id"], v["version"]) for v in versions] == sorted((v["article_id"], v["version"])
                                                                         for v in versions)
    for v in versions:
        assert set(v) == EXPORT_FIELDS
        assert isinstance(v["body"], list) and v["body"] and all(isinstance(p, str) for p in v["body"])
        assert isinstance(v["captions"], list) and all(isinstance(c, str) for c in v["captions"])
        assert v["site"] == "lepetitjournal" and v["date_precision"] == "day" and v["extractor"]
        assert v["status"] == ("gone" if v["article_id"] == GONE else "live")
        assert v["fetched_at"].endswith("Z")
    by = {(v["article_id"], v["version"]): v for v in versions}
    assert by[MOVED, 1]["url"] == untouched.old_url and by[MOVED, 2]["url"] == untouched.new_url
    assert squash(by[MOVED, 1]["title"]) == squash(untouched.old_title) and by[MOVED, 2]["title"] == NEW_TITLE
    assert [by[DATES, n]["metadata_only"] for n in (1, 2)] == [False, True]
    quiet = untouched.site.article(int(QUIET))
    assert [squash(p) for p in by[QUIET, 1]["body"]] == quiet.body
    assert [squash(c) for c in by[QUIET, 1]["captions"]] == quiet.captions
    assert "vraiment" not in " ".join(by[TWICE, 1]["body"]) and "vraiment" in " ".join(by[TWICE, 2]["body"])


# ---------------------------------------------------------------- entry points

def test_python_m_monitor_and_the_newsmon_script_are_the_same_command(untouched: Edited) -> None:
    script = (str(Path(sys.executable).with_name("newsmon")),)
    module_help = untouched.newsmon.run("--help")
    script_help = untouched.newsmon.run("--help", command=script)
    assert module_help.stdout == script_help.stdout
    assert module_help.stdout.startswith("usage: newsmon ")
    for command in ("crawl", "articles", "changes", "history", "show", "diff", "export"):
        assert command in module_help.stdout
    assert untouched.newsmon.run("articles", "--json", command=script).stdout == \
        untouched.newsmon.run("articles", "--json").stdout
    bad = untouched.newsmon.run("history", "999999", check=False, command=script)
    assert_bad_input(bad, "999999")


def test_scrapy_crawl_stores_into_the_newsmon_database(newsmon_sqlite: Newsmon, site: FakeSite) -> None:
    env = {k: v for k, v in newsmon_sqlite.env.items() if k != "NEWSMON_DB"}  # only -s says where
    proc = subprocess.run([str(Path(sys.executable).with_name("scrapy")), "crawl", "lepetitjournal",
                           "-a", f"base_url={site.base_url}", "-s", f"NEWSMON_DB={newsmon_sqlite.db}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    articles = newsmon_sqlite.json("articles", "--json")
    assert sorted(a["article_id"] for a in articles) == sorted(str(a.id) for a in site.articles)
    assert all(a["site"] == "lepetitjournal" and a["versions"] == 1 for a in articles)
    # The same database, the same articles: a newsmon crawl afterwards finds nothing new.
    assert summary_counts(newsmon_sqlite.crawl(site, "--all")) == {
        "checked": 6, "new": 0, "changed": 0, "dates only": 0, "unchanged": 6, "gone": 0, "errors": 0}


# ---------------------------------------------------------------- bad input on a good database

@pytest.mark.parametrize(("args", "names"), [
    (("history", "999999"), ["999999"]),
    (("show", "lepetitjournal:999999"), ["lepetitjournal:999999"]),
    (("diff", "nosuchsite:431010"), ["nosuchsite:431010"]),
    (("history", "http://127.0.0.1:9/cambodge/actualites/nothing-here-999999"),
     ["http://127.0.0.1:9/cambodge/actualites/nothing-here-999999"]),
    (("changes", "--since", "yesterday"), ["--since", "'yesterday'"]),
    (("changes", "--since", "5x"), ["--since", "'5x'"]),
    (("crawl", "nosuchspider"), ["nosuchspider"]),
    (("crawl", "lepetitjournal", "--base-url", "not-a-url"), ["--base-url", "not-a-url"]),
    (("show", MOVED, "--version", "99"), [MOVED, "version 99"]),
    (("diff", MOVED, "--from", "99"), [MOVED, "version 99"]),
    (("diff", MOVED, "--to", "99"), [MOVED, "version 99"]),
], ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_bad_input_is_one_line_exit_2_and_touches_nothing(untouched: Edited, args: tuple[str, ...],
                                                          names: list[str]) -> None:
    requests = len(untouched.site.requests)
    assert_bad_input(untouched.newsmon.run(*args, check=False), *names)
    assert len(untouched.site.requests) == requests  # no crawl started


def test_unknown_spider_on_an_existing_database_leaves_it_as_it_was(untouched: Edited) -> None:
    before = untouched.export()
    assert_bad_input(untouched.newsmon.run("crawl", "nosuchspider", "--base-url", untouched.site.base_url,
                                           check=False), "nosuchspider")
    assert untouched.export() == before


ARGPARSE_ERRORS = [
    (("articles", "--bogus"), "--bogus"),
    (("frobnicate",), "frobnicate"),
    ((), "COMMAND"),
    (("history",), "ARTICLE"),
    (("crawl",), "spider"),
    (("show", MOVED, "--version", "abc"), "abc"),
    (("diff", MOVED, "--format", "html"), "html"),
    (("changes", "--since"), "--since"),
]


@pytest.mark.parametrize(("args", "name"), ARGPARSE_ERRORS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_usage_errors_are_one_line_and_exit_2(untouched: Edited, args: tuple[str, ...], name: str) -> None:
    proc = untouched.newsmon.run(*args, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("newsmon: error: ") and name in lines[0], lines[0]


@pytest.mark.parametrize("args", [("history",), ("show", MOVED, "--version", "abc")], ids=" ".join)
def test_usage_errors_of_a_command_start_like_every_other_error(untouched: Edited, args: tuple[str, ...]) -> None:
    assert_bad_input(untouched.newsmon.run(*args, check=False))


# ---------------------------------------------------------------- bad or missing databases

READ_COMMANDS = [("articles",), ("changes",), ("history", "431010"), ("show", "431010"), ("diff", "431010"),
                 ("export",)]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_read_commands_refuse_a_database_that_does_not_exist(newsmon_sqlite: Newsmon, tmp_path: Path,
                                                             args: tuple[str, ...]) -> None:
    missing = tmp_path / "typo" / "newsmon.db"
    line = assert_bad_input(newsmon_sqlite.run(*args, "--db", f"sqlite:///{missing}", check=False), str(missing))
    assert "no database" in line
    assert not missing.exists() and not missing.parent.exists()


def test_a_missing_database_named_by_newsmon_db_is_not_created(newsmon_sqlite: Newsmon) -> None:
    path = Path(newsmon_sqlite.db.removeprefix("sqlite:///"))
    assert_bad_input(newsmon_sqlite.run("changes", "--since", "7d", check=False), "no database", str(path))
    assert not path.exists()


def test_unknown_spider_does_not_create_the_database(newsmon_sqlite: Newsmon) -> None:
    path = Path(newsmon_sqlite.db.removeprefix("sqlite:///"))
    assert_bad_input(newsmon_sqlite.run("crawl", "nosuchspider", check=False), "nosuchspider")
    assert not path.exists()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(newsmon_sqlite: Newsmon, site: FakeSite,
                                                                 tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(random.Random(0).randbytes(8192))
    before = junk.read_bytes()
    url = f"sqlite:///{junk}"
    assert_bad_input(newsmon_sqlite.run("articles", "--db", url, check=False), str(junk))
    assert_bad_input(newsmon_sqlite.run("--db", url, "crawl", "lepetitjournal", "--base-url", site.base_url,
                                        check=False), str(junk))
    assert junk.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("junk")) == ["junk.db"]
    assert site.requests == []  # refused before any fetch


def someone_elses_database(path: Path) -> str:
    """A SQLite file another program made (rollback journal, its own table); its URL."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Sovann')")
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_a_database_holding_someone_elses_tables_is_refused(newsmon_sqlite: Newsmon, site: FakeSite,
                                                            tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.db"
    url = someone_elses_database(theirs)
    for args in (("export",), ("changes", "--json"), ("crawl", "lepetitjournal", "--base-url", site.base_url)):
        line = assert_bad_input(newsmon_sqlite.run(*args, "--db", url, check=False), str(theirs))
        assert "customers" in line and "not a newsmon database" in line
    conn = sqlite3.connect(theirs)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["customers"]  # no newsmon schema
    assert conn.execute("SELECT id, name FROM customers").fetchall() == [(1, "Sovann")]
    conn.close()
    assert site.requests == []  # refused before any fetch


def test_a_refused_foreign_database_keeps_its_bytes(newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.db"
    url = someone_elses_database(theirs)
    before = theirs.read_bytes()
    assert_bad_input(newsmon_sqlite.run("export", "--db", url, check=False), "not a newsmon database")
    assert theirs.read_bytes() == before


def test_an_unreachable_database_is_one_line_without_its_password(untouched: Edited) -> None:
    url = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x"
    for args in (("articles",), ("history", MOVED), ("crawl", "lepetitjournal", "--base-url", untouched.site.base_url)):
        requests = len(untouched.site.requests)
        line = assert_bad_input(untouched.newsmon.run("--db", url, *args, check=False), "127.0.0.1:1/x")
        assert "s3cret" not in line
        assert len(untouched.site.requests) == requests
    assert_bad_input(untouched.newsmon.run("articles", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/x",
                                           check=False), "postgresql+psycopg://nobody@127.0.0.1:1/x")


# ---------------------------------------------------------------- two sites sharing article ids

def test_an_id_on_two_sites_needs_its_site(newsmon_sqlite: Newsmon, site: FakeSite) -> None:
    assert newsmon_sqlite.crawl(site, "--site", "a").startswith("a: checked 6 ")
    assert newsmon_sqlite.crawl(site, "--site", "b").startswith("b: checked 6 ")
    path = Path(newsmon_sqlite.db.removeprefix("sqlite:///"))
    before = db_files(newsmon_sqlite.db)
    url = site.base_url + site.articles[0].url
    for args in (("history", "431010"), ("show", "431010", "--json"), ("diff", "431010"), ("history", url)):
        line = assert_bad_input(newsmon_sqlite.run(*args, check=False), args[1])
        assert "a:431010" in line  # says how to ask
    assert db_files(newsmon_sqlite.db) == before and path.exists()

    in_b = newsmon_sqlite.json("history", "b:431010", "--json")
    assert (in_b["site"], in_b["article_id"]) == ("b", "431010")
    assert len(newsmon_sqlite.json("articles", "--json")) == 12
    articles = newsmon_sqlite.json("articles", "--site", "a", "--json")
    assert sorted(a["article_id"] for a in articles) == sorted(str(a.id) for a in site.articles)
    assert {a["site"] for a in articles} == {"a"}
    assert len(newsmon_sqlite.run("articles", "--site", "b").stdout.splitlines()) == 6
    exported = [json.loads(line) for line in newsmon_sqlite.run("export", "--site", "b").stdout.splitlines()]
    assert len(exported) == 6 and {v["site"] for v in exported} == {"b"}

    # A change on the site shows under both names, and --site picks one.
    article = site.articles[0]
    body_paragraphs(article)[0].text += " " + ADDED_SENTENCE
    site.edit(article.id, blocks=list(article.blocks))
    assert summary_counts(newsmon_sqlite.crawl(site, "--site", "b", "--all"))["changed"] == 1
    assert [c["site"] for c in newsmon_sqlite.json("changes", "--json")] == ["b"]
    assert newsmon_sqlite.json("changes", "--site", "a", "--json") == []
    assert [c["article_id"] for c in newsmon_sqlite.json("changes", "--site", "b", "--json")] == ["431010"]
