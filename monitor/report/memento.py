"""Memento (RFC 7089) for `newsmon serve`: every stored version of an article is a memento of its URL, so that
Memento clients (TimeTravel, MemGator, browser extensions) can list, negotiate and show them.

    /timemap/link/URL       the TimeMap (application/link-format): original, self, timegate, one memento per
                            stored version (versions fetched in the same second share one)
    /timegate/URL           the TimeGate: 302 to the memento for the request's Accept-Datetime
    /memento/STAMP/URL      a memento: newsmon's rendering of that version's text (Memento-Datetime)
    /raw/STAMP/URL          the page as fetched, sandboxed: no script of it ever runs, nothing of it loads

URL is any URL the article was seen at (old slugs included); STAMP is the fetch time, YYYYMMDDhhmmss in UTC.
A memento's own URL carries the URL its page was fetched at, which never changes afterwards: version numbers
do (`reextract` merges a version that was no edit), fetch times and their URLs do not.
"""
from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import BadInput, NotFound
from monitor.iso import utc_iso
from monitor.report.pages import ENV, Context
from monitor.store.models import Article, ArticleUrl, Version

LINK_FORMAT = "application/link-format"
STAMP = "%Y%m%d%H%M%S"
# A stored page is the site's HTML: served only under a policy that makes it an opaque origin with no script
# and nothing loaded (its images, styles and trackers stay on the site), never as a page of ours.
RAW_PAGE_POLICY = "sandbox; default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# A stored URL as a path segment of ours: `%` is escaped too, so that the server's percent-decoding of the path
# gives the URL back exactly, escapes included; `?` and `#` are escaped so that they stay in the path.
PATH_SAFE = ":/@!$&'()*+,;=~"
# A URL a client wrote, as a URI: escapes it holds stay, spaces and non-ASCII get theirs (crawled URLs are
# stored in that form), and `<`, `>`, `"` can no longer end a link-format entry early.
URI_SAFE = "!#$%&'()*+,/:;=?@[]~"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# RFC 1123 dates only, as RFC 7089 asks (ASCII digits: `\d` would take any script's).
RFC1123 = re.compile(rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{2}}) ({'|'.join(MONTHS)}) ([0-9]{{4}}) "
                     r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT")


@dataclass(frozen=True, slots=True)
class Memento:
    """A stored version as a memento."""

    at: datetime   # when its page was fetched, to the second: all that Memento-Datetime can say
    number: int    # the version shown
    url: str       # the URL its page was fetched at


def http_date(moment: datetime) -> str:
    """'Tue, 01 Dec 2026 21:28:49 GMT' (RFC 1123, as Memento-Datetime and link-format datetimes are written)."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_accept_datetime(value: str) -> datetime:
    """An Accept-Datetime header's value, which RFC 7089 makes an RFC 1123 date."""
    if match := RFC1123.fullmatch(value.strip()):
        day, month, year, hour, minute, second = match.groups()
        with suppress(ValueError):  # else no such date (31 Feb, year 0): as unreadable as any other text
            return datetime(int(year), MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second),
                            tzinfo=UTC)
    cut = value if len(value) <= 40 else value[:40] + "…"
    raise BadInput(f"Accept-Datetime must be an RFC 1123 date such as 'Tue, 01 Dec 2026 21:28:49 GMT', not {cut!r}")


def original_url(in_path: str, query_string: str) -> str:
    """The original URL a Memento route names: the rest of its path as the server decoded it, and the query
    string the server split off, which belongs to that URL (`/timegate/https://site/a?id=3`)."""
    return f"{in_path}?{query_string}" if query_string else in_path


def find_article(session: Session, url: str) -> Article:
    """The article seen at `url`, given as stored or as a client wrote it (unescaped spaces or accents)."""
    candidates = {url, quote(url, safe=URI_SAFE)}
    # Two configured sites crawling the same pages would share URLs: the one tracked first answers.
    query = (select(Article).join(ArticleUrl, ArticleUrl.article_id == Article.id)
             .where(ArticleUrl.url.in_(candidates)).order_by(Article.id).limit(1))
    article = session.scalars(query).first()
    if article is None:
        raise NotFound("no article newsmon tracks was seen at that URL")
    return article


def mementos(session: Session, article: Article) -> list[Memento]:
    """One memento per second in which a page of the article was fetched and stored, oldest first.

    A page read again by a new extractor (a redesign) becomes a version of its own with the fetch time of
    the page it was read from: of versions sharing a second, the latest reading is the memento of it."""
    rows = session.execute(select(Version.fetched_at, Version.number, Version.url)
                           .where(Version.article_id == article.id).order_by(Version.fetched_at, Version.number))
    by_second: dict[datetime, Memento] = {}
    for fetched_at, number, url in rows:
        at = fetched_at.replace(microsecond=0)
        by_second[at] = Memento(at, number, url)   # keeps the second's place, takes its latest version
    return list(by_second.values())


def link(uri: str, rel: str, params: dict[str, str] | None = None) -> str:
    """One link-format entry (RFC 6690), as in a TimeMap and in Link headers."""
    return f'<{uri}>; rel="{rel}"' + "".join(f'; {name}="{value}"' for name, value in (params or {}).items())


def memento_rel(index: int, count: int) -> str:
    return " ".join([*(["first"] if index == 0 else []), *(["last"] if index == count - 1 else []), "memento"])


@dataclass(frozen=True, slots=True)
class Archive:
    """An article's mementos and the URLs of its Memento resources, absolute under `base` (scheme://host)."""

    article: Article
    mementos: list[Memento]
    base: str

    @classmethod
    def of(cls, session: Session, base: str, in_path: str, query_string: str) -> Archive:
        """The archive of the article a Memento route names (see original_url)."""
        article = find_article(session, original_url(in_path, query_string))
        found = mementos(session, article)
        if not found:
            raise NotFound("no version of that article is stored yet")
        return cls(article, found, base)

    # The original resource is the article's current URL: its older URLs redirect there.
    def original(self) -> str:
        return quote(self.article.url, safe=URI_SAFE)

    def timemap_url(self) -> str:
        return f"{self.base}/timemap/link/{quote(self.article.url, safe=PATH_SAFE)}"

    def timegate_url(self) -> str:
        return f"{self.base}/timegate/{quote(self.article.url, safe=PATH_SAFE)}"

    def memento_url(self, memento: Memento, kind: str = "memento") -> str:
        """`kind` "raw" gives the page as fetched."""
        return f"{self.base}/{kind}/{memento.at.strftime(STAMP)}/{quote(memento.url, safe=PATH_SAFE)}"

    def at(self, stamp: str) -> Memento:
        found = next((m for m in self.mementos if m.at.strftime(STAMP) == stamp), None)
        if found is None:
            raise NotFound(f"no memento of that article at {stamp}; its TimeMap lists them: {self.timemap_url()}")
        return found

    def select(self, when: datetime | None) -> Memento:
        """The TimeGate's choice: the latest memento at or before `when` (the page as it stood then), the
        latest of all when no time is asked for, and the first when the time asked for is before it (the
        closest there is: newsmon holds nothing older)."""
        if when is None:
            return self.mementos[-1]
        before = [m for m in self.mementos if m.at <= when]
        return before[-1] if before else self.mementos[0]

    def timemap(self) -> str:
        first, last, count = self.mementos[0], self.mementos[-1], len(self.mementos)
        entries = [link(self.original(), "original"),
                   link(self.timemap_url(), "self",
                        {"type": LINK_FORMAT, "from": http_date(first.at), "until": http_date(last.at)}),
                   link(self.timegate_url(), "timegate")]
        entries += [link(self.memento_url(m), memento_rel(i, count), {"datetime": http_date(m.at)})
                    for i, m in enumerate(self.mementos)]
        return ",\n".join(entries) + "\n"

    def timegate_headers(self, chosen: Memento) -> tuple[tuple[str, str], ...]:
        ends = dict.fromkeys([0, len(self.mementos) - 1])  # one entry when the first is the last
        links = [link(self.original(), "original"), link(self.timemap_url(), "timemap", {"type": LINK_FORMAT}),
                 *(link(self.memento_url(self.mementos[i]), memento_rel(i, len(self.mementos)),
                        {"datetime": http_date(self.mementos[i].at)}) for i in ends)]
        return (("Location", self.memento_url(chosen)), ("Vary", "accept-datetime"), ("Link", ", ".join(links)))

    def memento_headers(self, memento: Memento) -> tuple[tuple[str, str], ...]:
        links = [link(self.original(), "original"), link(self.timegate_url(), "timegate"),
                 link(self.timemap_url(), "timemap", {"type": LINK_FORMAT})]
        return (("Memento-Datetime", http_date(memento.at)), ("Link", ", ".join(links)))

    def neighbours(self, memento: Memento) -> tuple[Memento | None, Memento | None]:
        index = self.mementos.index(memento)
        return (self.mementos[index - 1] if index else None,
                self.mementos[index + 1] if index + 1 < len(self.mementos) else None)


def memento_page(ctx: Context, archive: Archive, memento: Memento, version: Version, site: str) -> str:
    """A version's text as the article page shows the latest one, with where it stands among the others."""
    earlier, later = archive.neighbours(memento)
    return ENV.get_template("memento.html").render(
        links=ctx.links, generated=ctx.generated, database=ctx.database, static_csp=ctx.static_csp,
        site=site, article_id=archive.article.key, version=version, count=len(archive.mementos),
        position=archive.mementos.index(memento) + 1, fetched_at=utc_iso(version.fetched_at),
        memento_datetime=http_date(memento.at), raw_url=archive.memento_url(memento, "raw"),
        timemap_url=archive.timemap_url(),
        earlier=archive.memento_url(earlier) if earlier else None,
        later=archive.memento_url(later) if later else None)
