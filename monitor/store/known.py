"""What a crawl asks of the database before it fetches: the site's known articles and how many are due."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from monitor.compare.versioning import Baseline
from monitor.store.models import Article, ArticleUrl, Site, Version, latest_versions


@dataclass(frozen=True, slots=True)
class KnownArticle:
    url: str
    status: str
    last_checked_at: datetime | None
    next_check_at: datetime | None
    etag: str | None
    last_modified: str | None
    baseline: Baseline | None     # of its latest version; None before the first one
    page_digest: bytes | None     # of the last page read (models.Article.page_digest)

    def conditional_headers(self) -> dict[str, str]:
        """Validators of the last full fetch: an unchanged page then answers 304, with no body to parse."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class KnownArticles(dict[str, KnownArticle]):
    """The site's known articles by key, and `by_url`: every URL an article was seen at (old slugs, redirect
    hops, canonical URLs), with its article's key. A site whose key is its URL finds a renamed article there:
    once a re-check followed its 301, the new URL discovery lists is that article, not a new one."""

    def __init__(self, articles: dict[str, KnownArticle], by_url: dict[str, str]):
        super().__init__(articles)
        self.by_url = by_url


def known_articles(session: Session, site: str, only: Collection[str] = ()) -> KnownArticles:
    """Every article of the site (or only those whose keys are in `only`: a crawl of planned visits) with what
    a crawl needs of it, by key, and its URL history: two queries in one transaction, so that every URL names
    an article of the same snapshot."""
    return KnownArticles(_articles(session, site, only), _url_history(session, site, only))


def _articles(session: Session, site: str, only: Collection[str]) -> dict[str, KnownArticle]:
    latest = _latest_of(site, only) if only else latest_versions()
    query = (select(Article.key, Article.url, Article.status, Article.last_checked_at, Article.next_check_at,
                    Article.etag, Article.last_modified, Article.page_digest, Version.body_words, Version.lead != "",
                    Version.author != "", Version.captions, Version.id)
             .join(Site, Site.id == Article.site_id)
             .outerjoin(latest, latest.c.article_id == Article.id)
             .outerjoin(Version, (Version.article_id == Article.id) & (Version.number == latest.c.number))
             .where(Site.name == site))
    if only:
        query = query.where(Article.key.in_(list(only)))
    return {key: KnownArticle(url, status, checked, due, etag, modified,
                              Baseline(status, words, bool(lead), bool(author), bool(captions))
                              if version_id is not None else None, digest)
            for key, url, status, checked, due, etag, modified, digest, words, lead, author, captions, version_id
            in session.execute(query)}


def _latest_of(site: str, only: Collection[str]) -> Subquery:
    """latest_versions() of a few articles: the database then reads their versions only, not every article's."""
    ids = select(Article.id).join(Site, Site.id == Article.site_id).where(Site.name == site,
                                                                            Article.key.in_(list(only)))
    return (select(Version.article_id, func.max(Version.number).label("number"))
            .where(Version.article_id.in_(ids)).group_by(Version.article_id).subquery("latest"))


def _url_history(session: Session, site: str, only: Collection[str]) -> dict[str, str]:
    """URL -> key, for the URLs that name one article only: a URL two articles were seen at (a canonical
    link a site got wrong, a redirect to a shared page) identifies neither."""
    keys: dict[str, str | None] = {}
    query = (select(ArticleUrl.url, Article.key).join(Article, Article.id == ArticleUrl.article_id)
             .join(Site, Site.id == Article.site_id).where(Site.name == site))
    if only:
        query = query.where(Article.key.in_(list(only)))
    for url, key in session.execute(query):
        keys[url] = key if keys.get(url, key) == key else None
    return {url: key for url, key in keys.items() if key is not None}


def count_due(session: Session, site_id: int, until: datetime) -> int:
    """Articles of the site whose next check comes before `until`."""
    return session.scalar(select(func.count()).select_from(Article).where(
        Article.site_id == site_id, Article.next_check_at <= until)) or 0
