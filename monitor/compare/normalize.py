"""The comparison form of article text: two texts a reader would call the same compare equal.

Only comparisons use this form; versions store the text as published. What does not count as an edit:
Unicode composition and compatibility forms, curly vs straight quotes and apostrophes, dash variants,
no-break and thin spaces (U+00A0, U+202F, U+2009...) vs plain spaces, doubled spaces, the spacing French
typography puts around « » : ; ! ? %, soft hyphens and zero-width characters.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_CHAR_MAP = {
    "\u2019": "'", "\u2018": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
}
# Regular expressions, not str.translate: translating a non-ASCII text looks every character up in a dict
# (~100 ns each), which made normalisation a quarter of a first crawl's database time; a few matches per
# paragraph are cheap.
_CHARS = re.compile("[" + "".join(_CHAR_MAP) + "]")
# French puts a (thin) space before : ; ! ? % » and after «; English puts none. Neither is an edit.
_SPACED = tuple((" " + mark, mark) for mark in ":;!?%»") + (("« ", "«"),)


def comparison_form(text: str) -> str:
    """Idempotent: comparison_form(comparison_form(t)) == comparison_form(t)."""
    # Spaces are made plain before the NFKC test: no-break and thin spaces are what usually keep a French
    # text from being NFKC already, and the test (~1 us) is much cheaper than the normalisation (~50 us a
    # paragraph). NFKC may make spaces of its own, hence spacing again after it.
    text = _spaced(_INVISIBLE.sub("", text))
    if not unicodedata.is_normalized("NFKC", text):
        text = _spaced(unicodedata.normalize("NFKC", text))
    text = _CHARS.sub(_mapped, text)
    for spaced, mark in _SPACED:   # str.replace: a few us, where look-around expressions took 30
        text = text.replace(spaced, mark)
    return text


def _spaced(text: str) -> str:
    """Every run of whitespace one plain space, none at either end (str.split knows Unicode's spaces)."""
    return " ".join(text.split())


def _mapped(match: re.Match[str]) -> str:
    return _CHAR_MAP[match.group()]


def comparison_list(texts: Sequence[str]) -> list[str]:
    """Comparison forms of a list of blocks; blocks that are empty once compared are dropped."""
    return [form for form in map(comparison_form, texts) if form]


def digest(value: object) -> str:
    """A stable hash of JSON-able data, for equality checks in the database."""
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
