"""The stored pages as a WARC file (WARC/1.1, each record gzipped, written by warcio), streamed from the store.

Records, in order: one `warcinfo`; then, per stored version (site by site, article by article, oldest first):
- its page: a `response` record (the page byte for byte, its status line and headers) and a `request` record
  concurrent to it; or, when `newsmon prune` dropped the page, a `metadata` record saying so;
- with `revisits`, a `revisit` record (identical-payload-digest) for every check that found the article
  unchanged, referring to that response.

What newsmon knows of a response is said in a `WARC-Newsmon-Headers` field of its record (README, "WARC").
Record ids are uuid5 names of what a record holds, not random: exporting the same database again gives the
same ids, so a revisit in an export `--since` last week refers to a response of an earlier export by the id
it had there.
"""
from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from monitor import settings
from monitor.store.models import Article, Check, Version
from monitor.store.queries import check_times, check_url, versions_in_order

WARC_VERSION = "1.1"
RECORD_IDS = uuid.UUID("5e0b1f3c-6a8e-4f4b-9a51-7c1d2e9b8a40")   # newsmon's namespace for uuid5 record ids
# Say what a record's HTTP part holds: "received" (with what was changed to fit the stored payload) or
# "reconstructed" (what is known, for versions stored before newsmon kept response heads, and requests).
HEADERS_FIELD = "WARC-Newsmon-Headers"
ARTICLE_FIELD = "WARC-Newsmon-Article"    # site:key, as `newsmon history` takes it
VERSION_FIELD = "WARC-Newsmon-Version"    # the version's number, as in `newsmon export`
# Scrapy stores the body de-chunked and decoded: the headers saying how it travelled no longer describe it.
TRANSFER_HEADERS = ("content-encoding", "transfer-encoding")


def write_warc(session: Session, out: BinaryIO, *, site: str | None = None, since: datetime | None = None,
               revisits: bool = False) -> None:
    """Every stored version (of a site, fetched since a time) as WARC records on `out`; one version's
    page in memory at a time."""
    writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
    writer.write_record(_warcinfo(writer, site, since, revisits))
    checks = _ArticleChecks(session)
    # Pages read with their rows (deferred otherwise), 100 versions at a time.
    query = versions_in_order(site, since).options(undefer(Version.raw_html)).execution_options(yield_per=100)
    for name, article, version in session.execute(query):
        fields = {ARTICLE_FIELD: f"{name}:{article.key}", VERSION_FIELD: str(version.number)}
        page = version.page
        url = checks.fetched_url(article, version)
        unchanged = checks.unchanged(article, version) if revisits else []
        if page is None:
            writer.write_record(_pruned(writer, url, version, fields, sum(len(check_times(c)) for c in unchanged)))
            continue
        response = _response(writer, url, version, page, fields)
        writer.write_record(response)
        writer.write_record(_request(writer, response, fields))
        for check in unchanged:
            for at in check_times(check):
                writer.write_record(_revisit(writer, response, check_url(check, article), at, fields))


class _ArticleChecks:
    """The checks of the article being exported, loaded when it comes (versions arrive article by article):
    one query per article, one article's checks in memory."""

    def __init__(self, session: Session):
        self.session, self.article_id = session, -1
        self.by_version: dict[int, list[Check]] = {}

    def _load(self, article: Article) -> dict[int, list[Check]]:
        if article.id != self.article_id:
            self.article_id, self.by_version = article.id, {}
            for check in self.session.scalars(select(Check).where(Check.article_id == article.id,
                                                                  Check.version_id.is_not(None))
                                              .order_by(Check.checked_at, Check.id)):
                self.by_version.setdefault(check.version_id, []).append(check)
        return self.by_version

    def fetched_url(self, article: Article, version: Version) -> str:
        """The URL the version's page was fetched at: its first check's (the article's URL then), else (a
        version read again from an earlier page, which no check fetched) the page's own URL."""
        first = next((c for c in self._load(article).get(version.id, []) if c.outcome != "unchanged"), None)
        return check_url(first, article) if first else version.url

    def unchanged(self, article: Article, version: Version) -> list[Check]:
        return [c for c in self._load(article).get(version.id, []) if c.outcome == "unchanged"]


def _warcinfo(writer: WARCWriter, site: str | None, since: datetime | None, revisits: bool) -> ArcWarcRecord:
    created = _created_at()
    record = writer.create_warcinfo_record("", {
        "software": f"newsmon/{settings.VERSION}",
        "format": f"WARC File Format {WARC_VERSION}",
        "description": "Pages of news articles as newsmon fetched them, one response per stored version",
        "http-header-user-agent": settings.USER_AGENT,
        "robots": "obey" if settings.ROBOTSTXT_OBEY else "ignore",
        "newsmon-site": site or "all",
        "newsmon-since": _warc_date(since) if since else "",
        "newsmon-revisits": "yes" if revisits else "no",
    })
    record.rec_headers.replace_header("WARC-Date", _warc_date(created))
    record.rec_headers.replace_header("WARC-Record-ID", _record_id(
        "warcinfo", _warc_date(created), site or "", _warc_date(since) if since else "", str(revisits)))
    return record


def _created_at() -> datetime:
    """Now, or SOURCE_DATE_EPOCH (the reproducible-builds convention): the same database then gives the same
    bytes, warcinfo included."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch and epoch.isdigit() else datetime.now(UTC)


def _response(writer: WARCWriter, url: str, version: Version, page: bytes,
              fields: dict[str, str]) -> ArcWarcRecord:
    head = version.head
    http, note = _received(head, len(page)) if head else _reconstructed(version, len(page))
    date = _warc_date(version.fetched_at)
    record_id = _record_id("response", url, date, *fields.values())
    return writer.create_warc_record(url, "response", payload=BytesIO(page), length=len(page), http_headers=http,
                                     warc_headers_dict={"WARC-Record-ID": record_id, "WARC-Date": date,
                                                        HEADERS_FIELD: note, **fields})


def _received(head: bytes, length: int) -> tuple[StatusAndHeaders, str]:
    """The head as received, made to describe the stored payload, and what was changed for that."""
    http = StatusAndHeadersParser([], verify=False).parse(BytesIO(head + b"\r\n"))
    code, _, reason = http.statusline.partition(" ")
    http.statusline = f"{code} {reason or _reason(int(code))}"
    changes = [f"dropped {name}: {value}" for name, value in http.headers if name.lower() in TRANSFER_HEADERS]
    http.headers = [(name, value) for name, value in http.headers if name.lower() not in TRANSFER_HEADERS]
    received_length = http.get_header("Content-Length")
    if received_length != str(length):
        changes.append(f"Content-Length was {received_length}" if received_length else "Content-Length added")
        http.replace_header("Content-Length", str(length))
    return http, "; ".join(["received", *changes])


def _reconstructed(version: Version, length: int) -> tuple[StatusAndHeaders, str]:
    content_type = f"text/html; charset={version.raw_encoding}" if version.raw_encoding else "text/html"
    http = StatusAndHeaders(f"{version.http_status} {_reason(version.http_status)}",
                            [("Content-Type", content_type), ("Content-Length", str(length))], protocol="HTTP/1.1")
    return http, ("reconstructed; stored before newsmon kept response headers: only the status and the "
                  "Content-Type (with the encoding the page was read in) are known")


def _request(writer: WARCWriter, response: ArcWarcRecord, fields: dict[str, str]) -> ArcWarcRecord:
    url = response.rec_headers.get_header("WARC-Target-URI")
    date = response.rec_headers.get_header("WARC-Date")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    http = StatusAndHeaders(f"GET {target} HTTP/1.1", [("Host", parts.netloc), ("User-Agent", settings.USER_AGENT)],
                            is_http_request=True)
    return writer.create_warc_record(url, "request", http_headers=http, warc_headers_dict={
        "WARC-Record-ID": _record_id("request", url, date, *fields.values()), "WARC-Date": date,
        "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
        HEADERS_FIELD: "reconstructed; newsmon does not keep its requests: the method, the URL, Host and "
                       "newsmon's default User-Agent (a site's config may set another)", **fields})


def _revisit(writer: WARCWriter, response: ArcWarcRecord, url: str, at: datetime,
             fields: dict[str, str]) -> ArcWarcRecord:
    date = _warc_date(at)
    return writer.create_revisit_record(
        url, response.rec_headers.get_header("WARC-Payload-Digest"),
        response.rec_headers.get_header("WARC-Target-URI"), response.rec_headers.get_header("WARC-Date"),
        warc_headers_dict={"WARC-Record-ID": _record_id("revisit", url, date, *fields.values()), "WARC-Date": date,
                           "WARC-Refers-To": response.rec_headers.get_header("WARC-Record-ID"), **fields})


def _pruned(writer: WARCWriter, url: str, version: Version, fields: dict[str, str],
            revisits_left_out: int) -> ArcWarcRecord:
    """No page, no response: a metadata record says the version was there, and what is left out."""
    date = _warc_date(version.fetched_at)
    lines = ["page: pruned by newsmon prune; no response record for this version",
             f"http-status: {version.http_status}"]
    if revisits_left_out:
        lines.append(f"revisits-left-out: {revisits_left_out} (a revisit needs the page's payload digest)")
    body = "".join(line + "\r\n" for line in lines).encode("utf-8")
    return writer.create_warc_record(url, "metadata", payload=BytesIO(body), length=len(body),
                                     warc_content_type="application/warc-fields", warc_headers_dict={
                                         "WARC-Record-ID": _record_id("metadata", url, date, *fields.values()),
                                         "WARC-Date": date, **fields})


def _reason(status: int) -> str:
    """The standard reason phrase: Scrapy does not pass on the one the site sent."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _warc_date(value: datetime) -> str:
    return datetime_to_iso_date(value.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _record_id(*names: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(RECORD_IDS, ' '.join(names))}>"
