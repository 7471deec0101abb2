"""French datelines as the site writes them, in the edition's time zone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.extract.dates import parse_dateline, parse_iso

PHNOM_PENH = ZoneInfo("Asia/Phnom_Penh")


def test_drupal_dateline_with_update() -> None:
    line = parse_dateline("Publié le 27 juillet 2021, mis à jour le 28 juillet 2021", "Asia/Phnom_Penh")
    assert line.published == datetime(2021, 7, 27, tzinfo=PHNOM_PENH)
    assert line.updated == datetime(2021, 7, 28, tzinfo=PHNOM_PENH)
    assert line.precision == "day"


def test_nextjs_dateline_with_times() -> None:
    line = parse_dateline("Publié le 27/07/2021 à 09h15 Mis à jour le 28/07/2021 à 11h02", "Asia/Tokyo")
    assert line.published == datetime(2021, 7, 27, 9, 15, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert line.updated == datetime(2021, 7, 28, 11, 2, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert line.precision == "minute"


@pytest.mark.parametrize(("text", "expected"), [
    ("Publié le 1er août 2021", datetime(2021, 8, 1, tzinfo=PHNOM_PENH)),
    ("publié le 3 décembre 2020", datetime(2020, 12, 3, tzinfo=PHNOM_PENH)),
    ("Publié le 15 février 2022 - Mis à jour le 16 février 2022", datetime(2022, 2, 15, tzinfo=PHNOM_PENH)),
])
def test_month_names_and_separators(text: str, expected: datetime) -> None:
    assert parse_dateline(text, "Asia/Phnom_Penh").published == expected


def test_no_update_means_none() -> None:
    assert parse_dateline("Publié le 27 juillet 2021", "Europe/Paris").updated is None


def test_garbage_is_none_not_an_exception() -> None:
    line = parse_dateline("Publié le jamais, mis à jour le bientôt", "Europe/Paris")
    assert (line.published, line.updated) == (None, None)


def test_iso_keeps_its_offset_and_naive_gets_the_edition_zone() -> None:
    assert parse_iso("2021-07-27T09:15:00+07:00", "Europe/Paris").utcoffset().total_seconds() == 7 * 3600
    assert parse_iso("2021-07-27T09:15:00", "Asia/Tokyo").tzinfo == ZoneInfo("Asia/Tokyo")
    assert parse_iso("not a date", "Asia/Tokyo") is None
    assert parse_iso(None, "Asia/Tokyo") is None
