"""Sending one message to one target, once: an Apprise URL (mail, chat, push: whatever apprise knows) or a
webhook (a JSON POST, signed when the target has a secret).

No database and no Scrapy here. The caller decides what to send, to whom and when to try again; `send`
only makes one attempt and, when it fails, raises DeliveryError saying why in one line.

For receivers of webhooks: every POST carries

    Content-Type: application/json             the body is json.dumps(payload), UTF-8
    User-Agent: newsmon
    X-Newsmon-Delivery: <id>                   the same id on every attempt of one delivery: drop repeats
    X-Newsmon-Signature: sha256=<hex>          only when the target has a secret: HMAC-SHA256 of the exact
                                               body bytes, keyed with the secret (see verify_signature)
"""
from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import http.client
import json
import logging
import math
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import apprise

from monitor.notify.message import Message
from monitor.urlcheck import url_problem
from monitor.notify.subscriptions import Target

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "USER_AGENT", "DeliveryError", "body_limit", "send",
           "sign", "target_problem", "verify_signature"]

USER_AGENT = "newsmon"
DELIVERY_HEADER = "X-Newsmon-Delivery"
SIGNATURE_HEADER = "X-Newsmon-Signature"
# A service whose messages are shorter than this is a chat or push service: the caller shortens the diff to
# fit rather than let the service refuse it (apprise passes long bodies on as they are) or cut it blindly.
SHORT_BODY_LIMIT = 10_000
# The room body_limit keeps for a title it is not told (apprise's own default limit of a title's length).
TITLE_ROOM = 250
# How long past its timeout a delivery may still finish before it is given up: time for the socket timeout,
# which fires first, to come back as an error that names the cause.
GRACE = 1.0
# How much of a webhook receiver's error answer is quoted in the DeliveryError.
QUOTED_ANSWER = 200
APPRISE_PROBLEM = "not an Apprise URL apprise can use"


class DeliveryError(Exception):
    """One attempt to deliver failed. The message says why in one line: an HTTP status, a refused connection,
    a timeout, apprise's own reason (apprise hides the tokens and passwords of the URLs it quotes)."""


# -- checking a target --------------------------------------------------------------------------------------


def target_problem(target: Target) -> str | None:
    """Why `target` cannot be used, or None. Reads the URL only: nothing is sent, nothing is resolved."""
    if target.kind == "apprise":
        if target.secret is not None:
            return "a secret signs webhooks only: an Apprise URL takes none"
        plugin, reasons = _instantiate(target.url)
        return None if plugin is not None else f"{APPRISE_PROBLEM}: {_reason(reasons)}"
    if target.kind == "webhook":
        if target.secret is not None and not target.secret:
            return "an empty secret signs nothing: give one, or none"
        return (problem := url_problem(target.url)) and f"a webhook {problem}"
    return f"unknown kind of target {target.kind!r} (apprise or webhook)"


def body_limit(target: Target, *, title: str | None = None) -> int | None:
    """How many characters of body the target's service takes, when it is a short limit (chat, push, SMS);
    None for mail, webhooks and long-form services, and for a target that cannot be used (target_problem).

    Services without a title of their own (Telegram) put it at the top of the body, and some (Discord, ntfy)
    count title and body together: there the title takes room from the body. Give the message's `title` to
    have the room it needs kept; without it, room for a title of TITLE_ROOM characters is kept."""
    if target.kind != "apprise":
        return None
    plugin, _ = _instantiate(target.url)
    if plugin is None:
        return None
    limit = plugin.body_maxlen
    if not isinstance(limit, int) or not 0 < limit < SHORT_BODY_LIMIT:
        return None
    if plugin.title_maxlen <= 0 or getattr(plugin, "overflow_amalgamate_title", False):
        title_length = TITLE_ROOM if title is None else len(title)
        limit -= title_length + 2 if title_length else 0  # apprise joins them with "\r\n"
    return max(limit, 0)


# -- sending ------------------------------------------------------------------------------------------------


def send(target: Target, message: Message, *, delivery_id: str, timeout: float) -> None:
    """Deliver `message` to `target` once, within about `timeout` seconds; DeliveryError if it fails.

    `delivery_id` names the delivery, the same on every attempt (webhooks send it as X-Newsmon-Delivery).
    A delivery still running when the time is up is abandoned, not stopped: its sockets' own timeouts end it
    soon after, and it may still arrive; a receiver tells the repeat by its delivery id."""
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if (problem := target_problem(target)) is not None:
        raise DeliveryError(problem)
    if target.kind == "webhook":
        _within(timeout, lambda: _post_webhook(target, message, delivery_id=delivery_id, timeout=timeout))
    else:
        _within(timeout, lambda: _notify_apprise(target, message, timeout=timeout))


def _within(timeout: float, deliver: Callable[[], None]) -> None:
    """Run `deliver` in a thread of its own and wait for it at most `timeout` (and GRACE): socket timeouts
    bound each connection, not a plugin that makes several requests or a server that answers a byte a second."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            deliver()
        except BaseException as exc:  # noqa: BLE001 -- raised again in the caller's thread, below
            failure.append(exc)

    worker = threading.Thread(target=run, name="newsmon-delivery", daemon=True)
    worker.start()
    worker.join(timeout + GRACE)
    if worker.is_alive():
        raise DeliveryError(f"no answer within {timeout:g} s")
    if failure:
        raise failure[0]


# -- webhooks -----------------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The X-Newsmon-Signature of `body`: "sha256=" and the hex HMAC-SHA256 of its bytes keyed with `secret`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """For a webhook's receiver: whether `header` (the X-Newsmon-Signature it got) is the signature of `body`
    (the exact bytes received, before any JSON parsing) with the `secret` both sides share. Compared in
    constant time, so that the answer's timing does not give the signature away."""
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx comes back as an HTTPError: a webhook that moved is a failure naming the new place, rather than
    a signed payload handed, unseen, to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _post_webhook(target: Target, message: Message, *, delivery_id: str, timeout: float) -> None:
    body = json.dumps(message.payload, ensure_ascii=False).encode("utf-8")
    url, headers = _without_credentials(target.url)
    headers |= {"Content-Type": "application/json", "User-Agent": USER_AGENT, DELIVERY_HEADER: delivery_id}
    if target.secret is not None:
        headers[SIGNATURE_HEADER] = sign(target.secret, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            raise DeliveryError(_http_failure(exc)) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(_network_failure(exc.reason, timeout)) from None
    except (OSError, http.client.HTTPException) as exc:  # while reading the answer: timeout, reset, garbage
        raise DeliveryError(_network_failure(exc, timeout)) from None


def _without_credentials(url: str) -> tuple[str, dict[str, str]]:
    """A URL with user:password@ becomes the URL without them and an Authorization header (urllib would
    otherwise take them for part of the host)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    host = parts.netloc.rpartition("@")[2]
    authorization = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": authorization}


def _http_failure(exc: urllib.error.HTTPError) -> str:
    if 300 <= exc.code < 400:
        location = exc.headers.get("Location") or "nowhere"
        return f"HTTP {exc.code} {exc.reason}, redirected to {location}: not followed (give the final URL)"
    try:
        answer = exc.read(QUOTED_ANSWER).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        answer = ""
    answer = _one_line(answer)
    return f"HTTP {exc.code} {exc.reason}" + (f": {answer}" if answer else "")


def _network_failure(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError since Python 3.10
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"host not found ({reason.strerror})"
    if isinstance(reason, OSError) and reason.strerror:
        return _one_line(reason.strerror)
    return _one_line(str(reason)) or type(reason).__name__


# -- apprise ------------------------------------------------------------------------------------------------

# Apprise reports why it failed only in its log. Each call here collects the warnings and errors it causes in
# a list of its own, found through a context variable: apprise 2 runs a service in its worker threads with a
# copy of the caller's context, apprise 1 in the caller's thread, so deliveries running at the same time in
# other threads do not mix their reasons (which apprise.LogCapture, one buffer per logger, would).
_reasons: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("newsmon_apprise_reasons",
                                                                             default=None)


class _ReasonCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        reasons = _reasons.get()
        if reasons is not None:
            reasons.append(record.getMessage())


logging.getLogger("apprise").addHandler(_ReasonCollector())


@contextmanager
def _apprise_reasons() -> Iterator[list[str]]:
    reasons: list[str] = []
    token = _reasons.set(reasons)
    try:
        yield reasons
    finally:
        _reasons.reset(token)


def _instantiate(url: str) -> tuple[apprise.plugins.NotifyBase | None, list[str]]:
    """Apprise's plugin for `url` (None if it has none, or cannot build one from it) and what apprise said."""
    with _apprise_reasons() as reasons:
        plugin = apprise.Apprise.instantiate(url)
    return plugin, reasons


def _notify_apprise(target: Target, message: Message, *, timeout: float) -> None:
    plugin, reasons = _instantiate(_with_socket_timeouts(target.url, timeout))
    if plugin is None:
        raise DeliveryError(f"{APPRISE_PROBLEM}: {_reason(reasons)}")
    notifier = apprise.Apprise()
    notifier.add(plugin)
    with _apprise_reasons() as reasons:
        try:
            delivered = notifier.notify(body=message.body, title=message.title,
                                        body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # a plugin's bug must fail this delivery, not the daemon that sends it
            raise DeliveryError(f"{plugin.service_name}: {type(exc).__name__}: {_one_line(str(exc))}") from exc
    if not delivered:
        raise DeliveryError(f"{plugin.service_name}: {_reason(reasons)}")


def _with_socket_timeouts(url: str, timeout: float) -> str:
    """`url` with apprise's connect and read timeouts (cto, rto) set to `timeout` where it sets none itself.
    Apprise reads its parameters after the first "?", wherever it is (a "#channel" may come before)."""
    given = {key.lower() for key, _ in parse_qsl(url.partition("?")[2], keep_blank_values=True)}
    missing = [f"{key}={timeout:g}" for key in ("cto", "rto") if key not in given]
    if not missing:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(missing)


def _reason(reasons: list[str]) -> str:
    """What apprise said, once each, on one line; or that it said nothing (its log level hides it)."""
    said = "; ".join(dict.fromkeys(r.strip().rstrip(".") for r in reasons if r.strip()))
    return _one_line(said) or "apprise gave no reason"


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
