"""The served app in a real headless Chromium (Debian's package, driven by Playwright): from the index to
an article to a diff, the marked insertions and deletions, on a desktop and a phone, light and dark."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reading import HOSTILE_TITLE, SILENT_SENTENCE, Filled, served

@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Filled]]:
    with served(tmp_path_factory.mktemp("browser")) as base_and_filled:
        yield base_and_filled


def test_from_index_to_article_to_diff(app: tuple[str, Filled], browser, tmp_path: Path) -> None:
    base, filled = app
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(base + "/")
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)
    silent_title = filled.site.article(filled.silent_id).title
    row = page.locator("li.change", has_text=silent_title)
    assert "silent edit" in row.inner_text()
    row.locator(".title a").click()
    page.wait_for_url(f"**/articles/lepetitjournal/{filled.silent_id}")
    assert page.locator("ins").first.inner_text().strip() == SILENT_SENTENCE
    page.locator("details.sbs summary").first.click()
    assert page.locator(".diff.sides .after ins").first.is_visible()
    page.screenshot(path=str(tmp_path / "article.png"), full_page=True)
    page.locator("a.difflink").first.click()
    page.wait_for_url("**/diff?from=1&to=2")
    inserted = page.locator(".diff.inline ins")
    assert inserted.count() == 1 and inserted.inner_text().strip() == SILENT_SENTENCE
    # Marked by more than colour: insertions underlined, deletions struck through.
    assert "underline" in inserted.evaluate("e => getComputedStyle(e).textDecorationLine")
    page.screenshot(path=str(tmp_path / "diff.png"), full_page=True)
    assert errors == []  # a CSP violation or a failed stylesheet shows here

    page.goto(f"{base}/articles/lepetitjournal/{filled.title_id}")
    deleted = page.locator('.field-diff[data-field="title"] .diff.inline del')
    assert deleted.count() >= 1
    assert "line-through" in deleted.first.evaluate("e => getComputedStyle(e).textDecorationLine")
    for path in tmp_path.glob("*.png"):
        assert path.stat().st_size > 10_000


def test_hostile_text_is_inert_in_the_browser(app: tuple[str, Filled], browser, tmp_path: Path) -> None:
    base, filled = app
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/articles/lepetitjournal/{filled.hostile_id}")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    page.goto(base + "/")
    page.wait_for_timeout(300)
    assert dialogs == []
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)


def test_phone_width_and_dark_mode(app: tuple[str, Filled], browser, tmp_path: Path) -> None:
    base, filled = app
    context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme="dark")
    page = context.new_page()
    page.goto(f"{base}/articles/lepetitjournal/{filled.silent_id}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # nothing overflows sideways on a phone
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(251, 250, 247)"  # the dark palette applies
    page.locator("details.sbs summary").first.click()
    before = page.locator(".diff.sides .before").first.bounding_box()
    after = page.locator(".diff.sides .after").first.bounding_box()
    assert after["y"] > before["y"]  # side by side stacks on a narrow screen
    page.screenshot(path=str(tmp_path / "phone-dark.png"), full_page=True)
    context.close()
