"""What a crawl asks of the database before it fetches: the site's known articles and how many are due."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.compare.versioning import Baseline
from monitor.store.models import Article, Site, Version, latest_versions


@dataclass(frozen=True, slots=True)
class KnownArticle:
    url: str
    status: str
    last_checked_at: datetime | None
    next_check_at: datetime | None
    etag: str | None
    last_modified: str | None
    baseline: Baseline | None     # of its latest version; None before the first one

    def conditional_headers(self) -> dict[str, str]:
        """Validators of the last full fetch: an unchanged page then answers 304, with no body to parse."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def known_articles(session: Session, site: str) -> dict[str, KnownArticle]:
    """Every article of the site with what a crawl needs of it, by key, in one query."""
    latest = latest_versions()
    query = (select(Article.key, Article.url, Article.status, Article.last_checked_at, Article.next_check_at,
                    Article.etag, Article.last_modified, Version.body_words, Version.lead != "",
                    Version.author != "", Version.captions, Version.id)
             .join(Site, Site.id == Article.site_id)
             .outerjoin(latest, latest.c.article_id == Article.id)
             .outerjoin(Version, (Version.article_id == Article.id) & (Version.number == latest.c.number))
             .where(Site.name == site))
    return {key: KnownArticle(url, status, checked, due, etag, modified,
                              Baseline(status, words, bool(lead), bool(author), bool(captions))
                              if version_id is not None else None)
            for key, url, status, checked, due, etag, modified, words, lead, author, captions, version_id
            in session.execute(query)}


def count_due(session: Session, site_id: int, until: datetime) -> int:
    """Articles of the site whose next check comes before `until`."""
    return session.scalar(select(func.count()).select_from(Article).where(
        Article.site_id == site_id, Article.next_check_at <= until)) or 0
