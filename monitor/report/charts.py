"""Bar charts as inline SVG, pure: values in, markup out. No script and no style attribute (the pages'
Content-Security-Policy allows neither): shapes carry classes that newsmon.css colours from the theme's
variables, so the charts follow light and dark mode.

Charts have no viewBox: horizontal positions are percentages of the page's width and heights are pixels, so
a chart narrows to a phone's width while its text keeps the page's size. Each chart is an `<svg>` with a
`<title>` and a `<desc>` (what it shows, and its numbers in words) named by `aria-labelledby`; every bar
carries its own `<title>` (shown on hover) and its numbers as `data-` attributes.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

# The stacked parts of every bar, in order: (class suffix, word). Colours: newsmon.css, `.part-*`.
SERIES = (("announced", "announced"), ("silent", "silent"))
COLUMN_HEIGHT = 220         # px: a column chart's whole height
PLOT_TOP, PLOT_BOTTOM = 24, 184   # px: where the columns stand between (the axis's name above them)
GUTTER = 9.0                # % of the width kept left of the columns for the axis's numbers
MAX_TICK_LABELS = 6         # labels under the columns at most: more would run into each other on a phone
MAX_COLUMN_WIDTH = 10.0     # % of the width: three days of edits are three columns, not three walls
VALUES_ON_COLUMNS = 12      # up to this many columns, each shows its total above it
ROW_HEIGHT = 44             # px per row of a row chart: a line of label, then the bar
ROW_BAR_WIDTH = 86.0        # % of the width the longest bar takes; the rest holds its number
LABEL_CHARS = 72            # a longer label is cut (an SVG text does not wrap; the chart clips what overflows)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str                   # under a column, or above a row's bar
    parts: tuple[int, ...]       # one count per SERIES
    hint: str                    # the bar's own title: its label and numbers in words
    href: str | None = None      # a row may link somewhere (an article's page)

    @property
    def total(self) -> int:
        return sum(self.parts)


def pct(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "%"


def nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2, 5 times a power of ten) dividing 0..top into at most `ticks` intervals."""
    raw = max(top, 1) / ticks
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def cut(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def chart_root(chart_id: str, title: str, desc: str, height: int, kind: str) -> ET.Element:
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "class": f"chart chart-{kind}", "id": chart_id,
                             "width": "100%", "height": str(height),
                             "aria-labelledby": f"{chart_id}-title {chart_id}-desc"})
    ET.SubElement(svg, "title", {"id": f"{chart_id}-title"}).text = title
    ET.SubElement(svg, "desc", {"id": f"{chart_id}-desc"}).text = desc
    return svg


def bar_group(parent: ET.Element, bar: Bar) -> ET.Element:
    attributes = {"class": "bar", "data-label": bar.label, "data-total": str(bar.total)}
    attributes |= {f"data-{name}": str(count) for (name, _), count in zip(SERIES, bar.parts, strict=True)}
    group = ET.SubElement(parent, "g", attributes)
    ET.SubElement(group, "title").text = bar.hint
    return group


def text(parent: ET.Element, content: str, x: str, y: float, css: str, anchor: str = "start") -> None:
    attributes = {"class": css, "x": x, "y": str(y)}
    if anchor != "start":
        attributes["text-anchor"] = anchor
    ET.SubElement(parent, "text", attributes).text = content


def serialise(svg: ET.Element) -> Markup:
    # ElementTree escapes every text and attribute value: labels are crawled titles, untrusted. Elements are
    # closed explicitly (<rect ...></rect>): HTML parsers outside browsers do not all honour `/>` there.
    return Markup(ET.tostring(svg, encoding="unicode", short_empty_elements=False))


def column_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], *, axis_label: str,
                 max_labels: int = MAX_TICK_LABELS) -> Markup:
    """Vertical stacked columns (a time series, a histogram) over a numbered axis; at most `max_labels` of the
    columns are labelled, evenly spaced (every column keeps its label in its own title)."""
    svg = chart_root(chart_id, title, desc, COLUMN_HEIGHT, "columns")
    peak = max((b.total for b in bars), default=0)
    step = nice_step(peak)
    top = step * max(math.ceil(peak / step), 1)   # the axis ends on a round number, above the highest column
    height = PLOT_BOTTOM - PLOT_TOP

    def y(value: float) -> float:
        return round(PLOT_BOTTOM - height * value / top, 2)

    axis = ET.SubElement(svg, "g", {"class": "axis"})
    for tick in range(0, top + 1, step):
        ET.SubElement(axis, "line", {"class": "grid", "x1": pct(GUTTER), "x2": "100%", "y1": str(y(tick)),
                                     "y2": str(y(tick))})
        text(axis, str(tick), pct(GUTTER - 1), y(tick) + 4, "tick", "end")
    text(axis, axis_label, "0", PLOT_TOP - 12, "axis-label")
    slot = (100 - GUTTER) / max(len(bars), 1)
    every = math.ceil(len(bars) / max_labels)
    for index, bar in enumerate(bars):
        group = bar_group(svg, bar)
        width = min(slot * 0.8, MAX_COLUMN_WIDTH)
        left = GUTTER + slot * index + (slot - width) / 2
        base = 0
        for (name, _), count in zip(SERIES, bar.parts, strict=True):
            if count:
                ET.SubElement(group, "rect", {"class": f"part part-{name}", "x": pct(left), "width": pct(width),
                                              "y": str(y(base + count)), "height": str(round(height * count / top, 2))})
            base += count
        centre = pct(left + width / 2)
        if len(bars) <= VALUES_ON_COLUMNS and bar.total:
            text(group, str(bar.total), centre, y(bar.total) - 4, "value", "middle")
        if index % every == 0:
            text(group, bar.label, centre, PLOT_BOTTOM + 18, "tick", "middle")
    return serialise(svg)


def row_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal stacked bars, one row each: a line of label, then the bar and its total. Rows with an
    `href` are links (label and bar both)."""
    svg = chart_root(chart_id, title, desc, ROW_HEIGHT * max(len(bars), 1), "rows")
    most = max((b.total for b in bars), default=0) or 1
    for index, bar in enumerate(bars):
        top = ROW_HEIGHT * index
        holder = svg if bar.href is None else ET.SubElement(svg, "a", {"href": bar.href, "aria-label": bar.hint})
        group = bar_group(holder, bar)
        if bar.href is not None:  # the whole row takes the click, not only its ink: a wide target on a phone
            ET.SubElement(group, "rect", {"class": "hit", "x": "0", "width": "100%", "y": str(top),
                                          "height": str(ROW_HEIGHT)})
        text(group, cut(bar.label), "0", top + 15, "label")
        left = 0.0
        for (name, _), count in zip(SERIES, bar.parts, strict=True):
            if count:
                width = ROW_BAR_WIDTH * count / most
                ET.SubElement(group, "rect", {"class": f"part part-{name}", "x": pct(left), "width": pct(width),
                                              "y": str(top + 21), "height": "16"})
                left += width
        text(group, str(bar.total), pct(left + 1), top + 34, "value")
    return serialise(svg)
