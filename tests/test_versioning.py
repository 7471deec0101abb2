"""The versioning rules on plain values: unchanged, typography, text edits, dates only, announced."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.compare.versioning import Outcome, compare, dates_key, text_hash
from monitor.items import ExtractedArticle

TZ = ZoneInfo("Asia/Phnom_Penh")
BASE = ExtractedArticle(
    key="431001", url="https://lepetitjournal.com/cambodge/actualites/x-431001", edition="cambodge",
    section="actualites", title="Les Etats Unis accusent la Chine d’espionner le Cambodge",
    lead="L’affaire a été révélée par l'agence Reuters.", author="Raphaël FERRY",
    published=datetime(2021, 7, 27, 9, 15, tzinfo=TZ), updated=None, date_precision="minute",
    body=("Premier paragraphe.", "Un intertitre", "« Nous suivons », dit-il."), captions=("Hun Sen",),
    extractor="lepetitjournal-drupal/1")


def test_first_sight_is_new() -> None:
    assert compare(None, BASE).outcome is Outcome.NEW


def test_identical_is_unchanged() -> None:
    assert compare(BASE, replace(BASE)).outcome is Outcome.UNCHANGED


def test_typography_only_is_unchanged_and_hashes_equal() -> None:
    typo = replace(BASE, title=BASE.title.replace("’", "'"), body=("Premier  paragraphe.", "Un intertitre",
                                                                  "«\u202fNous suivons\u202f», dit-il."))
    assert compare(BASE, typo).outcome is Outcome.UNCHANGED
    assert text_hash(typo) == text_hash(BASE)


def test_silent_body_edit() -> None:
    edited = replace(BASE, body=("Premier paragraphe corrigé.", *BASE.body[1:]))
    verdict = compare(BASE, edited)
    assert (verdict.outcome, verdict.fields, verdict.announced) == (Outcome.CHANGED, ("body",), False)


def test_announced_edit_moves_the_update_date() -> None:
    edited = replace(BASE, title="Nouveau titre", updated=BASE.published + timedelta(days=1))
    verdict = compare(BASE, edited)
    assert (verdict.outcome, verdict.fields, verdict.announced) == (Outcome.CHANGED, ("title", "updated"), True)


def test_edit_under_an_old_update_date_is_silent() -> None:
    before = replace(BASE, updated=BASE.published + timedelta(days=1))
    after = replace(before, lead="Un autre chapô.")
    assert compare(before, after).announced is False


def test_day_precision_cannot_see_a_same_day_move() -> None:
    day = replace(BASE, published=datetime(2021, 7, 27, tzinfo=TZ), updated=datetime(2021, 7, 28, tzinfo=TZ),
                  date_precision="day")
    same_day = replace(day, author="Autre AUTEUR")
    next_day = replace(day, author="Autre AUTEUR", updated=datetime(2021, 7, 29, tzinfo=TZ))
    assert compare(day, same_day).announced is False
    assert compare(day, next_day).announced is True


def test_dates_only_is_metadata() -> None:
    stamped = replace(BASE, updated=BASE.published + timedelta(hours=3))
    verdict = compare(BASE, stamped)
    assert (verdict.outcome, verdict.fields) == (Outcome.METADATA, ("updated",))
    assert dates_key(stamped) != dates_key(BASE) and text_hash(stamped) == text_hash(BASE)


def test_several_fields_are_listed_in_a_stable_order() -> None:
    edited = replace(BASE, captions=("Hun Sen et Xi Jinping",), author="Autre", lead="Autre chapô.")
    assert compare(BASE, edited).fields == ("lead", "author", "captions")
