"""Sending one message to one target (monitor/notify/channels.py), over real HTTP on 127.0.0.1: webhooks and
apprise's own JSON and form notifiers deliver to tests/receiver.py."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.notify.channels import (
    GRACE,
    TITLE_ROOM,
    DeliveryError,
    _with_socket_timeouts,
    body_limit,
    send,
    target_problem,
    verify_signature,
)
from monitor.notify.message import Message
from monitor.notify.subscriptions import Target
from tests.conftest import ROOT, wait_for
from tests.receiver import Receiver

MESSAGE = Message(title="Article modifié : « Élections à Phnom Penh »",
                  body="- ancien paragraphe\n+ nouveau paragraphe, 12 mots de plus",
                  payload={"article": {"url": "https://example.org/a/1", "title": "Élections"}, "version": 3,
                           "words": {"added": 12, "removed": 0}})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any DNS lookup or connection fails the test: what runs under it must only read URLs."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("touched the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def webhook(receiver: Receiver, secret: str | None = None) -> Target:
    return Target("webhook", receiver.url(), secret)


def failure(target: Target, timeout: float = 3.0) -> str:
    with pytest.raises(DeliveryError) as raised:
        send(target, MESSAGE, delivery_id="d-1", timeout=timeout)
    return str(raised.value)


# -- webhooks -----------------------------------------------------------------------------------------------


def test_webhook_posts_the_payload_as_json_with_a_signature_the_secret_verifies(receiver: Receiver) -> None:
    send(webhook(receiver, "s3cret"), MESSAGE, delivery_id="delivery-42", timeout=3)
    [request] = receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/hook"
    assert request.body == json.dumps(MESSAGE.payload, ensure_ascii=False).encode("utf-8")
    assert request.json == MESSAGE.payload
    assert request.header("Content-Type") == "application/json"
    assert request.header("User-Agent") == "newsmon"
    assert request.header("X-Newsmon-Delivery") == "delivery-42"
    signature = request.header("X-Newsmon-Signature")
    assert signature == "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert verify_signature("s3cret", request.body, signature)
    assert not verify_signature("another secret", request.body, signature)
    assert not verify_signature("s3cret", request.body + b" ", signature)
    assert not verify_signature("s3cret", request.body, "sha256=" + "0" * 64)
    assert not verify_signature("s3cret", request.body, "")


def test_webhook_without_a_secret_is_not_signed(receiver: Receiver) -> None:
    send(webhook(receiver), MESSAGE, delivery_id="d-7", timeout=3)
    [request] = receiver.wait_for(1)
    assert request.header("X-Newsmon-Signature") is None
    assert request.header("X-Newsmon-Delivery") == "d-7"
    assert request.json == MESSAGE.payload


def test_webhook_error_status_is_a_failure_naming_it(receiver: Receiver) -> None:
    receiver.fail_next(1, status=500)
    assert failure(webhook(receiver)) == "HTTP 500 Internal Server Error"
    receiver.answer_next(status=401, body=b"bad\nsignature")
    assert failure(webhook(receiver)) == "HTTP 401 Unauthorized: bad signature"  # the receiver's word, one line
    send(webhook(receiver), MESSAGE, delivery_id="d-1", timeout=3)  # answers 200 again
    assert [r.status for r in receiver.wait_for(3)] == [500, 401, 200]


def test_webhook_redirect_is_a_failure_naming_the_location_and_not_followed(receiver: Receiver) -> None:
    receiver.answer_next(status=308, headers={"Location": receiver.url("/moved")})
    assert receiver.url("/moved") in failure(webhook(receiver))
    time.sleep(0.3)
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_webhook_refused_connection_is_a_failure() -> None:
    assert failure(Target("webhook", f"http://127.0.0.1:{closed_port()}/hook")) == "connection refused"


def test_webhook_to_a_receiver_that_is_down_then_back(receiver: Receiver) -> None:
    receiver.stop()
    assert failure(webhook(receiver)) == "connection refused"
    receiver.start()
    send(webhook(receiver), MESSAGE, delivery_id="d-1", timeout=3)
    assert len(receiver.wait_for(1)) == 1


def test_webhook_slower_than_the_timeout_fails_within_about_the_timeout(receiver: Receiver) -> None:
    receiver.answer_next(delay=5)
    started = time.monotonic()
    assert failure(webhook(receiver), timeout=0.5) == "no answer within 0.5 s"
    assert time.monotonic() - started < 0.5 + GRACE


def test_webhook_credentials_in_the_url_are_sent_as_basic_auth(receiver: Receiver) -> None:
    send(Target("webhook", f"http://news%40mon:p%3Ass@127.0.0.1:{receiver.port}/hook"), MESSAGE,
         delivery_id="d-1", timeout=3)
    [request] = receiver.wait_for(1)
    assert request.header("Authorization") == "Basic bmV3c0Btb246cDpzcw=="  # base64 of "news@mon:p:ss"
    assert request.header("Host") == f"127.0.0.1:{receiver.port}"


# -- apprise ------------------------------------------------------------------------------------------------


def test_apprise_json_notifier_delivers_title_and_body(receiver: Receiver) -> None:
    send(Target("apprise", f"json://127.0.0.1:{receiver.port}/notify"), MESSAGE, delivery_id="d-1", timeout=3)
    [request] = receiver.wait_for(1)
    assert request.method == "POST" and request.path == "/notify"
    # apprise's JSON notifier: {"version", "title", "message", "attachments", "type"}
    assert request.json["title"] == MESSAGE.title
    assert request.json["message"] == MESSAGE.body
    assert request.json["type"] == "info"


def test_apprise_form_notifier_delivers_title_and_body(receiver: Receiver) -> None:
    send(Target("apprise", f"form://127.0.0.1:{receiver.port}/notify"), MESSAGE, delivery_id="d-1", timeout=3)
    [request] = receiver.wait_for(1)
    # apprise's form notifier: fields version, title, message, type (urlencoded without attachments)
    assert request.form is not None
    assert request.form["title"] == MESSAGE.title
    assert request.form["message"] == MESSAGE.body


def test_apprise_failure_gives_apprises_reason(receiver: Receiver) -> None:
    receiver.fail_next(1, status=500)
    reason = failure(Target("apprise", f"json://127.0.0.1:{receiver.port}/notify"))
    assert reason.startswith("JSON: ") and "500" in reason
    assert "Connection error" in failure(Target("apprise", f"json://127.0.0.1:{closed_port()}/notify"))


def test_apprise_slower_than_the_timeout_fails_within_about_the_timeout(receiver: Receiver) -> None:
    target = Target("apprise", f"json://127.0.0.1:{receiver.port}/notify")
    assert target_problem(target) is None  # apprise loads its plugins on first use: not part of the delivery
    receiver.answer_next(delay=5)
    started = time.monotonic()
    failure(target, timeout=0.5)
    assert time.monotonic() - started < 0.5 + GRACE


def test_apprise_reasons_of_deliveries_at_the_same_time_do_not_mix(receiver: Receiver) -> None:
    receiver.fail_next(1, status=503)
    targets = {"failing": Target("apprise", f"json://127.0.0.1:{receiver.port}/notify"),
               "refused": Target("apprise", f"form://127.0.0.1:{closed_port()}/notify")}
    reasons: dict[str, str] = {}

    def deliver(name: str) -> None:
        reasons[name] = failure(targets[name])

    threads = [threading.Thread(target=deliver, args=(name,)) for name in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "503" in reasons["failing"] and "Connection" not in reasons["failing"]
    assert "Connection error" in reasons["refused"] and "503" not in reasons["refused"]


def test_apprise_unusable_url_is_a_delivery_failure() -> None:
    assert failure(Target("apprise", "nosuchservice://x")).startswith("not an Apprise URL apprise can use: ")


def test_socket_timeouts_are_added_where_the_url_sets_none() -> None:
    assert _with_socket_timeouts("json://h/p", 2.5) == "json://h/p?cto=2.5&rto=2.5"
    assert _with_socket_timeouts("slack://a/b/c/#news?rto=9", 2) == "slack://a/b/c/#news?rto=9&cto=2"
    assert _with_socket_timeouts("json://h/p?CTO=1&rto=1", 2) == "json://h/p?CTO=1&rto=1"


# -- checking targets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["nosuchservice://x", "not a url", "", "json://", "mailto://", "tgram://bad",
                                 "https://example.org/hook"])
def test_unusable_apprise_url_is_a_problem(url: str, no_network: None) -> None:
    problem = target_problem(Target("apprise", url))
    assert problem is not None and problem.startswith("not an Apprise URL apprise can use: ")
    assert len(problem.splitlines()) == 1


@pytest.mark.parametrize("url", ["json://127.0.0.1:8080/hook", "form://example.org/x", "mailto://user:pass@example.org",
                                 "tgram://123456789:abcdefg_hijklmnop/123", "ntfy://topic",
                                 "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"])
def test_usable_apprise_url_is_no_problem_and_touches_no_network(url: str, no_network: None) -> None:
    assert target_problem(Target("apprise", url)) is None


@pytest.mark.parametrize(("target", "words"), [
    (Target("webhook", "ftp://x"), "http(s) URL with a host"),
    (Target("webhook", "https://"), "http(s) URL with a host"),
    (Target("webhook", "http://exa mple.org/x"), "spaces"),
    (Target("webhook", "http://[::1/x"), "http(s) URL with a host"),
    (Target("webhook", "http://example.org:99999/x"), "out of range"),
    (Target("webhook", "http://example.org:0/x"), "port 0"),
    (Target("webhook", "https://example.org/hook", secret=""), "empty secret"),
    (Target("apprise", "json://example.org/x", secret="s"), "webhooks only"),
    (Target("sms", "https://example.org/hook"), "unknown kind"),
])
def test_target_problems(target: Target, words: str, no_network: None) -> None:
    problem = target_problem(target)
    assert problem is not None and words in problem


def test_usable_webhook_is_no_problem(no_network: None) -> None:
    assert target_problem(Target("webhook", "https://example.org/hooks/newsmon?x=1", secret="s")) is None
    assert target_problem(Target("webhook", "http://127.0.0.1:8080/hook")) is None


# -- body limits --------------------------------------------------------------------------------------------


def test_body_limit_of_chat_services(no_network: None) -> None:
    # Telegram has no title of its own: apprise puts it at the top of the body, "\r\n" between them.
    telegram = Target("apprise", "tgram://123456789:abcdefg_hijklmnop/123")
    assert body_limit(telegram, title="Titre") == 4096 - len("Titre") - 2
    assert body_limit(telegram, title="") == 4096
    assert body_limit(telegram) == 4096 - TITLE_ROOM - 2  # a title not known yet: room for a long one
    # Discord counts title and body together.
    discord = Target("apprise", "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js")
    assert body_limit(discord, title="Titre") == 2000 - len("Titre") - 2
    # Pushover's title is apart from its body.
    pushover = Target("apprise", "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi")
    assert body_limit(pushover) == body_limit(pushover, title="Titre") == 1024


@pytest.mark.parametrize("target", [Target("apprise", "mailto://user:pass@example.org"),
                                    Target("apprise", "json://127.0.0.1:8080/hook"),
                                    Target("apprise", "nosuchservice://x"),
                                    Target("webhook", "https://example.org/hook")])
def test_no_body_limit_for_mail_webhooks_and_long_form(target: Target, no_network: None) -> None:
    assert body_limit(target) is None


# -- the receiver in a process of its own -------------------------------------------------------------------


def test_receiver_process_appends_each_request_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "requests.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "tests.receiver", "--out", str(out), "--fail-first", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        target = Target("webhook", url + "/hook", secret="k")
        with pytest.raises(DeliveryError, match="HTTP 500"):
            send(target, MESSAGE, delivery_id="d-1", timeout=3)
        send(target, MESSAGE, delivery_id="d-1", timeout=3)
        lines = wait_for(lambda: len(text := out.read_text().splitlines()) >= 2 and text, 10, "two lines")
    finally:
        process.terminate()
        process.wait(10)
    first, second = (json.loads(line) for line in lines)
    assert [first["status"], second["status"]] == [500, 200]
    assert second["json"] == MESSAGE.payload and second["headers"]["X-Newsmon-Delivery"] == "d-1"
    assert verify_signature("k", second["body"].encode("utf-8"), second["headers"]["X-Newsmon-Signature"])
