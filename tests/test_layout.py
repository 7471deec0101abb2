"""The tree is the table of contents: each package of monitor/ may use only the packages below it, the pure
ones (extract, compare) never load Scrapy or the database layer, and the public API resolves."""
from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import monitor
from monitor.items import VERSION_FIELDS
from monitor.store.queries import VersionRecord
from tests.conftest import ROOT

# Which parts of newsmon each part may import (its own modules aside). Data flows one way:
# spiders -> extract -> compare -> store -> report; crawl drives spiders and stores; cli and daemon sit on top.
BASE = {"items", "errors", "iso", "durations", "settings", "urlcheck"}
ALLOWED: dict[str, set[str]] = {
    "items": set(), "errors": set(), "iso": set(), "durations": set(), "settings": set(), "urlcheck": set(),
    "extract": {"items"},
    "compare": {"items", "iso"},
    "config": BASE | {"compare", "notify"},
    "store": BASE | {"compare"},
    "report": BASE | {"compare", "store"},
    "crawl": BASE | {"compare", "store", "config", "extract", "spiders"},
    "spiders": BASE | {"extract"},
    "notify": BASE | {"compare", "store", "report"},
    "daemon": BASE | {"compare", "store", "config", "crawl", "report", "notify"},
    "distributed": BASE | {"compare", "store", "config", "crawl", "report", "notify", "daemon"},
    "reextract": BASE | {"extract", "compare", "store"},
    "export": BASE | {"compare", "store"},
    "onboard": BASE | {"extract", "config"},
    "cli": BASE | {"compare", "store", "config", "crawl", "report", "daemon", "reextract", "onboard", "notify",
                   "distributed", "export"},
    "__main__": {"cli"},
    "__init__": set(),
}


def part_of(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    if relative.parts[0] == "spiders":
        return "spiders"
    return relative.parts[1]


def imported_parts(tree: ast.Module) -> set[str]:
    """The newsmon parts a module imports at run time (imports only for type checkers are left out)."""
    parts: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "monitor" else [])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            segments = name.split(".")
            if segments[0] == "spiders":
                parts.add("spiders")
            elif segments[0] == "monitor" and len(segments) > 1:
                parts.add(segments[1])
    return parts


MODULES = sorted(p for folder in ("monitor", "spiders") for p in (ROOT / folder).rglob("*.py")
                 if "migrations" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_the_parts_below_it(path: Path) -> None:
    part = part_of(path)
    used = imported_parts(ast.parse(path.read_text(encoding="utf-8"))) - {part}
    assert used <= ALLOWED[part], f"{path.relative_to(ROOT)} ({part}) imports {sorted(used - ALLOWED[part])}"


def test_the_pure_packages_load_neither_scrapy_nor_the_database_layer() -> None:
    """A fresh interpreter: extraction and comparison run where no crawl does (re-reading stored pages)."""
    pure = [f"monitor.{p.relative_to(ROOT / 'monitor').with_suffix('').as_posix().replace('/', '.')}"
            for folder in ("extract", "compare") for p in (ROOT / "monitor" / folder).glob("*.py")]
    code = ("import sys, " + ", ".join(m.removesuffix(".__init__") for m in pure) +
            "; loaded = [m for m in ('scrapy', 'twisted', 'sqlalchemy') if m in sys.modules]; print(loaded)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
    assert "monitor.extract.lepetitjournal" in pure and "monitor.compare.versioning" in pure


def test_the_public_api_resolves_without_loading_scrapy() -> None:
    code = ("import sys, monitor; assert 'scrapy' not in sys.modules; "
            "[getattr(monitor, n) for n in monitor.__all__ if n not in ('run_crawl', 'CrawlSummary')]; "
            "assert 'scrapy' not in sys.modules, 'only crawling may load scrapy'; print(len(monitor.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert all(getattr(monitor, name) is not None for name in monitor.__all__)
    with pytest.raises(AttributeError):
        monitor.no_such_name  # noqa: B018


def test_an_exported_version_carries_every_field_of_an_extracted_article() -> None:
    """The article's fields are declared once (monitor/items.py); the export record must not drift from them."""
    record_fields = [f.name for f in fields(VersionRecord)]
    assert [f for f in record_fields if f in VERSION_FIELDS] == list(VERSION_FIELDS)
    assert set(record_fields) - set(VERSION_FIELDS) == {"site", "article_id", "version", "fetched_at", "status",
                                                        "metadata_only"}
