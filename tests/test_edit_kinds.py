"""Kinds of edit and moves, end to end: a local site edits its articles one way each (a paragraph moved, a
spelling fix, a figure, a quotation, a correction line, a headline flipping A -> B -> A -> B), newsmon crawls
it, and every reader shows what kind of edit each was: `changes`, `diff`, `history`, the report, the web app
and its API, the notifications. Pure rules first."""
from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import feedparser
import pytest
from alembic import command
from lxml import html as lxml_html

from monitor.compare.diffing import diff_articles
from monitor.compare.edit_kinds import close, edit_kinds, tally
from monitor.compare.versioning import extracted_hash, text_hash
from monitor.notify.dispatch import notice_of
from monitor.notify.message import render
from monitor.report.webapp import App
from monitor.store import open_store
from monitor.store.engine import _alembic_config, _engine
from monitor.store.models import Article, Change, Outbox, Version
from tests.conftest import QuickNewsmon
from tests.fakesite import FakeArticle, FakeSite, make_article

# ---------------------------------------------------------------- the rules, on plain values

P1 = "Le gouvernement a annoncé un plan de 12 milliards pour relancer l'économie du pays."
P2 = "« Nous ne céderons pas », a déclaré le ministre lors de sa conférence de presse hier."
P3 = "La mesure entrera en vigueur le mois prochain selon le calendrier prévu par le texte."


def article(title: str = "Titre de l'article", author: str = "Jean Dupont",
            body: tuple[str, ...] = (P1, P2, P3)) -> Any:
    return SimpleNamespace(title=title, lead="Le chapô.", author=author, body=list(body), captions=[],
                           published=None, updated=None, date_precision="minute")


def kinds(old: Any, new: Any) -> tuple[str, ...]:
    return edit_kinds(old, new, diff_articles(old, new))


@pytest.mark.parametrize(("new", "expected"), [
    (article(body=(P1.replace("gouvernement", "gouvernment"), P2, P3)), ("spelling",)),
    (article(body=(P1.replace("annoncé", "anoncé").replace("relancer", "relançer"), P2, P3)), ("spelling",)),
    (article(body=(P1.replace("12", "15"), P2, P3)), ("figures",)),
    (article(body=(P1, P2.replace("céderons pas", "reculerons jamais"), P3)), ("quotes",)),
    (article(body=(P1, P2, P3, "Un paragraphe de plus, ajouté à la fin de l'article.")), ("addition",)),
    (article(body=(P1, P3)), ("removal",)),
    (article(body=(P2, P3, P1)), ("move",)),
    (article(body=(P1, P2, P3, "Correction : une version précédente indiquait 10 milliards.")),
     ("addition", "correction")),
    (article(body=(P1, P2, P3 + " An earlier version of this article misstated the date.")), ("correction",)),
    (article(title="Un tout autre titre"), ("headline",)),
    (article(title="Titre de l'artcle"), ("spelling",)),
    (article(author="Marie Curie"), ("byline",)),
    (article(body=(P1.replace("annoncé un plan", "dévoilé une stratégie"), P2, P3)), ()),
])
def test_each_kind_of_edit_by_its_rule(new: Any, expected: tuple[str, ...]) -> None:
    assert kinds(article(), new) == expected


def test_a_change_can_have_several_kinds() -> None:
    # "céderons" -> "cèderons" is a spelling fix inside a quotation; with the new title beside it, not every
    # changed word is a spelling fix any more.
    new = article(title="Un tout autre titre", body=(P2.replace("céderons", "cèderons"), P3, P1))
    assert kinds(article(), new) == ("headline", "quotes", "move")
    assert kinds(article(), article(body=(P1, P2.replace("céderons", "cèderons"), P3))) == ("spelling", "quotes")


@pytest.mark.parametrize(("word", "other", "is_close"), [
    ("gouvernment", "gouvernement", True), ("ete", "été", True), ("paris", "Paris", True),
    ("le", "la", False), ("annoncé", "démenti", False), ("12", "13", False), ("2021", "2012", False)])
def test_a_spelling_fix_is_a_close_word_never_a_number(word: str, other: str, is_close: bool) -> None:
    assert close(word, other) is is_close


# ---------------------------------------------------------------- end to end, over a crawled site

MOVE, SPELL, FIGURE, QUOTE, CORRECTION, FLIP = (str(431060 + i) for i in range(6))
CORRECTION_LINE = "Correction : une version précédente de cet article indiquait un autre bilan."
HEADLINE_B = "Un autre titre, pour voir lequel les lecteurs préfèrent"


@dataclass
class Crawled:
    newsmon: QuickNewsmon
    headline_a: str

    def changes(self, *args: str) -> list[dict]:
        return self.newsmon.json("changes", "--json", *args)  # type: ignore[return-value]

    def by_article(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for change in reversed(self.changes()):
            out.setdefault(change["article_id"], []).append(change)
        return out


def paragraphs_of(article: FakeArticle) -> list:
    return [b for b in article.blocks if b.kind == "p"]


def misspelled(text: str) -> tuple[str, str]:
    """A long word of the text with one letter doubled: (the text so misspelled, the word)."""
    word = next(w for w in re.findall(r"\b[a-zé]{8,}\b", text))
    return text.replace(word, word[:4] + word[3] + word[4:], 1), word


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    tmp = tmp_path_factory.mktemp("kinds")
    newsmon = QuickNewsmon(f"sqlite:///{tmp / 'newsmon.db'}", tmp)
    with FakeSite(noise=True) as site:
        for key in (MOVE, SPELL, FIGURE, QUOTE, CORRECTION, FLIP):
            site.add(make_article(int(key), "cambodge", paragraphs=4))
        spell = site.article(int(SPELL))
        typo = paragraphs_of(spell)[1]
        right = typo.text
        typo.text, _ = misspelled(right)          # published with a typo...
        newsmon.crawl(site)

        typo.text = right                          # ... fixed silently
        site.edit(spell.id, blocks=list(spell.blocks))
        moved = site.article(int(MOVE))
        first = paragraphs_of(moved)[0]
        site.edit(moved.id, blocks=[b for b in moved.blocks if b is not first] + [first])
        figure = site.article(int(FIGURE))
        stat = paragraphs_of(figure)[0]
        stat.text = re.sub(r"(\d+)(?=\u00a0%)", lambda m: str(int(m[1]) + 5), stat.text)
        site.edit(figure.id, blocks=list(figure.blocks))
        quote = site.article(int(QUOTE))
        said = next(b for b in quote.blocks if b.kind == "quote")
        said.text = said.text.replace("«\u202f", "«\u202fvraiment, ", 1)
        site.edit(quote.id, blocks=list(quote.blocks))
        corrected = site.article(int(CORRECTION))
        site.edit(corrected.id, blocks=[*corrected.blocks, type(corrected.blocks[1])("p", CORRECTION_LINE)])
        flip = site.article(int(FLIP))
        headline_a = flip.title
        site.edit(flip.id, title=HEADLINE_B)
        site.rotate_noise()
        newsmon.crawl(site, "--all")

        for title in (headline_a, HEADLINE_B):     # the headline flips back, and again
            site.edit(flip.id, title=title)
            site.rotate_noise()
            newsmon.crawl(site, "--all")
        yield Crawled(newsmon, headline_a)


def test_changes_say_their_kinds_and_moved_words(crawled: Crawled) -> None:
    by = crawled.by_article()
    assert {key: [c["kinds"] for c in changes] for key, changes in by.items()} == {
        MOVE: [["move"]], SPELL: [["spelling"]], FIGURE: [["figures"]], QUOTE: [["quotes"]],
        CORRECTION: [["addition", "correction"]], FLIP: [["headline"]] * 3}
    move = by[MOVE][0]
    # A moved paragraph is no word added nor removed: its words are counted as moved.
    assert (move["added_words"], move["removed_words"]) == (0, 0) and move["moved_words"] >= 20
    assert (by[SPELL][0]["added_words"], by[SPELL][0]["removed_words"], by[SPELL][0]["moved_words"]) == (1, 1, 0)
    lines = crawled.newsmon.run("changes").stdout.splitlines()
    assert any(f"\t{MOVE}\t" in line and "\tmove\t" in line and "moved " in line for line in lines)


def test_changes_filter_by_kind_of_edit(crawled: Crawled) -> None:
    def keys(*args: str) -> list[str]:
        return sorted({c["article_id"] for c in crawled.changes(*args)})
    assert keys("--edit-kind", "spelling") == [SPELL]
    assert keys("--edit-kind", "figures,quotes") == [FIGURE, QUOTE]
    assert keys("--edit-kind", "move", "--edit-kind", "correction") == [MOVE, CORRECTION]
    assert keys("--edit-kind", "headline", "--since", "1d") == [FLIP]
    proc = crawled.newsmon.run("changes", "--edit-kind", "spelling,typo", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "'typo'" in proc.stderr and proc.stderr.startswith("newsmon: error:")


def test_diff_shows_the_moved_paragraph_as_moved(crawled: Crawled) -> None:
    text = crawled.newsmon.run("diff", MOVE, "--format", "text").stdout
    assert re.search(r"== body \(\+0 -0 words, \d+ moved\)", text)
    assert text.count("[<") == 1 and text.count("{>") == 1 and "[-" not in text and "{+" not in text
    diff = crawled.newsmon.json("diff", MOVE, "--format", "json")
    (body,) = diff["fields"]  # type: ignore[index]
    assert body["moved_words"] >= 20 and {s["op"] for s in body["segments"]} == {"=", "<", ">"}


def test_report_shows_moves_and_kinds(crawled: Crawled, tmp_path: Path) -> None:
    crawled.newsmon.run("report", "--out", str(tmp_path))
    index = lxml_html.fromstring((tmp_path / "index.html").read_text(encoding="utf-8"))
    badges = {b.text_content() for b in index.cssselect(".badge.edit")}
    assert badges == {"move", "spelling", "figures", "quotes", "addition", "correction", "headline"}
    page = lxml_html.fromstring((tmp_path / "articles" / "lepetitjournal" / f"{MOVE}.html").read_text("utf-8"))
    assert page.cssselect(".diff.inline .moved-to") and page.cssselect(".diff.inline .moved-from")
    assert not page.cssselect(".diff.inline del") and "moved" in page.cssselect(".change-detail .words")[0].text_content()
    feed = feedparser.parse((tmp_path / "feed.atom").read_bytes())
    (entry,) = [e for e in feed.entries if f":{MOVE}:" in e.id]
    assert 'class="moved-to"' in entry.content[0].value and "moved" in entry.summary
    assert {t.term for t in entry.tags} == {"body", "move"}


def wsgi(app: App, path: str, query: str = "") -> tuple[int, bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list) -> None:
        answer["status"] = int(status.split()[0])
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                         "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                         "wsgi.errors": sys.stderr}, start_response))
    return answer["status"], body


def test_web_app_filters_by_kind_of_edit(crawled: Crawled) -> None:
    store = open_store(crawled.newsmon.db, create=False)
    try:
        app = App(store)
        status, body = wsgi(app, "/", "edit_kind=spelling")
        rows = lxml_html.fromstring(body.decode()).cssselect("ol.changes li.change")
        assert status == 200 and len(rows) == 1 and "spelling" in rows[0].text_content()
        status, body = wsgi(app, "/api/changes", "edit_kind=move")
        (change,) = json.loads(body)["changes"]
        assert status == 200 and change["kinds"] == ["move"] and change["moved_words"] >= 20
        for path in ("/", "/api/changes", "/feed.atom"):
            status, body = wsgi(app, path, "edit_kind=typo")
            assert status == 400 and b"typo" in body, path
    finally:
        store.close()


def test_a_notification_shows_the_move_and_the_kinds(crawled: Crawled) -> None:
    store = open_store(crawled.newsmon.db, create=False)
    try:
        with store.session() as session:
            row = session.query(Outbox).join(Article, Article.id == Outbox.article_id).filter(
                Outbox.kind == "change", Article.key == MOVE).one()
            message = render(notice_of(session, row, with_diffs=True))
    finally:
        store.close()
    assert "(move)" in message.body and "moved" in message.body
    assert "[<" in message.body and "{>" in message.body and "[-" not in message.body
    assert message.payload["kinds"] == ["move"] and message.payload["moved_words"] >= 20
    # A moved paragraph is shown by its ends: the message stays short.
    assert len(message.body) < 1200, message.body


def test_migration_0010_counts_the_stored_changes_again(crawled: Crawled, tmp_path: Path) -> None:
    """A database from before 0010, its changes counted as they were then (a moved paragraph as words removed
    and added): upgraded, each change says what ingest says today."""
    expected = crawled.changes()
    old_db = tmp_path / "old.db"
    with sqlite3.connect(crawled.newsmon.db.removeprefix("sqlite:///")) as source, sqlite3.connect(old_db) as copy:
        source.backup(copy)
    engine = _engine(f"sqlite:///{old_db}", True)
    try:
        command.downgrade(_alembic_config(engine), "0009")
    finally:
        engine.dispose()
    with sqlite3.connect(old_db) as conn:
        conn.execute("UPDATE changes SET added_words = 99, removed_words = 99")
    newsmon = QuickNewsmon(f"sqlite:///{old_db}", tmp_path)
    assert newsmon.json("changes", "--json") == expected   # migrated by the first command that opens it


# ---------------------------------------------------------------- reverts and headline flip-flops

def test_a_headline_flipping_back_reverts_and_is_one_pattern(crawled: Crawled) -> None:
    flips = [(c["to_version"], c["reverts_to"]) for c in crawled.by_article()[FLIP]]
    assert flips == [(2, None), (3, 1), (4, 2)]
    assert all(c["reverts_to"] is None for key, changes in crawled.by_article().items() if key != FLIP
               for c in changes)
    history = crawled.newsmon.json("history", FLIP, "--json")
    assert [v["reverts_to"] for v in history["versions"]] == [None, None, 1, 2]  # type: ignore[index]
    assert history["headline_flips"] == [  # type: ignore[index]
        {"titles": [crawled.headline_a, HEADLINE_B], "changes": 3, "versions": [2, 3, 4]}]
    out = crawled.newsmon.run("history", FLIP).stdout
    assert f"headline A/B: “{crawled.headline_a}” ⇄ “{HEADLINE_B}”, 3 changes (versions 2, 3, 4)" in out
    assert any(line.startswith("3\t") and "reverts to v1" in line for line in out.splitlines())


def test_the_report_and_the_api_show_reverts(crawled: Crawled, tmp_path: Path) -> None:
    crawled.newsmon.run("report", "--out", str(tmp_path))
    page = lxml_html.fromstring((tmp_path / "articles" / "lepetitjournal" / f"{FLIP}.html").read_text("utf-8"))
    (pattern,) = page.cssselect(".flipflop")
    assert "3 changes" in pattern.text_content() and HEADLINE_B in pattern.text_content()
    assert sorted(b.text_content() for b in page.cssselect(".change-detail .badge.revert")) == [
        "reverts to v1", "reverts to v2"]
    store = open_store(crawled.newsmon.db, create=False)
    try:
        status, body = wsgi(App(store), f"/api/articles/lepetitjournal/{FLIP}")
    finally:
        store.close()
    answer = json.loads(body)
    assert status == 200 and answer["headline_flips"][0]["changes"] == 3
    assert [v["reverts_to"] for v in answer["versions"]] == [None, None, 1, 2]


def test_reextract_counts_a_repaired_change_again(crawled: Crawled, tmp_path: Path) -> None:
    """An older extractor that lost the body's last paragraph stored the moved paragraph's new place as gone
    (a removal); read again, the change is the move it was, its kinds and words counted as ingest counts them."""
    expected = [c for c in crawled.changes() if c["article_id"] == MOVE]
    copy_db = tmp_path / "copy.db"
    with sqlite3.connect(crawled.newsmon.db.removeprefix("sqlite:///")) as source, sqlite3.connect(copy_db) as copy:
        source.backup(copy)
    store = open_store(f"sqlite:///{copy_db}", create=False)
    try:
        with store.session() as session:
            article = session.query(Article).filter(Article.key == MOVE).one()
            old, new = session.query(Version).filter(Version.article_id == article.id).order_by(Version.number)
            new.body = new.body[:-1]
            new.text_hash, new.extracted_hash = text_hash(new), extracted_hash(new)
            change = session.query(Change).filter(Change.to_version_id == new.id).one()
            counted = tally(old, new, diff_articles(old, new), True)
            change.kinds, change.moved_words = list(counted.kinds), counted.moved_words
            change.added_words, change.removed_words = counted.added_words, counted.removed_words
    finally:
        store.close()
    newsmon = QuickNewsmon(f"sqlite:///{copy_db}", tmp_path)
    assert [c["kinds"] for c in newsmon.changes() if c["article_id"] == MOVE] == [["removal"]]
    newsmon.run("reextract")
    assert [c for c in newsmon.changes() if c["article_id"] == MOVE] == expected


def test_a_moved_paragraph_edited_on_the_way_has_the_kinds_of_its_edit_too() -> None:
    long_p1 = P1 + " Le détail sera présenté au Parlement dans les prochaines semaines."
    body = (long_p1, P2, P3)
    assert kinds(article(body=body), article(body=(P2, P3, long_p1.replace("12", "15")))) == ("figures", "move")
    assert kinds(article(body=body), article(body=(P2, P3, long_p1.replace("prochaines", "prochaine")))) == (
        "spelling", "move")
