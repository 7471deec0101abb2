"""Durations as people write them: "90s", "15m", "6h", "7d", "2w", "250ms", or a number of seconds."""
from __future__ import annotations

import math
import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.I)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Durations are added to and taken from the present (next checks, ticks, `--since`); a datetime ends at
# year 9999, so anything much longer overflows there. No schedule or look-back needs more than this.
MAX_DURATION = timedelta(days=1000 * 365)
MAX_DURATION_TEXT = "1000 years"


def parse_duration(value: object) -> timedelta | None:
    """The duration, or None when the value is not one or is longer than MAX_DURATION (the caller names
    the setting in its message; `exceeds_limit` tells the two apart)."""
    seconds = _seconds(value)
    # NaN fails both comparisons; infinity and 1e300 fail the second instead of overflowing timedelta().
    if seconds is None or not 0 <= seconds <= MAX_DURATION.total_seconds():
        return None
    return timedelta(seconds=seconds)


def exceeds_limit(value: object) -> bool:
    """Written as a duration ("99999999d", 1e300 seconds) but longer than MAX_DURATION."""
    seconds = _seconds(value)
    return seconds is not None and seconds > MAX_DURATION.total_seconds()


def _seconds(value: object) -> float | None:
    """The number of seconds the value is written as, unchecked; None when it is not written as a duration."""
    if isinstance(value, bool) or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float):
        # An int past float's range would raise in float(): infinity, with its sign, says the same.
        return float(value) if abs(value) < 1e300 else math.inf if value > 0 else -math.inf
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    return None


def format_duration(delta: timedelta) -> str:
    """The shortest exact form: 900 s -> "15m", 86400 s -> "1d"."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
