"""`newsmon export --format newsedits`: a real crawl of the fake site, an article edited there (a sentence
added, one reworded, a paragraph moved) and crawled again, exported, and the SQLite file read back with
sqlite3 as a researcher would."""
from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT, Newsmon
from tests.fakesite import Block, FakeSite, make_article
from tests.test_cli import assert_bad_input

EDITED, QUIET = 431100, 431101
TITLE = "Phnom Penh : la mairie ferme les écoles après les inondations"
LEAD = "Les pluies ont frappé la capitale dans la nuit de lundi. M. Sokha, le maire, a réagi mardi."
FIRST = "Le bilan est de 12 morts selon la préfecture. Les secours sont sur place depuis l'aube."
INTERTITLE = "Des quartiers entiers sous l'eau"
RIVER = ("Le niveau du Mékong a atteint 3,5 mètres au-dessus de la normale. Mme Chan, habitante du quartier, "
         "raconte : « Tout est perdu. » Elle attend de l'aide.")
AID = "Les autorités promettent une aide de 1,2 million de dollars. Le Dr. Lim coordonne les hôpitaux."
LAST = "Le gouvernement a convoqué une réunion d'urgence. Les écoles resteront fermées jusqu'à vendredi."
REWORDED = "Le bilan s'élève désormais à 14 morts selon la préfecture."
ADDED = "Une cellule de crise a été ouverte à l'hôtel de ville."

VERSION_1 = [TITLE, "Les pluies ont frappé la capitale dans la nuit de lundi.", "M. Sokha, le maire, a réagi mardi.",
             "Le bilan est de 12 morts selon la préfecture.", "Les secours sont sur place depuis l'aube.", INTERTITLE,
             "Le niveau du Mékong a atteint 3,5 mètres au-dessus de la normale.",
             "Mme Chan, habitante du quartier, raconte : « Tout est perdu. »", "Elle attend de l'aide.",
             "Les autorités promettent une aide de 1,2 million de dollars.", "Le Dr. Lim coordonne les hôpitaux.",
             "Le gouvernement a convoqué une réunion d'urgence.", "Les écoles resteront fermées jusqu'à vendredi."]
VERSION_2 = [*VERSION_1[:3], REWORDED, VERSION_1[4], ADDED, *VERSION_1[11:], *VERSION_1[5:11]]
MATCHES = {(0, 0, "unchanged"), (1, 1, "unchanged"), (2, 2, "unchanged"), (3, 3, "edit"), (4, 4, "unchanged"),
           (None, 5, "addition"), (11, 6, "refactor"), (12, 7, "refactor"),
           *{(x, x + 3, "unchanged") for x in range(5, 11)}}
TABLES = {"entries", "versions", "split_sentences", "matched_sentences"}
README = (ROOT / "README.md").read_text(encoding="utf-8")


def paragraphs(*texts: str) -> list[Block]:
    return [Block("h2" if text == INTERTITLE else "p", text) for text in texts]


@dataclass
class Crawled:
    newsmon: Newsmon
    tmp: Path
    between: datetime  # after the first crawls, before the edit


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """Two articles crawled as site `lepetitjournal` and as site `other`; then EDITED is edited on the site
    and `lepetitjournal` crawled again: EDITED has two versions there, every other article one."""
    tmp = tmp_path_factory.mktemp("newsedits")
    with FakeSite(theme="classic", noise=True) as site:
        article = make_article(EDITED, "cambodge", paragraphs=2)
        article.title, article.lead = TITLE, LEAD
        article.blocks = [article.blocks[0], *paragraphs(FIRST, INTERTITLE, RIVER, AID, LAST)]
        site.add(article)
        site.add(make_article(QUIET, "bangkok", paragraphs=3))
        config = tmp / "sites.toml"
        config.write_text("".join(f'[sites.{name}]\nspider = "lepetitjournal"\nbase_url = "{site.base_url}"\n'
                                  'confirm_delay = "0.3s"\n' for name in ("lepetitjournal", "other")),
                          encoding="utf-8")
        newsmon = Newsmon(f"sqlite:///{tmp / 'newsmon.db'}", tmp)
        newsmon.crawl_config(config)
        newsmon.run("crawl", "other", "--config", str(config))
        between = datetime.now(UTC)
        site.edit(EDITED, blocks=[article.blocks[0],
                                  *paragraphs(f"{REWORDED} Les secours sont sur place depuis l'aube. {ADDED}", LAST,
                                              INTERTITLE, RIVER, AID)])
        newsmon.crawl_config(config, "--all")
        yield Crawled(newsmon, tmp, between)


def export(crawled: Crawled, name: str, *options: str) -> tuple[sqlite3.Connection, str]:
    """Export to a new file; the connection to read it back and the summary line."""
    out = crawled.tmp / name
    proc = crawled.newsmon.run("export", "--format", "newsedits", "--out", str(out), *options)
    assert proc.stdout == ""
    return sqlite3.connect(out), proc.stderr


def sentences(db: sqlite3.Connection, entry_id: int, version: int) -> list[str]:
    return [s for (s,) in db.execute("SELECT sentence FROM split_sentences WHERE entry_id = ? AND version = ? "
                                     "ORDER BY sent_idx", (entry_id, version))]


def entry(db: sqlite3.Connection, site: str, article_id: int) -> int:
    [(entry_id,)] = db.execute("SELECT entry_id FROM entries WHERE site = ? AND article_id = ?",
                               (site, str(article_id)))
    return entry_id


def test_export_holds_sentences_and_their_matches(crawled: Crawled) -> None:
    db, summary = export(crawled, "all.db")
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == TABLES
    indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert {"matched_sentences_x", "matched_sentences_y", "matched_sentences_action"} <= indexes

    assert sorted(db.execute("SELECT site, article_id, versions FROM entries")) == [
        ("lepetitjournal", str(EDITED), 2), ("lepetitjournal", str(QUIET), 1),
        ("other", str(EDITED), 1), ("other", str(QUIET), 1)]
    edited = entry(db, "lepetitjournal", EDITED)
    [(title, url)] = db.execute("SELECT title, url FROM entries WHERE entry_id = ?", (edited,))
    assert title == TITLE and url.endswith(f"-{EDITED}")
    assert sentences(db, edited, 1) == VERSION_1
    assert sentences(db, edited, 2) == VERSION_2
    assert list(db.execute("SELECT DISTINCT part FROM split_sentences WHERE entry_id = ? AND version = 2 "
                           "ORDER BY sent_idx", (edited,))) == [("title",), ("lead",), ("body",)]
    rows = list(db.execute("SELECT version_x, version_y, sent_idx_x, sent_idx_y, action, similarity FROM "
                           "matched_sentences WHERE entry_id = ?", (edited,)))
    assert {(x, y, action) for _, _, x, y, action, _ in rows} == MATCHES
    assert {(vx, vy) for vx, vy, *_ in rows} == {(1, 2)}
    [edit_similarity] = [s for *_, action, s in rows if action == "edit"]
    assert 0.5 < edit_similarity < 1
    # Only the edited article has two versions: every match in the file is one of its.
    assert db.execute("SELECT COUNT(*) FROM matched_sentences").fetchone() == (len(MATCHES),)
    total = db.execute("SELECT COUNT(*) FROM split_sentences").fetchone()[0]
    assert summary == (f"newsedits: 4 entries, 5 versions, {total} sentences; matches: addition 1 · deletion 0 · "
                       f"edit 1 · refactor 2 · unchanged 10 -> {crawled.tmp / 'all.db'}\n")
    assert sorted(p.name for p in crawled.tmp.glob(".all.db*")) == []  # the temporary file was renamed


def test_readme_example_query(crawled: Crawled) -> None:
    """The README's query, as it is written there: each edit with its two sentences."""
    query = re.search(r'sqlite3 edits.db "(.+?)"\n```', README, re.DOTALL)
    assert query, "the README's NewsEdits example is gone"
    db, _ = export(crawled, "readme.db")
    rows = list(db.execute(query[1]))
    assert [row[:6] for row in rows] == [("lepetitjournal", str(EDITED), 1, 2, VERSION_1[3], REWORDED)]


def test_site_filter(crawled: Crawled) -> None:
    db, summary = export(crawled, "other.db", "--site", "other")
    assert sorted(db.execute("SELECT site, article_id, versions FROM entries")) == [
        ("other", str(EDITED), 1), ("other", str(QUIET), 1)]
    assert db.execute("SELECT COUNT(*) FROM matched_sentences").fetchone() == (0,)
    assert summary.startswith("newsedits: 2 entries, 2 versions, ")


def test_since_filter_keeps_the_versions_fetched_since(crawled: Crawled) -> None:
    db, _ = export(crawled, "since.db", "--since", crawled.between.isoformat())
    assert list(db.execute("SELECT site, article_id, versions FROM entries")) == [("lepetitjournal", str(EDITED), 1)]
    assert list(db.execute("SELECT version FROM versions")) == [(2,)]
    assert sentences(db, 1, 2) == VERSION_2
    assert db.execute("SELECT COUNT(*) FROM matched_sentences").fetchone() == (0,)  # version 1 is not in it


def test_an_existing_file_is_never_overwritten(crawled: Crawled) -> None:
    out = crawled.tmp / "taken.db"
    out.write_text("someone's data", encoding="utf-8")
    proc = crawled.newsmon.run("export", "--format", "newsedits", "--out", str(out), check=False)
    assert_bad_input(proc, str(out), "already exists")
    assert out.read_text(encoding="utf-8") == "someone's data"
    assert list(crawled.tmp.glob(".taken.db*")) == []


@pytest.mark.parametrize(("options", "named"), [
    (("--format", "newsedits"), "--out"),
    (("--format", "newsedits", "--out", "{tmp}/bad-since.db", "--since", "last tuesday"), "--since"),
    (("--format", "newsedits", "--out", "{tmp}/no/such/folder.db"), "no/such/folder.db"),
    (("--format", "newsedits", "--out", "{tmp}/revisits.db", "--revisits"), "--revisits"),
    (("--format", "newsedits", "--out", "{tmp}/unknown.db", "--site", "lepetitjournl"), "'lepetitjournl'"),
])
def test_bad_input_is_one_line_and_writes_nothing(crawled: Crawled, options: tuple[str, ...], named: str) -> None:
    proc = crawled.newsmon.run("export", *(o.format(tmp=crawled.tmp) for o in options), check=False)
    assert_bad_input(proc, named)
    assert not [p for p in crawled.tmp.iterdir() if p.name.startswith(("bad-since.db", "revisits.db", "unknown.db",
                                                                        ".unknown.db"))]


def test_a_failed_export_leaves_nothing(crawled: Crawled) -> None:
    """A database whose last article cannot be read (its body is not text) fails the export after the other
    articles were written: neither FILE nor the temporary file is left."""
    broken = crawled.tmp / "broken"
    broken.mkdir()
    source, copy = sqlite3.connect(crawled.tmp / "newsmon.db"), sqlite3.connect(broken / "newsmon.db")
    source.backup(copy)
    copy.execute("UPDATE versions SET body = X'00FF' WHERE article_id = (SELECT a.id FROM articles a JOIN sites s "
                 "ON s.id = a.site_id WHERE s.name = 'other' AND a.key = ?)", (str(QUIET),))
    copy.commit()
    source.close()
    copy.close()
    out = broken / "edits.db"
    proc = Newsmon(f"sqlite:///{broken / 'newsmon.db'}", broken).run(
        "export", "--format", "newsedits", "--out", str(out), check=False, command=(sys.executable, "-m", "monitor"))
    assert proc.returncode == 1 and "UnicodeDecodeError" in proc.stderr
    assert sorted(p.name for p in broken.iterdir() if "edits.db" in p.name) == []
