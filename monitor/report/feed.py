"""An Atom feed (RFC 4287) of changes: one entry per change, with what changed and the diff itself. The same
function builds the feed of all changes and the feed of one article: only its title, id and self link differ.

Built with ElementTree, so every value is escaped as XML text; the entry content is HTML made from
escaped extracted text (monitor/report/pages.py), escaped once more as the feed's text.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from monitor.compare.diffing import FieldDiff
from monitor.report.labels import FEED_TITLE, field_list, kind_label
from monitor.report.pages import inline_diff_html
from monitor.store.queries import ChangeRecord

ATOM = "http://www.w3.org/2005/Atom"
EDIT_KIND_SCHEME = "urn:newsmon:edit-kind"   # categories naming kinds of edit, apart from those naming fields
ET.register_namespace("", ATOM)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def entry_title(change: ChangeRecord) -> str:
    kind = kind_label(change.text_changed, change.announced, change.fields)
    return f"[{kind}] {change.title} ({field_list(change.fields)})"


def entry_summary(change: ChangeRecord) -> str:
    moved = f", {change.moved_words} moved" if change.moved_words else ""
    kinds = f" ({', '.join(change.kinds)})" if change.kinds else ""
    kinds += f", back to the text of v{change.reverts_to}" if change.reverts_to else ""
    return (f"v{change.from_version} → v{change.to_version} of {change.site}:{change.article_id} "
            f"({change.edition or 'no edition'}): +{change.added_words} −{change.removed_words} words{moved} in "
            f"{field_list(change.fields)}{kinds}")


def atom_feed(changes: Sequence[ChangeRecord], diffs_of: Callable[[ChangeRecord], list[FieldDiff]], *,
              feed_id: str, base_url: str, article_link: Callable[[str, str], str], self_link: str,
              title: str = FEED_TITLE) -> bytes:
    """`feed_id` names this feed for good (each feed its own); `base_url` makes links absolute for feed
    readers (empty: links stay relative to the feed's own location, as in a static report); `article_link(site,
    id)` and `self_link` are relative to it."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "id", feed_id)
    _el(feed, "title", title)
    updated = changes[0].detected_at if changes else datetime.now(UTC).isoformat()
    _el(feed, "updated", updated)
    _el(feed, "link", rel="self", href=urljoin(base_url, self_link))
    _el(_el(feed, "author"), "name", "newsmon")
    _el(feed, "generator", "newsmon")
    for change in changes:
        entry = _el(feed, "entry")
        _el(entry, "id", f"urn:newsmon:change:{change.site}:{change.article_id}:{change.to_version}")
        _el(entry, "title", entry_title(change))
        _el(entry, "updated", change.detected_at)
        page = urljoin(base_url, article_link(change.site, change.article_id)) + f"#v{change.to_version}"
        _el(entry, "link", rel="alternate", type="text/html", href=page)
        _el(entry, "summary", entry_summary(change))
        _el(entry, "content", inline_diff_html(diffs_of(change)), type="html")
        for field in change.fields:
            _el(entry, "category", term=field)
        for kind in change.kinds:
            _el(entry, "category", term=kind, scheme=EDIT_KIND_SCHEME)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
