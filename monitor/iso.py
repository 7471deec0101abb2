"""Dates as ISO 8601 text, one way everywhere: declared dates keep the offset the site gave them; instants
newsmon records are UTC and written with a "Z" in what it shows."""
from __future__ import annotations

from datetime import datetime


def to_iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def utc_iso(value: datetime | None) -> str | None:
    """An instant newsmon recorded (UTC), as shown in JSON and reports: '2026-11-24T22:56:02Z'."""
    return value.isoformat().replace("+00:00", "Z") if value else None
