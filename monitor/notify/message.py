"""What a notification says: the article, the kind of change, the fields, and the changed words themselves
with a little context around each, in full for mail and webhooks, shortened to fit a chat service. Pure.

Plain text marks words as `git diff --word-diff` does: [-removed-] and {+added+}, and moved text as
`newsmon diff` does, [<where it stood<] and {>where it stands now>}, shortened to its ends; the webhook's JSON
body carries the diff as segments (the same form as `newsmon diff --json`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from monitor.compare.diffing import EQUAL, MOVED_FROM, MOVED_TO, FieldDiff
from monitor.iso import to_iso
from monitor.notify.notice import Notice
from monitor.report.labels import FIELD_LABELS, change_kind, field_list, kind_label
from monitor.report.terminal import diff_as_json, marked

CONTEXT_WORDS = 8          # words of unchanged text shown on each side of a change
ALERT_TITLES = {"alert": "newsmon: trouble with {site}", "recovered": "newsmon: {site} is back to normal"}
EVENT_TITLES = {"gone": "Article gone", "republished": "Article back online"}


@dataclass(frozen=True, slots=True)
class Message:
    title: str                       # one line
    body: str                        # plain text, complete (mail, webhook)
    payload: dict[str, Any] = field(default_factory=dict)   # the webhook's JSON body


def article_link(public_url: str | None, notice: Notice) -> str | None:
    """The change's page in `newsmon serve`, when its public address is configured."""
    if not public_url or notice.article_id is None:
        return None
    page = f"{public_url.rstrip('/')}/articles/{quote(notice.site, safe='')}/{quote(notice.article_id, safe='')}"
    if notice.kind == "change" and notice.from_version and notice.to_version:
        return f"{page}/diff?from={notice.from_version}&to={notice.to_version}"
    return page


def render(notice: Notice, *, public_url: str | None = None, limit: int | None = None) -> Message:
    """One notice as one message; `limit`: the most characters the service takes in a message's body."""
    link = article_link(public_url, notice)
    head = headline(notice)
    lines = [line for line in (summary(notice), notice.url, link and f"Diff: {link}") if line]
    text = "\n".join(lines)
    hunks = [hunk for diff in notice.diffs for hunk in diff_hunks(diff)]
    body = fit(text, hunks, limit)
    return Message(title=head, body=body, payload=payload(notice, link))


def render_digest(name: str, notices: Sequence[Notice], *, public_url: str | None = None,
                  limit: int | None = None) -> Message:
    """Several notices in one message, oldest first; each as its summary and link, then its changed words
    while the service's limit allows."""
    changes = sum(1 for n in notices if n.kind == "change")
    title = f"newsmon digest ({name}): {changes} change{'s' * (changes != 1)}" + (
        f", {len(notices) - changes} other event{'s' * (len(notices) - changes != 1)}" if len(notices) > changes else "")
    parts: list[str] = []
    for notice in notices:
        link = article_link(public_url, notice)
        lines = [f"• {headline(notice)}", summary(notice), notice.url or "", link and f"Diff: {link}" or ""]
        parts.append("\n".join(line for line in lines if line))
    body = "\n\n".join(parts)
    if limit is None:
        details = [f"{headline(n)}\n" + "\n".join(diff_hunks_text(n.diffs)) for n in notices if n.diffs]
        body = "\n\n".join([body, *details]) if details else body
    else:
        body = shorten(body, limit)
    return Message(title=title, body=body, payload={
        "event": "digest", "subscription": name,
        "notices": [payload(n, article_link(public_url, n)) for n in notices]})


def headline(notice: Notice) -> str:
    if notice.kind in ALERT_TITLES:
        return ALERT_TITLES[notice.kind].format(site=notice.site)
    where = ", ".join(p for p in (notice.site, notice.edition) if p)
    if notice.kind == "change":
        label = kind_label(notice.text_changed, notice.announced, notice.fields)
        return f"[{label}] {notice.title} ({where})"
    return f"[{EVENT_TITLES[notice.kind].lower()}] {notice.title or notice.url} ({where})"


def summary(notice: Notice) -> str:
    """One line: what happened, when."""
    at = notice.at.strftime("%Y-%m-%d %H:%M UTC")
    if notice.kind in ALERT_TITLES:
        return f"{notice.detail} (since {at})" if notice.kind == "alert" else f"{notice.detail} ({at})"
    if notice.kind != "change":
        detail = f" ({notice.detail})" if notice.detail else ""
        return f"{EVENT_TITLES[notice.kind]}{detail}, seen {at}"
    kind = kind_label(notice.text_changed, notice.announced, notice.fields).capitalize()
    moved = f", {notice.moved_words} moved" if notice.moved_words else ""
    kinds = f" ({', '.join(notice.kinds)})" if notice.kinds else ""
    kinds += f", back to the text of v{notice.reverts_to}" if notice.reverts_to else ""
    return (f"{kind}: {field_list(list(notice.fields))}{kinds} · +{notice.added_words} −{notice.removed_words} words"
            f"{moved} · v{notice.from_version} → v{notice.to_version}, seen {at}")


def payload(notice: Notice, link: str | None) -> dict[str, Any]:
    """The webhook's JSON body for one notice (README, "Webhooks")."""
    record: dict[str, Any] = {"event": notice.kind, "id": notice.id, "site": notice.site, "at": to_iso(notice.at)}
    if notice.kind in ALERT_TITLES:
        return record | {"detail": notice.detail}
    record |= {"article_id": notice.article_id, "url": notice.url, "title": notice.title, "edition": notice.edition,
               "published": to_iso(notice.published), "link": link}
    if notice.kind != "change":
        return record | {"detail": notice.detail}
    return record | {
        "kind": change_kind(notice.text_changed, notice.announced, notice.fields), "fields": list(notice.fields),
        "from_version": notice.from_version, "to_version": notice.to_version,
        "added_words": notice.added_words, "removed_words": notice.removed_words, "moved_words": notice.moved_words,
        "kinds": list(notice.kinds), "reverts_to": notice.reverts_to, "diff": diff_as_json(list(notice.diffs))}


# ---------------------------------------------------------------- the changed words

def diff_hunks(diff: FieldDiff) -> list[str]:
    """Each run of changes in a field, with CONTEXT_WORDS words of unchanged text around it:
    "title: … the mayor [-said-] {+denied+} on Monday …"."""
    segments = diff.segments
    changed = [i for i, s in enumerate(segments) if s.op != EQUAL]
    hunks: list[str] = []
    label = FIELD_LABELS.get(diff.field, diff.field)
    i = 0
    while i < len(changed):
        start = end = changed[i]
        # Changes separated by a short unchanged stretch read as one hunk.
        while i + 1 < len(changed) and _words(segments, end + 1, changed[i + 1]) <= 2 * CONTEXT_WORDS:
            i += 1
            end = changed[i]
        before = _context(segments[start - 1].text, tail=True) if start > 0 and segments[start - 1].op == EQUAL else ""
        after = (_context(segments[end + 1].text, tail=False)
                 if end + 1 < len(segments) and segments[end + 1].op == EQUAL else "")
        middle = "".join(_marked(s.op, s.text) for s in segments[start:end + 1])
        hunks.append(f"{label}: {before}{middle}{after}".strip())
        i += 1
    return hunks


def diff_hunks_text(diffs: Sequence[FieldDiff]) -> list[str]:
    return [hunk for diff in diffs for hunk in diff_hunks(diff)]


def _words(segments, start: int, end: int) -> int:
    return sum(len(s.text.split()) for s in segments[start:end])


def _marked(op: str, text: str) -> str:
    text = text.replace("\n\n", " ¶ ")
    if op in (MOVED_FROM, MOVED_TO):   # the text itself is no news: its ends say which it is
        words = text.split(" ")
        if len(words) > 2 * CONTEXT_WORDS:
            text = " ".join([*words[:CONTEXT_WORDS], "…", *words[-CONTEXT_WORDS:]])
    return marked(op, text)


def _context(text: str, *, tail: bool) -> str:
    """The words of unchanged text nearest the change, cut at a paragraph break."""
    if tail:
        text = text.rsplit("\n\n", 1)[-1]
        words = text.split(" ")
        kept = " ".join(words[-CONTEXT_WORDS - 1:])
        return ("… " if len(words) > CONTEXT_WORDS + 1 else "") + kept
    text = text.split("\n\n", 1)[0]
    words = text.split(" ")
    kept = " ".join(words[:CONTEXT_WORDS + 1])
    return kept + (" …" if len(words) > CONTEXT_WORDS + 1 else "")


def fit(text: str, hunks: list[str], limit: int | None) -> str:
    """The summary, then as many whole hunks as the limit allows, saying how many were left out."""
    if not hunks:
        return shorten(text, limit) if limit else text
    parts = [text, ""]
    for n, hunk in enumerate(hunks):
        rest = len(hunks) - n
        candidate = "\n".join([*parts, hunk])
        if limit is not None and len(candidate) + len(_more(rest - 1)) > limit:
            parts.append(_more(rest))
            return shorten("\n".join(parts), limit)
        parts.append(hunk)
    return "\n".join(parts)


def _more(count: int) -> str:
    return f"… and {count} more change{'s' * (count != 1)}" if count else ""


def shorten(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"
