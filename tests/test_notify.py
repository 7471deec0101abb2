"""Notifications end to end: a crawl of a local site that edits its pages, subscriptions with filters and
digests, delivered over real HTTP to a local receiver (webhooks and Apprise's JSON notifier), a receiver
that fails and recovers, a daemon killed between commit and delivery, throttled alerts, and bad configs."""
from __future__ import annotations

import hashlib
import hmac
import signal
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.store.models import Delivery
from tests.conftest import QUICK_CONFIRM_DELAY, Newsmon, count, wait_for
from tests.fakesite import FakeArticle, FakeSite, make_article
from tests.receiver import Receiver, Request
from tests.test_cli import assert_bad_input, body_paragraphs
from tests.test_daemon import FAST_POLICY, DaemonProcess

SECRET = "s3cret-for-tests"
IDS = [431010, 431011, 431012, 431013]
TITLE_EDITED, SILENT_BODY, GONE, QUIET = IDS


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite(theme="classic", noise=True) as fake:
        for i, id_ in enumerate(IDS):
            fake.add(make_article(id_, "cambodge" if i % 2 else "bangkok", paragraphs=4 + i))
        yield fake


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def config(path: Path, site: FakeSite, subscriptions: str, *, extra: str = "") -> Path:
    path.write_text(f'{extra}\n[sites.lepetitjournal]\nbase_url = "{site.base_url}"\n'
                    f'confirm_delay = "{QUICK_CONFIRM_DELAY}"\n{subscriptions}', encoding="utf-8")
    return path


def edit_title(site: FakeSite, id_: int, announced: bool = True) -> None:
    a = site.article(id_)
    site.edit(id_, title=a.title + " (mis à jour)",
              **({"updated": a.published + timedelta(days=1)} if announced else {}))


def edit_body(site: FakeSite, id_: int, words: str = "vraiment") -> FakeArticle:
    a = site.article(id_)
    body_paragraphs(a)[1].text = body_paragraphs(a)[1].text.replace(" ", f" {words} ", 1)
    return site.edit(id_, blocks=list(a.blocks))


def hooks(receiver: Receiver, path: str) -> list[Request]:
    return [r for r in receiver.requests if r.path == path]


def article_of(request: Request) -> str:
    return request.json["article_id"]


# ---------------------------------------------------------------- a crawl, subscriptions and their filters

def test_a_crawl_notifies_each_subscription_of_what_it_asked_for(site: FakeSite, receiver: Receiver,
                                                                 newsmon: Newsmon, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL: the outbox and the claims are plain SQL on both."""
    cfg = config(tmp_path / "c.toml", site, f"""
[notify.everything]
webhook = "{receiver.url('/all')}"
secret = "{SECRET}"
events = ["change", "gone"]

[notify.headlines]
webhook = "{receiver.url('/titles')}"
fields = ["title"]

[notify.silent]
urls = ["json://127.0.0.1:{receiver.port}/silent"]
silent_only = true
""", extra='public_url = "https://newsmon.example.org/"')
    newsmon.crawl_config(cfg)
    assert receiver.requests == []            # new articles are no change

    edit_title(site, TITLE_EDITED)            # announced: the update date moves
    edit_body(site, SILENT_BODY)              # silent
    site.edit(GONE, status=410)
    site.rotate_noise()                       # chrome changes are nobody's business
    out = newsmon.crawl_config(cfg, "--all")
    assert "notified: 5 message(s) sent" in out     # 3 + 1 + 1

    everything = hooks(receiver, "/all")
    assert sorted((r.json["event"], article_of(r)) for r in everything) == sorted(
        [("change", str(TITLE_EDITED)), ("change", str(SILENT_BODY)), ("gone", str(GONE))])
    for request in everything:
        signature = request.header("X-Newsmon-Signature")
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert signature == expected
        assert request.header("X-Newsmon-Delivery")
    silent_change = next(r.json for r in everything if article_of(r) == str(SILENT_BODY))
    assert silent_change["kind"] == "silent" and silent_change["fields"] == ["body"]
    inserted = [s["text"] for d in silent_change["diff"] for s in d["segments"] if s["op"] == "+"]
    assert any("vraiment" in text for text in inserted)
    assert silent_change["link"] == (f"https://newsmon.example.org/articles/lepetitjournal/{SILENT_BODY}"
                                     f"/diff?from=1&to=2")

    [title] = hooks(receiver, "/titles")      # no signature without a secret
    assert (title.json["kind"], article_of(title), title.header("X-Newsmon-Signature")) == (
        "announced", str(TITLE_EDITED), None)
    assert "(mis à jour)" in title.json["title"]

    [silent] = hooks(receiver, "/silent")     # through Apprise: its JSON notifier's title and message
    assert silent.json["title"].startswith("[silent edit]")
    assert "{+vraiment" in silent.json["message"]               # the changed words, marked

    status = newsmon.json("notify", "status", "--config", str(cfg), "--json")
    assert {s["name"]: (s["pending"], s["sent"], s["failed"]) for s in status} == {
        "everything": (0, 3, 0), "headlines": (0, 1, 0), "silent": (0, 1, 0)}

    # Nothing new: nothing sent again, by a crawl or by `notify send`.
    receiver.clear()
    newsmon.crawl_config(cfg, "--all")
    newsmon.run("notify", "send", "--config", str(cfg))
    assert receiver.requests == []


def test_a_headline_flipping_back_is_told_once_unless_asked(site: FakeSite, receiver: Receiver,
                                                             newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    """A -> B -> A -> B: the first change is news; going back to a headline already seen is not, unless the
    subscription asks for reverts."""
    cfg = config(tmp_path / "c.toml", site, f"""
[notify.once]
webhook = "{receiver.url('/once')}"

[notify.every]
webhook = "{receiver.url('/every')}"
reverts = true
""")
    newsmon_sqlite.crawl_config(cfg)
    first = site.article(QUIET).title
    for title in ("Un titre essayé contre l'autre", first, "Un titre essayé contre l'autre"):
        site.edit(QUIET, title=title)
        newsmon_sqlite.crawl_config(cfg, "--all")
    assert [r.json["to_version"] for r in hooks(receiver, "/once")] == [2]
    every = hooks(receiver, "/every")
    assert [(r.json["to_version"], r.json["reverts_to"]) for r in every] == [(2, None), (3, 1), (4, 2)]


def test_min_words_and_digests(site: FakeSite, receiver: Receiver, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    cfg = config(tmp_path / "c.toml", site, f"""
[notify.big]
webhook = "{receiver.url('/big')}"
min_words = 3

[notify.daily]
webhook = "{receiver.url('/digest')}"
digest = "2s"
""")
    newsmon_sqlite.crawl_config(cfg)
    edit_body(site, SILENT_BODY, "vraiment")                   # one word
    edit_body(site, QUIET, "tout à fait très")                 # four words
    newsmon_sqlite.crawl_config(cfg, "--all")
    assert [article_of(r) for r in hooks(receiver, "/big")] == [str(QUIET)]
    assert hooks(receiver, "/digest") == []                    # the period is not over
    time.sleep(2.1)
    newsmon_sqlite.run("notify", "send", "--config", str(cfg))
    [digest] = hooks(receiver, "/digest")
    assert digest.json["event"] == "digest"
    assert sorted(n["article_id"] for n in digest.json["notices"]) == sorted([str(SILENT_BODY), str(QUIET)])


# ---------------------------------------------------------------- delivered once, whatever fails

def test_a_failing_receiver_gets_each_message_once_when_it_recovers(site: FakeSite, receiver: Receiver,
                                                                    newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    cfg = config(tmp_path / "c.toml", site, f"""
[notify.hook]
webhook = "{receiver.url()}"
retry = "1s"
""")
    newsmon_sqlite.crawl_config(cfg)
    edit_body(site, SILENT_BODY)
    edit_body(site, QUIET)
    receiver.fail_next(1, status=503)
    proc = newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(cfg), "--all", check=False)
    assert proc.returncode == 0                                # a dead channel fails no crawl
    assert "notification not delivered" in proc.stderr and "503" in proc.stderr
    status = newsmon_sqlite.json("notify", "status", "--config", str(cfg), "--json")
    assert (status[0]["pending"], status[0]["sent"]) == (2, 0)   # the second waits behind the first, in order
    time.sleep(1.1)                                              # the back-off
    for _ in range(3):
        newsmon_sqlite.run("notify", "send", "--config", str(cfg))
    delivered = [r for r in receiver.requests if r.status == 200]
    assert sorted(article_of(r) for r in delivered) == sorted([str(SILENT_BODY), str(QUIET)])
    status = newsmon_sqlite.json("notify", "status", "--config", str(cfg), "--json")
    assert (status[0]["pending"], status[0]["sent"], status[0]["failed"]) == (0, 2, 0)


def test_a_daemon_killed_before_delivering_delivers_after_restart_without_repeating(
        site: FakeSite, newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    receiver = Receiver()                                        # not listening yet: deliveries fail
    receiver.start()
    receiver.stop()
    cfg = config(tmp_path / "d.toml", site, f"""
[notify.hook]
webhook = "{receiver.url()}"
retry = "1s"
{FAST_POLICY.format(every="1s")}""", extra='tick = "0.5s"\nshutdown_timeout = "5s"')
    newsmon_sqlite.crawl_config(cfg)
    edit_body(site, SILENT_BODY)
    daemon = DaemonProcess(newsmon_sqlite, cfg, tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: count(newsmon_sqlite.db, Delivery) >= 1, 60, "the change's delivery to be queued")
        wait_for(lambda: "notify hook" in (tmp_path / "daemon.log").read_text(), 30, "a failed delivery")
        daemon.stop(signal.SIGKILL)
        receiver.start()
        daemon = DaemonProcess(newsmon_sqlite, cfg, tmp_path / "daemon.log").start()
        [first] = receiver.wait_for(1, timeout=60)
        assert article_of(first) == str(SILENT_BODY)
        edit_body(site, QUIET)                                   # one more, once the first went out
        receiver.wait_for(2, timeout=60)
        daemon.stop(signal.SIGKILL)
        daemon = DaemonProcess(newsmon_sqlite, cfg, tmp_path / "daemon.log").start()
        time.sleep(3)                                            # several rounds of the restarted daemon
    finally:
        daemon.stop(signal.SIGTERM)
        receiver.stop()
    assert sorted(article_of(r) for r in receiver.requests) == sorted([str(SILENT_BODY), str(QUIET)])
    assert len({r.header("X-Newsmon-Delivery") for r in receiver.requests}) == 2


# ---------------------------------------------------------------- alerts about newsmon itself

def test_a_site_down_for_ten_crawls_gives_one_alert_and_one_recovery(site: FakeSite, receiver: Receiver,
                                                                     newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    ops = f"""
[notify.ops]
webhook = "{receiver.url('/ops')}"
errors = true
events = []
"""
    live = config(tmp_path / "live.toml", site, ops)
    newsmon_sqlite.crawl_config(live)
    closed = socket.socket()                        # a port nothing answers on: the site is down
    closed.bind(("127.0.0.1", 0))
    down = tmp_path / "down.toml"
    down.write_text(live.read_text().replace(site.base_url, f"http://127.0.0.1:{closed.getsockname()[1]}"))
    try:
        for _ in range(10):
            proc = newsmon_sqlite.run("crawl", "lepetitjournal", "--config", str(down), "--all", check=False)
            assert proc.returncode == 1 and "never answered" in proc.stderr
    finally:
        closed.close()
    [alert] = hooks(receiver, "/ops")
    assert (alert.json["event"], alert.json["site"]) == ("alert", "lepetitjournal")
    assert "never answered" in alert.json["detail"]
    newsmon_sqlite.crawl_config(live, "--all")
    newsmon_sqlite.crawl_config(live, "--all")
    assert [r.json["event"] for r in hooks(receiver, "/ops")] == ["alert", "recovered"]


# ---------------------------------------------------------------- bad configs, and `notify test`

@pytest.mark.parametrize(("table", "names"), [
    ('urls = ["nosuchservice://x"]', ("notify.n.urls", "Apprise")),
    ('webhook = "ftp://example.org/x"', ("notify.n.webhook",)),
    ('urls = ["json://127.0.0.1/x"]\nsecret = "x"', ("notify.n.secret",)),
    ('urls = ["json://127.0.0.1/x"]\nsites = ["elsewhere"]', ("notify.n.sites", "elsewhere")),
    ('urls = ["json://127.0.0.1/x"]\nfields = ["headline"]', ("notify.n.fields", "headline")),
    ('urls = ["json://127.0.0.1/x"]\ndigest = "soon"', ("notify.n.digest",)),
    ('urls = ["json://127.0.0.1/x"]\nsilent = true', ("notify.n.silent", "unknown key")),
    ('urls = ["json://127.0.0.1/x"]\nreverts = "yes"', ("notify.n.reverts", "true or false")),
    ('urls = ["json://127.0.0.1/x"]\nrevert = true', ("notify.n.revert", "unknown key")),
    ("", ("notify.n.urls",)),
])
def test_a_bad_subscription_is_one_line_naming_the_key_and_the_file(table: str, names: tuple[str, ...],
                                                                     site: FakeSite, newsmon_sqlite: Newsmon,
                                                                     tmp_path: Path) -> None:
    cfg = config(tmp_path / "bad.toml", site, f"[notify.n]\n{table}\n")
    for args in (("crawl", "lepetitjournal", "--config", str(cfg)), ("notify", "status", "--config", str(cfg))):
        assert_bad_input(newsmon_sqlite.run(*args, check=False), str(cfg), *names)
    assert site.requests == []                                   # refused before anything started


def test_notify_test_sends_to_every_target_and_says_which_failed(site: FakeSite, receiver: Receiver,
                                                                 newsmon_sqlite: Newsmon, tmp_path: Path) -> None:
    cfg = config(tmp_path / "c.toml", site, f"""
[notify.n]
urls = ["json://127.0.0.1:{receiver.port}/apprise"]
webhook = "{receiver.url('/hook')}"
""")
    proc = newsmon_sqlite.run("notify", "test", "n", "--config", str(cfg))
    assert sorted(r.path for r in receiver.wait_for(2)) == ["/apprise", "/hook"]
    assert proc.stdout.count("sent") == 2
    receiver.fail_next(2, status=500)
    proc = newsmon_sqlite.run("notify", "test", "n", "--config", str(cfg), check=False)
    assert proc.returncode == 1 and proc.stdout.count("FAILED") == 2
    assert_bad_input(newsmon_sqlite.run("notify", "test", "nobody", "--config", str(cfg), check=False), "nobody")
