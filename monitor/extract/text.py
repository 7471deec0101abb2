"""Text as the generic extractor handles it: cleaned for storing, squashed for matching, made comparable for
telling repeats apart. Stored text keeps its typography; only comparisons ignore it."""
from __future__ import annotations

import re
import unicodedata

# What a browser collapses; no-break spaces are text as published, and stay.
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_QUOTES_AND_DASHES = str.maketrans("’‘«»“”–—", "''\"\"\"\"--")
_PUNCTUATION = re.compile(r"[^\w\s]")
# A word: a run of letters and digits, or one ideograph, kana or hangul (those scripts put no spaces
# between words).
_WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|[^\W\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+")


def clean(text: str) -> str:
    """Text as a reader sees it: runs of HTML whitespace collapsed, no-break spaces kept."""
    return _HTML_SPACE.sub(" ", text).strip(" ")


def squash(text: object) -> str:
    """Every run of whitespace (no-break spaces too) as one space, as trafilatura writes its text; "" for
    anything but a string (JSON-LD values may be numbers, lists or null)."""
    return " ".join(text.split()) if isinstance(text, str) else ""


def comparable(text: str) -> str:
    """A form for telling repeats apart: case, typography, punctuation and spacing do not count."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES_AND_DASHES)
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def word_count(text: str) -> int:
    """How many words the text holds, in any script: "谷歌在2014年收购" has seven as "Google bought it in 2014" has five."""
    return len(_WORDS.findall(text))
