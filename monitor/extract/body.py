"""The article's text and captions on a page of any site: trafilatura's reading, kept as paragraphs and
intertitles, with the page chrome a monitor must never see left out.

Chrome that rotates between fetches (a "most read" list reshuffled, a share counter, a cookie box, another
story's title in a "read more" list) would read as an edit of the article at every fetch. It is cut at three
points: blocks named or headed as chrome are taken out of the page before trafilatura reads it; lists whose
every item is a link are dropped from its reading; and short lines that are chrome wherever they stand
(counters, share prompts, "Read also: ...") are dropped last.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from difflib import SequenceMatcher
from importlib.metadata import version

from lxml.etree import XPath
from lxml.html import HtmlElement

from monitor.extract.text import clean, comparable, squash, word_count

# The version as installed, read without importing trafilatura (see _trafilatura_blocks).
TRAFILATURA = f"trafilatura-{version('trafilatura')}"

_RE = {"re": "http://exslt.org/regular-expressions"}
# Blocks named for what they hold...
_CHROME_NAMES = (r"most-?(?:read|viewed|popular|shared|commented)|popular|trending|recommend|plus-?lus|read-?next"
                 r"|read-?more|more-?stories|also-?read|a-?lire|lire-?aussi|subscri|newsletter|signup|sign-up|promo"
                 r"|cookie|consent|gdpr|paywall|donat|comment|share|social|outbrain|taboola|related|recirc"
                 r"|must-?reads?|more-?from|you-?may-?like")
# ... and blocks headed by what they are, in the languages newsmon reads first.
_CHROME_HEADINGS = (r"^(?:most (?:read|popular|viewed|shared)|popular(?: now)?|trending(?: now)?|related"
                    r"(?: (?:stories|articles|content|coverage))?|read (?:more|next)|must[ -]reads?"
                    r"|more (?:must[ -]reads?|stories|news|articles|from .{1,40})(?: from .{1,40})?"
                    r"|you (?:may|might) also like|recommended(?: for you)?|les plus lus|les plus partagés"
                    r"|[àa] lire aussi|lire aussi|sur le même sujet|dans la même rubrique|nos derniers articles"
                    r"|meistgelesen|meist gelesen|mehr zum thema|das könnte sie auch interessieren"
                    r"|lo más leído|más leídas?|te puede interesar|noticias relacionadas|i più letti|più letti"
                    r"|leggi anche|articoli correlati)\s*:?$")
_CHROME = XPath(
    f"//*[self::div or self::section or self::aside or self::ul or self::ol or self::nav or self::form]"
    f"[not(.//h1)][re:test(concat(@class, ' ', @id), '(?:^|[\\s_-]){_CHROME_NAMES}', 'i')"
    f" or ./*[1][self::h2 or self::h3 or self::h4 or self::h5 or self::header or self::p or self::strong]"
    f"[re:test(normalize-space(.), '{_CHROME_HEADINGS}', 'i')]]",
    namespaces=_RE)
# Short lines that are chrome wherever they stand: counters, share prompts, inline "read also" links, ad labels.
_CHROME_LINE = re.compile(
    r"^(?:\d[\d\s.,]*\s*(?:comments?|commentaires?|kommentare?|comentarios?|commenti|shares?|partages?|reactions?"
    r"|réactions?|likes?)|(?:share|partager|teilen|compartir|condividi)(?: (?:this|on|sur|auf|en|su) .{0,30})?"
    r"|(?:read more|read also|see also|lire aussi|à lire aussi|a lire aussi|voir aussi|lesen sie auch|weiterlesen"
    r"|lee también|leer más|leggi anche)(?:\s*[:»>|–—-].{0,160})?|advertisement|publicité|anzeige|publicidad"
    r"|pubblicità)$",
    re.IGNORECASE)
_LISTS = XPath("//ul | //ol")
_LINK_SHARE = 0.4   # of a list item's text in links, for the item to count as a link (teasers link half a title)
# A declared articleBody this long is the article's text (shorter ones are teasers); a reading that agrees
# with it less than this (token F1) has lost the article.
_DECLARED_BODY_MIN_WORDS = 50
_AGREEMENT = 0.6
_TAG = re.compile(r"<[^>]+>")     # a declared articleBody is sometimes HTML
# A block the balanced reading alone keeps within the article is taken when it is at least this long: "More",
# "Next", "Learn more" between two paragraphs are a teaser's or a carousel's links.
_INSERTED_MIN_WORDS = 4
# Text found between two blocks of the reading is taken when at most this many blocks stand there, and not
# when the reading holds this share of its words already.
_GAP = 2
_HELD = 0.8
_PROSE_WORDS = 12   # a block this long, beside a gap, is a paragraph of the article
# The elements of trafilatura's XML that are blocks of text of their own.
_XML_BLOCKS = frozenset({"p", "head", "list", "item", "quote", "table", "code", "div"})
# The page's elements whose text can be one block of the body (a <div> only when it holds text itself).
_HTML_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "dd", "dt"})

# <figcaption>, and WordPress's classic caption (<div class="wp-caption"><img><p class="wp-caption-text">).
_FIGCAPTIONS = XPath("//figcaption | //*[contains(concat(' ', normalize-space(@class), ' '), ' wp-caption-text ')]")
_ARTICLE_BODY = XPath('//*[@itemprop="articleBody"]')
_IN_CHROME = re.compile(r"related|teaser|promo|most-?read|popular|recommend|share|newsletter|outbrain|taboola",
                        re.IGNORECASE)
_CREDIT_CLASS = re.compile(r"credit|copy(?:right)?\b|photographer|source|byline|author|attribution", re.IGNORECASE)
# "Photo: Jane Doe / AFP", "© Reuters", "(Crédit : AFP)", "Foto: dpa": a caption's credit, not its text.
_CREDIT_TEXT = re.compile(r"\s*[(\[]?\s*(?:©|\(c\)|copyright\b|photos?\s*:|crédits?(?:\s+photo)?\s*:|credits?\s*:"
                          r"|foto(?:s|grafía)?\s*:|bild\s*:|image\s*:|picture\s*:|source\s*:|quelle\s*:).*$",
                          re.IGNORECASE)


# ---------------------------------------------------------------- the text

def body_blocks(root: HtmlElement, url: str, declared_body: str = "") -> list[str]:
    """Paragraphs, intertitles, list items and quotes of the article, in reading order, by trafilatura.

    trafilatura is run for precision: chrome in the body is a false edit at every rotation, a paragraph
    missed is only a paragraph not watched. When that loses most of the text the page declares as its
    articleBody (JSON-LD), it is run again for balance and the reading closer to the declared text is kept."""
    tree = deepcopy(root)      # trafilatura and the pruning below change the tree; the caller's stays whole
    page_prose = _paragraph_text(tree)
    for el in _CHROME(tree):
        if el.getparent() is not None and looks_like_chrome(el) and _paragraph_text(el) <= page_prose / 2:
            el.drop_tree()
    link_items = link_list_items(tree)
    precise = _trafilatura_blocks(tree, url, link_items, favor_precision=True)
    balanced = _trafilatura_blocks(tree, url, link_items, favor_precision=False)
    blocks = with_gaps_filled(tree, within_span(precise, balanced))
    declared = Counter(comparable(_TAG.sub(" ", declared_body)).split())
    if sum(declared.values()) >= _DECLARED_BODY_MIN_WORDS and agreement(blocks, declared) < _AGREEMENT:
        if agreement(balanced, declared) > agreement(blocks, declared):
            blocks = balanced
    return blocks


def within_span(precise: list[str], balanced: list[str]) -> list[str]:
    """The precise reading, with the blocks only the balanced reading keeps between its first and last block.

    Run for precision, trafilatura leaves out chrome around the article, but also short or oddly wrapped
    blocks among its paragraphs (a one-line paragraph, a credit line, a block in its own <div>); an edit
    there would go unseen. Chrome rarely stands between two paragraphs of the article (and what does is cut
    before trafilatura reads the page), so what the balanced reading holds within the precise one's span is
    the article's (when it has a few words: a lone "More" is a link's); what it holds before or after
    stays out."""
    matcher = SequenceMatcher(None, precise, balanced, autojunk=False)
    blocks = matcher.get_matching_blocks()[:-1]     # the last one is a sentinel of size 0
    if not blocks:
        return precise
    span = range(blocks[0].b, blocks[-1].b + blocks[-1].size)
    merged: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        merged.extend(precise[i1:i2] if tag != "insert" else ())
        if tag in ("insert", "replace"):
            merged.extend(text for j, text in enumerate(balanced[j1:j2], j1)
                          if j in span and word_count(text) >= _INSERTED_MIN_WORDS)
    return merged


def with_gaps_filled(tree: HtmlElement, blocks: list[str]) -> list[str]:
    """The blocks, with text the page shows in a narrow gap between two of them that neither reading kept.

    trafilatura leaves out some of an article's own text: a short paragraph whose few words are partly links
    (a Chinese paragraph naming two companies), a line of text standing outside any paragraph ("<hr> <b>And
    here is the commentary:</b>"). An edit there would go unseen. The page's blocks of text as a browser lays
    them out (chrome already cut) are matched, in order, with the reading's (headlines aside); where at most
    _GAP of them stand between two matched ones, they are the article's too, unless they are mostly links, a
    chrome line, a few words, text the page shows twice (a widget) or text the reading holds already. A wider
    gap is a region trafilatura left out on purpose: a box of teasers, the comments; a gap between two short
    lines is the page's header (source, date, time) or a caption's surroundings."""
    shown = list(_shown_blocks(tree))
    keys = [comparable(text) for text, _ in shown]
    headlines = {comparable(h1.text_content()) for h1 in tree.iter("h1")}
    block_keys = [comparable(block) for block in blocks]
    reading = [key for key in block_keys if key not in headlines]
    anchors = _aligned(keys, reading)
    if len(anchors) < 2:
        return blocks
    # The reading's blocks the page does not show as they are: a date it split from its time, lines it joined.
    unaligned = set(reading) - {key for _, key in anchors} - {""}
    held, seen = Counter(" ".join(block_keys).split()), Counter(keys)
    added: list[tuple[str, str]] = []    # (the block it follows, the text)
    for (a, block), (b, following) in zip(anchors, anchors[1:]):
        gap = [i for i in range(a + 1, b) if keys[i]]
        # Beside a paragraph of prose: between two short lines (a byline and a date) stand a page's labels.
        if 0 < len(gap) <= _GAP and max(word_count(block), word_count(following)) >= _PROSE_WORDS:
            added.extend((block, shown[i][0]) for i in gap
                         if _is_prose(shown[i], keys[i], seen, held) and not _overlaps(keys[i], unaligned))
    if not added:
        return blocks
    after: dict[str, list[str]] = {}
    for block, text in added:
        after.setdefault(block, []).append(text)
    return [text for block, key in zip(blocks, block_keys, strict=True) for text in (block, *after.pop(key, ()))]


def _aligned(shown: list[str], reading: list[str]) -> list[tuple[int, str]]:
    """(position among the shown blocks, key) of the reading's blocks found there, in order: each one looked
    for after the last found, so a text the page repeats further down (a title in a teaser) is not taken."""
    found: list[tuple[int, str]] = []
    start = 0
    for key in reading:
        try:
            at = shown.index(key, start)
        except ValueError:
            continue
        found.append((at, key))
        start = at + 1
    return found


def _overlaps(key: str, reading: set[str]) -> bool:
    """Whether the text holds one of the reading's blocks, or is held in one: the same text, cut otherwise."""
    return any(block in key or key in block for block in reading)


def _is_prose(shown: tuple[str, int], key: str, seen: Counter[str], held: Counter[str]) -> bool:
    text, linked = shown
    if word_count(text) < _INSERTED_MIN_WORDS or linked >= len(text) * _LINK_SHARE or _CHROME_LINE.match(text):
        return False
    if seen[key] > 1:
        return False
    words = Counter(key.split())
    return sum((words & held).values()) < _HELD * sum(words.values())


# Elements that start a new line of text, as a browser lays them out...
_LAID_OUT = frozenset({"address", "article", "aside", "blockquote", "body", "br", "center", "dd", "details", "dialog",
                       "div", "dl", "dt", "fieldset", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
                       "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
                       "tfoot", "th", "thead", "tr", "ul"})
# ... and elements whose text is never the article's body: captions are a field of their own.
_NOT_BODY = frozenset({"script", "style", "noscript", "template", "svg", "math", "button", "select", "textarea",
                       "figure", "figcaption", "iframe", "object", "nav", "aside", "footer", "form", "head", "title"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def _shown_blocks(el: HtmlElement) -> Iterator[tuple[str, int]]:
    """The element's text as the lines of a page (text, characters of it in links), in document order: each
    laid-out element's own text apart from its laid-out children's, split where one stands."""
    parts: list[str] = [el.text or ""]
    linked = 0
    for child in el:
        tag = _tag(child)
        if tag in _LAID_OUT and tag != "br":
            yield squash("".join(parts)), linked
            parts, linked = [], 0
            if not _skipped(child):
                yield from _shown_blocks(child)
        elif tag == "br":
            parts.append(" ")
        elif tag and not _skipped(child):
            text = squash(_inline_text(child))
            parts.append(text)
            linked += len(text) if tag == "a" else sum(len(squash(_inline_text(a))) for a in child.iter("a"))
        parts.append(child.tail or "")
    yield squash("".join(parts)), linked


def _inline_text(el: HtmlElement) -> str:
    """The text an inline element shows: what it holds, less scripts, styles, formulas' sources, hidden text."""
    parts = [el.text or ""]
    for child in el:
        if _tag(child) and not _skipped(child):
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _tag(el: HtmlElement) -> str:
    return el.tag if isinstance(el.tag, str) else ""     # comments and processing instructions: ""


def _skipped(el: HtmlElement) -> bool:
    return el.tag in _NOT_BODY or _hidden(el)


def _hidden(el: HtmlElement) -> bool:
    return (el.get("hidden") is not None or el.get("aria-hidden") == "true"
            or bool(_HIDDEN_STYLE.search(el.get("style", ""))))


def _trafilatura_blocks(tree: HtmlElement, url: str, link_items: set[str], *, favor_precision: bool) -> list[str]:
    # Imported here, when a page is first read with it: most crawls read their site's own layout and never
    # fall back on the generic extractor, and importing trafilatura took every crawl process ~0.15 s.
    import trafilatura

    # bare_extraction copies the tree it is given (it prunes as it reads), so one tree serves several runs.
    document = trafilatura.bare_extraction(
        tree, url=url or None, include_comments=False, include_tables=True, include_images=False,
        include_formatting=False, include_links=False, favor_precision=favor_precision, with_metadata=False,
        deduplicate=False)
    if document is None or document.body is None:
        return []
    return [text for text in xml_blocks(document.body) if text not in link_items and not _CHROME_LINE.match(text)]


def looks_like_chrome(el: HtmlElement) -> bool:
    """A block named or headed like chrome is cut unless it reads like the article: a wrapper classed
    "entry-content share-enabled" holds paragraphs of prose, a "most read" box holds links."""
    text = len(el.text_content())
    if not text:
        return True
    linked = sum(len(a.text_content()) for a in el.iter("a"))
    prose = sum(1 for p in el.iter("p") if len(p.text_content().split()) >= 30)
    return prose < 2 or linked > text / 2


def _paragraph_text(el: HtmlElement) -> int:
    """How much paragraph text an element holds: a block named like chrome ("post has-comments") that holds
    most of the page's is the article's wrapper, however short the article."""
    return sum(len(p.text_content()) for p in el.iter("p"))


def link_list_items(root: HtmlElement) -> set[str]:
    """The items of the page's lists of links: lists of 3 items or more, each mostly a link (other articles,
    "more must-reads", a section's latest, a menu, tags). Sites shuffle and refresh such lists between
    fetches; an article's own lists are prose. Their items are dropped from trafilatura's reading rather than
    cut from the page: taking them out of the page changes which block trafilatura picks as the article."""
    items: set[str] = set()
    for el in _LISTS(root):
        texts = [_linked_text(li) for li in el if li.tag == "li"]
        if len(texts) >= 3 and all(texts) and looks_like_chrome(el):
            items.update(texts)
    return items


def _linked_text(li: HtmlElement) -> str:
    """The item's text when links hold most of it, else ""."""
    text = squash(li.text_content())
    linked = sum(len(squash(a.text_content())) for a in li.iter("a"))
    return text if text and linked >= len(text) * _LINK_SHARE else ""


def agreement(blocks: list[str], declared: Counter[str]) -> float:
    """Token F1 of the blocks against the declared article text: how much of the same text they hold."""
    found = Counter(comparable(" ".join(blocks)).split())
    common = sum((found & declared).values())
    if not common:
        return 0.0
    precision, recall = common / sum(found.values()), common / sum(declared.values())
    return 2 * precision * recall / (precision + recall)


def xml_blocks(element) -> list[str]:
    """trafilatura's XML as text blocks in reading order: each paragraph, heading, list item, quote, code
    block and table row is one block; a block inside another (a heading and a paragraph inside a list item)
    is a block of its own, and what surrounds it stays with its parent."""
    blocks: list[str] = []
    _flatten(element, blocks)
    return [b for b in blocks if b]


def _flatten(element, blocks: list[str]) -> None:
    parts = [element.text or ""]
    for child in element:
        if child.tag in _XML_BLOCKS:
            blocks.append(squash("".join(parts)))
            if child.tag == "table":
                blocks.extend(_table_rows(child))
            else:
                _flatten(child, blocks)
            parts = []
        elif child.tag == "lb":          # a line break inside a paragraph: a space, as a browser shows it
            parts.append(" ")
        elif isinstance(child.tag, str) and child.tag != "graphic":     # inline: hi, ref, del...
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    blocks.append(squash("".join(parts)))


def _table_rows(table) -> list[str]:
    return [text for row in table.iter("row")
            if (text := " | ".join(t for cell in row if (t := squash(" ".join(cell.itertext())))))]


def without_repeats(blocks: list[str], *, headlines: Iterable[str], captions: Iterable[str]) -> list[str]:
    """The body without what other fields already hold: the headline (the title, and the page's <h1>s, which
    trafilatura keeps at the top of the body) and image captions; and without a paragraph repeated right
    after itself."""
    headline_keys, caption_keys = {comparable(h) for h in headlines}, {comparable(c) for c in captions}
    kept: list[str] = []
    for i, text in enumerate(blocks):
        key = comparable(text)
        if (i < 3 and key in headline_keys) or key in caption_keys:
            continue
        if kept and comparable(kept[-1]) == key:
            continue
        kept.append(text)
    return kept


# ---------------------------------------------------------------- where it stands, and its captions

@dataclass(frozen=True, slots=True)
class Layout:
    """Where the article's parts stand on the page, in document order: its headline (<h1>) and the span of
    its text (from the first to the last element whose text is a block of the body)."""

    root: HtmlElement
    order: dict[HtmlElement, int]
    headline: int                  # -1 without an <h1>
    text_start: int                # -1 when no element holds a block of the body as it is
    text_end: int
    marked_body: HtmlElement | None   # the element microdata marks as the articleBody

    @classmethod
    def of(cls, root: HtmlElement, blocks: list[str], is_headline: Callable[[str], bool]) -> Layout:
        """`is_headline(text)` tells the article's <h1> from a logo's or a section's."""
        keys = set(blocks)
        order: dict[HtmlElement, int] = {}
        matched: list[int] = []
        headline = first_h1 = -1
        for i, el in enumerate(root.iter()):
            order[el] = i
            tag = el.tag
            if tag in _HTML_BLOCKS or (tag == "div" and el.text and el.text.strip()):
                if squash(el.text_content()) in keys:
                    matched.append(i)
            elif tag == "h1":
                first_h1 = i if first_h1 < 0 else first_h1
                if headline < 0 and is_headline(el.text_content()):
                    headline = i
        return cls(root, order, headline if headline >= 0 else first_h1,
                   min(matched, default=-1), max(matched, default=-1), next(iter(_ARTICLE_BODY(root)), None))

    def between_headline_and_text(self, el: HtmlElement) -> bool:
        """A standfirst stands there (or is the first block an extractor took for text); above the headline
        is a ticker, a menu, a teaser."""
        return self.headline < self.order.get(el, -1) <= self.text_start

    def within_text(self, el: HtmlElement) -> bool:
        """Among the paragraphs, or inside the element the page marks as the article's body."""
        if self.marked_body is not None and any(a is self.marked_body for a in el.iterancestors()):
            return True
        return self.text_start < self.order.get(el, -1) < self.text_end


def figure_captions(layout: Layout) -> tuple[str, ...]:
    """Captions of the figures within the article's text, without photo credits.

    A figure above the text or below it may be the article's main picture, but as often a teaser's, a
    player's or a gallery's of the page around it (realnews' pages: a picture's "7 Days" above the text
    belongs to a rotating block); the figures among the paragraphs, or inside what the page marks as the
    article's body, are the article's."""
    captions: list[str] = []
    for caption in _FIGCAPTIONS(layout.root):
        if not layout.within_text(caption) or any(
                a.tag in ("a", "nav", "aside", "footer") or _IN_CHROME.search(a.get("class", ""))
                for a in caption.iterancestors()):
            continue
        if (text := caption_text(caption)) and text not in captions:
            captions.append(text)
    return tuple(captions)


def caption_text(caption: HtmlElement) -> str:
    """A caption's text without its credit: elements classed as one, then a trailing "Photo: ..." or "© ..."."""
    parts: list[str] = []

    def walk(el: HtmlElement) -> None:
        if el.text:
            parts.append(el.text)
        for child in el:
            if child.tag == "br":
                parts.append(" ")
            elif isinstance(child.tag, str) and child.tag not in ("script", "style") and not _CREDIT_CLASS.search(
                    child.get("class", "")):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(caption)
    return clean(_CREDIT_TEXT.sub("", clean("".join(parts))))
