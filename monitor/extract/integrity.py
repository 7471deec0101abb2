"""Is this page whole, and how is it to be read? Checks made before an article is extracted, so that a
broken page becomes an error with its reason, never a version that looks like an edit.

Encoding, in this order: a byte-order mark; then the HTTP header and the page's <meta charset>. When
those two disagree, the one whose article text decodes cleanly wins (the spider tries each): UTF-8 bytes
served as ISO-8859-1 would otherwise turn every accent into "Ã©" and every article into an "edit". When
none reads cleanly the page is refused.
"""
from __future__ import annotations

import codecs
import re

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

# What UTF-8 text looks like when read as Latin-1 or Windows-1252: "é" -> "Ã©", "’" -> "â€™". A UTF-8
# continuation byte (0x80-0xBF) reads as U+0080-U+00BF in Latin-1, or as one of these in Windows-1252.
_CONTINUATION = "\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE = re.compile(f"[ÂÃÅ][{_CONTINUATION}]|â[{_CONTINUATION}][{_CONTINUATION}]")
_CLOSING = re.compile(rb"</html\s*>|</body\s*>", re.I)


class PageError(ValueError):
    """The page cannot be trusted as a whole article; the message says why."""


class ExtractionError(ValueError):
    """The page does not hold an article the extractor can read; the message says what is missing."""


def candidate_encodings(body: bytes, content_type: str | None, fallback: str) -> list[str]:
    """The encodings the page claims, strongest first: its BOM alone if it has one; else the HTTP header
    and the <meta charset> (both when they disagree); else `fallback` (Scrapy's own detection)."""
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        return [bom_encoding]
    declared = [_normalised(http_content_type_encoding(content_type or "")), _normalised(html_body_declared_encoding(body))]
    return list(dict.fromkeys(e for e in declared if e)) or [_normalised(fallback) or "utf-8"]


def decode(body: bytes, encoding: str, *, strict: bool) -> str | None:
    """The text, or None when `strict` and the bytes are not valid in that encoding."""
    bom_encoding, bom = read_bom(body)
    try:
        return body[len(bom) if bom_encoding else 0:].decode(encoding, errors="strict" if strict else "replace")
    except UnicodeDecodeError:
        return None


def has_mojibake(text: str) -> bool:
    return MOJIBAKE.search(text) is not None


def _normalised(encoding: str | None) -> str | None:
    if not encoding:
        return None
    resolved = resolve_encoding(encoding)
    try:
        return codecs.lookup(resolved).name if resolved else None
    except LookupError:
        return None


def check_complete(body: bytes) -> None:
    """A page cut short (a dropped connection, a proxy that gave up) lacks its closing tags; the parser
    would quietly close them and the article would seem to have lost its end."""
    if not body.strip():
        raise PageError("empty page")
    if not _CLOSING.search(body[-4096:]):
        raise PageError("truncated page: no closing </body> or </html>")
