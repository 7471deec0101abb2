"""newsmon: catch edits to published news articles.

Data flows one way: page -> extracted article (monitor.extract) -> compared with the latest version
(monitor.compare) -> stored version and change (monitor.store) -> records and renderers (monitor.report).
monitor.crawl runs Scrapy over the spiders in spiders/; monitor.daemon runs crawls on a schedule.

What a user may import is listed in `__all__`; each name loads its module on first use, so that
`import monitor` (and the pure packages) never pulls in Scrapy or the database layer.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> the module that defines it
_API = {
    # what a spider hands over
    "ExtractedArticle": "monitor.items", "Fetch": "monitor.items",
    # pure: reading pages, comparing versions, diffs, the revisit policy
    "read_article": "monitor.extract", "compare": "monitor.compare.versioning", "Verdict": "monitor.compare.versioning",
    "Outcome": "monitor.compare.versioning", "diff_articles": "monitor.compare.diffing",
    "FieldDiff": "monitor.compare.diffing", "RevisitPolicy": "monitor.compare.policy",
    # the database and what is asked of it
    "Store": "monitor.store", "open_store": "monitor.store", "ChangeFilter": "monitor.store.queries",
    "list_changes": "monitor.store.queries", "list_articles": "monitor.store.queries",
    "article_history": "monitor.store.queries", "export_versions": "monitor.store.queries",
    "resolve_article": "monitor.store.queries",
    # configuration and crawling
    "Config": "monitor.config", "SiteConfig": "monitor.config", "load_config": "monitor.config",
    "run_crawl": "monitor.crawl.runner", "CrawlSummary": "monitor.crawl.summary",
    # errors
    "NewsmonError": "monitor.errors", "BadInput": "monitor.errors", "DatabaseError": "monitor.errors",
    "NotFound": "monitor.errors",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    return getattr(import_module(_API[name]), name)


def __dir__() -> list[str]:
    return __all__
