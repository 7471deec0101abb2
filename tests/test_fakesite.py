"""Self-test of the fake news site used by newsmon's crawl tests."""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html.parser import HTMLParser

import pytest

from tests.fakesite import Block, FakeSite, Fault, make_article, make_title, squash

ICT = timezone(timedelta(hours=7))
VOID = {"meta", "link", "img", "input", "br", "hr"}


# ---------------------------------------------------------------- helpers

@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # let tests see the 301 itself
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, **headers: str) -> Response:
    req = urllib.request.Request(url, headers=headers)
    try:
        with _opener.open(req, timeout=10) as r:
            return Response(r.status, dict(r.headers.items()), r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers.items()), e.read())


@dataclass
class Element:
    tag: str
    classes: set[str]
    ancestors: list[tuple[str, set[str]]]
    text: str = ""


class Elements(HTMLParser):
    """Every element with its classes, ancestors and text; checks that tags are balanced."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []
        self.errors: list[str] = []
        self.feed(page)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed {[e.tag for e in self.stack]}")

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        el = Element(tag, set((dict(attrs).get("class") or "").split()), [(e.tag, e.classes) for e in self.stack])
        self.elements.append(el)
        self.stack.append(el)

    def handle_startendtag(self, tag, attrs):  # <meta .../> in the modern theme
        if tag not in VOID:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1].tag != tag:
            self.errors.append(f"unexpected </{tag}>")
            return
        self.stack.pop()

    def handle_data(self, data):
        for el in self.stack:
            el.text += data

    def texts(self, tag: str | None = None, cls: str | None = None, inside: str | None = None,
              not_inside: str | None = None) -> list[str]:
        def has(el_or_anc, c):
            return c in el_or_anc[1] or c == el_or_anc[0]
        out = []
        for el in self.elements:
            if tag and el.tag != tag or cls and cls not in el.classes:
                continue
            if inside and not any(has(a, inside) for a in el.ancestors):
                continue
            if not_inside and any(has(a, not_inside) for a in el.ancestors):
                continue
            out.append(squash(el.text))
        return out


TRICKY = 'Tom & Jerry <b>"guillemets"</b> l’été'


def tricky_article(id: int = 431002):
    a = make_article(id, updated=datetime(2021, 7, 28, 11, 2, tzinfo=ICT))
    a.title = TRICKY
    a.blocks.insert(2, Block("p", "Un script </script><script>alert(1)</script> & « citation » <i>x</i>"))
    return a


@pytest.fixture
def site():
    with FakeSite(noise=True) as s:
        yield s


# ---------------------------------------------------------------- tests

def test_make_article_is_deterministic_and_french():
    a, b = make_article(431002), make_article(431002)
    assert a == b
    assert make_article(431003).title != a.title and make_article(431003).body != a.body
    assert make_article(431002, seed=1).body != a.body
    assert len({make_title(i) for i in range(431000, 433000)}) == 2000  # titles never collide
    text = " ".join(b.text for b in a.blocks)  # raw: .body collapses NBSP like any whitespace
    for needle in ("\u00a0:", "\u00a0%", "«\u202f", "\u202f»", "’", "é"):
        assert needle in text, needle
    assert a.blocks[0].kind == "image" and a.blocks[0].credit
    kinds = [b.kind for b in a.blocks]
    assert {"h2", "quote", "related", "image"} <= set(kinds) and kinds.count("p") == 5
    assert len(a.captions) == 2
    bare = make_article(431004, paragraphs=2, with_quote=False, with_intertitle=False, with_related=False,
                        with_inline_image=False)
    assert [b.kind for b in bare.blocks] == ["image", "p", "p"]
    assert make_article(431005).published > a.published  # higher id, newer article


@pytest.mark.parametrize("theme", ["classic", "modern"])
def test_themes_render_texts_escaped(theme):
    with FakeSite(theme=theme) as site:
        a = site.add(tricky_article())
        r = fetch(site.base_url + a.url)
        assert r.status == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
        page = r.text
        # Nothing leaks as markup: in HTML text "<" is escaped, in script JSON "</" is.
        assert "</b>" not in page and "alert(1)</script>" not in page
        assert "<b>" not in re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
        doc = Elements(page)
        assert doc.errors == []
        if theme == "classic":
            assert doc.texts(cls="field--name-title") == [TRICKY]
            assert doc.texts("p", inside="field--name-field-chapo") == [squash(a.lead)]
            in_body = [e for e in doc.elements if e.tag in ("p", "h2")
                       and any("field--name-body" in c for _, c in e.ancestors)]
            assert [squash(e.text) for e in in_body if squash(e.text)] == a.body
            assert "" in doc.texts("p", inside="field--name-body")  # the &nbsp; paragraphs
            assert doc.texts(cls="image-caption") == [f"{a.captions[0]} {a.captions[0]}"]
            assert doc.texts(cls="image-credit") == [a.blocks[0].credit]
            assert doc.texts(cls="date") == ["Publié le 27 juillet 2021, mis à jour le 28 juillet 2021"]
            assert doc.texts(cls="author") == [f"Écrit par {a.author}"]
            assert doc.texts("h3", inside="related-inline") == [squash(b.text) for b in a.blocks if b.kind == "related"]
            captions = [t.rsplit(" ", 1)[0] for t in doc.texts("figcaption", inside="inline-image")]
            assert captions == a.captions[1:]
        else:
            assert doc.texts(cls="Article_title__a4") == [TRICKY]
            assert doc.texts(cls="Article_chapo__a5") == [squash(a.lead)]
            body = [t for e in doc.elements if e.classes & {"Paragraph_p__x1", "Paragraph_h2__x2", "Quote_q__a9"}
                    for t in [squash(e.text)]]
            assert body == a.body
            captions = [t.split(" ©")[0].strip() for t in doc.texts("figcaption")]
            assert captions == a.captions
            assert doc.texts(cls="Author_name__b1") == [f"Par {a.author}"]
            assert "Publié le 27/07/2021 à 09h29" in page and "Mis à jour le 28/07/2021 à 11h02" in page
            nd = re.search(r'<script id="__NEXT_DATA__" type="application/json">(.*?)</script>', page, re.S)
            node = json.loads(nd.group(1))["props"]["pageProps"]["node"]
            assert node["title"] == TRICKY and node["nid"] == a.id and node["body"][2]["text"] == a.blocks[2].text
            ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
            assert ld["headline"] == TRICKY and ld["dateModified"] == "2021-07-28T11:02:00+07:00"
        assert site.errors == []


def test_title_edit_redirects_old_url(site):
    a = site.add(make_article(431002))
    old = a.url
    site.edit(a.id, title="Un tout nouveau titre")
    assert a.old_urls == [old] and a.url.endswith("/un-tout-nouveau-titre-431002")
    r = fetch(site.base_url + old)
    assert r.status == 301 and r.headers["Location"] == site.base_url + a.url
    assert fetch(site.base_url + a.url).status == 200


def test_gone_articles_and_unknown_paths(site):
    a, b, c = (site.add(make_article(i)) for i in (431002, 431003, 431004))
    site.edit(a.id, status=404)
    site.edit(b.id, status=410)
    assert fetch(site.base_url + a.url).status == 404
    assert fetch(site.base_url + b.url).status == 410
    assert fetch(site.base_url + "/cambodge/actualites/nope-999999").status == 404
    assert fetch(site.base_url + "/vietnam").status == 404  # edition not served by this site
    front = fetch(site.base_url + "/cambodge").text
    assert c.url in front and a.url not in front and b.url not in front


def test_etag_and_304_without_noise():
    with FakeSite(noise=False) as site:
        a = site.add(make_article(431002))
        url = site.base_url + a.url
        r1, r2 = fetch(url), fetch(url)
        assert r1.body == r2.body  # byte-stable without noise
        etag = r1.headers["ETag"]
        assert fetch(url, **{"If-None-Match": etag}).status == 304
        assert fetch(url, **{"If-Modified-Since": r1.headers["Last-Modified"]}).status == 304
        site.edit(a.id, lead=a.lead + " Précision.")
        r3 = fetch(url, **{"If-None-Match": etag})
        assert r3.status == 200 and r3.headers["ETag"] != etag
        assert fetch(url, **{"If-Modified-Since": r1.headers["Last-Modified"]}).status == 200  # silent edit
        site.theme = "modern"
        assert fetch(url).headers["ETag"] not in (etag, r3.headers["ETag"])


def test_noise_changes_bytes_and_rotates_lists(site):
    for i in range(431002, 431022):
        site.add(make_article(i))
    url = site.base_url + site.article(431010).url
    r1, r2 = fetch(url), fetch(url)
    assert r1.body != r2.body  # per-request counters, tokens
    assert fetch(url, **{"If-None-Match": r1.headers["ETag"]}).status == 200  # no 304 with noise
    most = lambda r: Elements(r.text).texts(inside="most-read", tag="li")  # noqa: E731
    assert most(r1) == most(r2)
    site.rotate_noise()
    r3 = fetch(url)
    assert most(r3) != most(r1) and "© lepetitjournal.com 2025" in r3.text
    assert Elements(r3.text).texts(inside="field--name-body") == Elements(r1.text).texts(inside="field--name-body")


def test_sitemaps_feeds_and_robots(site):
    a = site.add(make_article(431002, updated=datetime(2021, 7, 28, 4, 2, tzinfo=timezone.utc)))
    b = site.add(make_article(431003, edition="bangkok"))
    assert "Disallow: /_private/" in fetch(site.base_url + "/robots.txt").text
    index = fetch(site.base_url + "/sitemap.xml").text
    assert f"<loc>{site.base_url}/sitemap-cambodge.xml</loc>" in index and "sitemap-bangkok" in index
    sm = fetch(site.base_url + "/sitemap-cambodge.xml").text
    assert f"<loc>{site.base_url}{a.url}</loc><lastmod>2021-07-28T11:02:00+07:00</lastmod>" in sm
    assert f"<lastmod>{b.published.isoformat()}</lastmod>" in fetch(site.base_url + "/sitemap-bangkok.xml").text
    rss = fetch(site.base_url + "/cambodge/rss.xml")
    assert rss.headers["Content-Type"].startswith("application/rss+xml")
    assert f'<guid isPermaLink="false">{a.id}</guid>' in rss.text and f"<link>{site.base_url}{a.url}</link>" in rss.text
    home = Elements(fetch(site.base_url + "/").text)
    assert home.texts("a", inside="editions") == ["Cambodge", "Bangkok"] and home.errors == []


def test_front_page_pagination(site):
    arts = [site.add(make_article(431002 + i)) for i in range(35)]
    newest_first = sorted(arts, key=lambda a: a.published, reverse=True)
    p0 = fetch(site.base_url + "/cambodge").text
    assert re.findall(r'<div class="teaser"><h2><a href="([^"]+)"', p0) == [a.url for a in newest_first[:30]]
    assert 'rel="next" href="/cambodge?page=1"' in p0 and Elements(p0).errors == []
    p1 = fetch(site.base_url + "/cambodge?page=1").text
    assert re.findall(r'<div class="teaser"><h2><a href="([^"]+)"', p1) == [a.url for a in newest_first[30:]]
    assert 'rel="next"' not in p1


def test_faults(site):
    a = site.add(make_article(431002))
    url = site.base_url + a.url
    site.set_fault(a.url, Fault(status=503, headers={"Retry-After": "1"}, times=1))
    r = fetch(url)
    assert r.status == 503 and r.headers["Retry-After"] == "1"
    assert fetch(url).status == 200  # applied once, then cleared
    site.set_fault(a.url, Fault(truncate_at=500))
    r = fetch(url)
    assert r.status == 200 and len(r.body) == 500 and r.headers["Content-Length"] == "500"
    site.set_fault(a.url, Fault(body=b"<h1>Maintenance</h1>", headers={"Content-Type": "text/html; charset=iso-8859-1"}))
    r = fetch(url)
    assert r.body == b"<h1>Maintenance</h1>" and r.headers["Content-Type"].endswith("iso-8859-1")
    site.set_fault(a.url, Fault(reset=True, times=1))
    with pytest.raises(ConnectionResetError):
        fetch(url)
    site.set_fault(a.url, None)
    assert fetch(url).status == 200
    assert [(log.status, log.fault) for log in site.requests] == [(503, True), (200, False), (200, True),
                                                                  (200, True), (0, True), (200, False)]


def test_delay_and_concurrency(site):
    a = site.add(make_article(431002))
    site.set_fault(a.url, Fault(delay=0.5))
    threads = [threading.Thread(target=fetch, args=(site.base_url + a.url,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert site.max_concurrency == 3
    assert all(log.end - log.time >= 0.5 for log in site.requests)


def test_restore_brings_back_the_saved_site():
    with FakeSite(noise=False) as site:
        a, b = site.add(make_article(431002)), site.add(make_article(431003))
        a_url, b_url, published = site.base_url + a.url, site.base_url + b.url, a.published
        page = fetch(a_url).body
        saved = site.save()
        for _ in range(2):  # a saved state can be restored again
            site.article(a.id).blocks[1].text += " Ajout direct."  # tests also change blocks in place
            site.edit(a.id, title="Un titre changé")
            site.edit(b.id, status=410)
            site.set_fault(site.article(a.id).url, Fault(status=500))
            site.theme, site.noise, site.latency = "modern", True, 0.2
            site.rotate_noise()
            fetch(a_url)
            site.restore(saved)
            assert site.requests == [] and site.max_concurrency == 0
            assert (site.theme, site.noise, site.latency) == ("classic", False, 0.0)
            assert fetch(site.base_url + "/cambodge/actualites/un-titre-change-431002").status == 404
            assert fetch(a_url).body == page  # the same bytes: no edit, no fault, no phase
            assert fetch(b_url).status == 200
            since = format_datetime(published.astimezone(timezone.utc), usegmt=True)
            assert fetch(a_url, **{"If-Modified-Since": since}).status == 304  # untouched since add()
