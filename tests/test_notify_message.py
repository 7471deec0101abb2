"""What a notification says, and who gets which: pure, no network, no database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.compare.diffing import diff_field
from monitor.notify.message import render, render_digest
from monitor.notify.notice import Notice
from monitor.notify.subscriptions import Subscription, Target

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
BODY = [f"Paragraphe {i} : le conseil municipal a voté la motion sur le port de pêche et ses quais." for i in range(12)]


def change(edited: list[int], **fields: object) -> Notice:
    new = [p.replace("la motion", "la motion amendée") if i in edited else p for i, p in enumerate(BODY)]
    diff = diff_field("body", BODY, new)
    values: dict = dict(id=7, kind="change", site="lepetitjournal", at=AT, article_id="431010",
                        url="https://example.org/cambodge/431010", title="Le port de pêche rouvre", edition="cambodge",
                        published=AT - timedelta(hours=3), fields=("body",), text_changed=True, announced=False,
                        added_words=diff.added_words, removed_words=diff.removed_words, from_version=1, to_version=2,
                        diffs=(diff,))
    return Notice(**(values | fields))


def test_a_change_says_what_changed_with_context_and_links_to_the_diff() -> None:
    message = render(change([3]), public_url="https://newsmon.example.org")
    assert message.title == "[silent edit] Le port de pêche rouvre (lepetitjournal, cambodge)"
    assert "https://example.org/cambodge/431010" in message.body
    assert "https://newsmon.example.org/articles/lepetitjournal/431010/diff?from=1&to=2" in message.body
    [hunk] = [line for line in message.body.splitlines() if line.startswith("body:")]
    assert "{+amendée +}" in hunk and "conseil municipal a voté la motion" in hunk
    assert "Paragraphe 4" not in hunk                    # context stops at the paragraph
    assert message.payload["kind"] == "silent" and message.payload["diff"][0]["field"] == "body"


def test_a_chat_service_gets_whole_changes_within_its_limit_and_is_told_what_was_left_out() -> None:
    notice = change(list(range(12)))
    full = render(notice)
    assert full.body.count("{+amendée +}") == 12         # mail and webhooks: every change
    short = render(notice, limit=600)
    assert len(short.body) <= 600
    kept = short.body.count("{+amendée +}")
    assert 1 <= kept < 12
    assert f"… and {12 - kept} more changes" in short.body


def test_a_digest_lists_every_notice() -> None:
    digest = render_digest("desk", [change([1]), change([2], article_id="431011", title="Autre titre")])
    assert digest.title == "newsmon digest (desk): 2 changes"
    assert "Le port de pêche rouvre" in digest.body and "Autre titre" in digest.body
    assert [n["article_id"] for n in digest.payload["notices"]] == ["431010", "431011"]


def test_filters() -> None:
    target = (Target("webhook", "http://127.0.0.1/hook"),)
    silent_edit, titled = change([1]), change([1], fields=("title", "body"), announced=True)
    dates_only = change([], fields=("updated",), text_changed=False, added_words=0, removed_words=0, diffs=())
    assert Subscription("all", target).wants(silent_edit) and not Subscription("all", target).wants(dates_only)
    assert Subscription("dates", target, fields=("dates",)).wants(dates_only)
    assert [Subscription("t", target, fields=("title",)).wants(n) for n in (silent_edit, titled)] == [False, True]
    assert [Subscription("s", target, silent_only=True).wants(n) for n in (silent_edit, titled)] == [True, False]
    assert not Subscription("big", target, min_words=silent_edit.added_words + 1).wants(silent_edit)
    assert not Subscription("bkk", target, editions=("bangkok",)).wants(silent_edit)
    assert not Subscription("other", target, sites=("elsewhere",)).wants(silent_edit)
    assert Subscription("young", target, max_age=timedelta(hours=4)).wants(silent_edit)
    assert not Subscription("younger", target, max_age=timedelta(hours=2)).wants(silent_edit)
    gone = Notice(id=8, kind="gone", site="lepetitjournal", at=AT, article_id="431010", detail="HTTP 410")
    alert = Notice(id=9, kind="alert", site="lepetitjournal", at=AT, detail="the site never answered")
    assert not Subscription("all", target).wants(gone) and Subscription("g", target, events=("gone",)).wants(gone)
    assert not Subscription("all", target).wants(alert) and Subscription("ops", target, errors=True).wants(alert)


def test_a_revert_is_not_told_again_unless_asked() -> None:
    target = (Target("webhook", "http://127.0.0.1/hook"),)
    back = change([1], fields=("title",), reverts_to=1, from_version=2, to_version=3)
    assert not Subscription("all", target).wants(back)
    assert Subscription("reverts", target, reverts=True).wants(back)
    message = render(back)
    assert "back to the text of v1" in message.body and message.payload["reverts_to"] == 1


def test_a_moved_paragraph_is_told_by_its_ends() -> None:
    moved = BODY[1:] + BODY[:1]
    diff = diff_field("body", BODY, moved)
    notice = change([], diffs=(diff,), added_words=0, removed_words=0, moved_words=diff.moved_words,
                    kinds=("move",))
    body = render(notice).body
    assert f"+0 −0 words, {diff.moved_words} moved" in body and "(move)" in body
    assert "[<Paragraphe 0 : le conseil municipal a voté … port de pêche et ses quais. ¶ <]" in body
    assert "{> ¶ Paragraphe 0 : le conseil municipal … sur le port de pêche et ses quais.>}" in body
    assert "{>" in body and "[-" not in body and "{+" not in body
