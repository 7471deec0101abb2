"""`newsmon add URL`: a small news site of the test's own over real HTTP (http.server in a thread), read by the
command in this process. It shows what the generic extractor reads on the site's articles, appends the site's
table to a config whose own text stays byte for byte, and the config loads; every refusal is one line, exit 2,
and the file untouched."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import pytest

from monitor import settings
from monitor.config import load_config
from monitor.extract.generic import EXTRACTOR
from monitor.onboard import default_name
from tests.conftest import run_in_process

ARTICLES = {
    "/news/harbour-council-votes-to-rebuild-the-quay-431001": (
        "Harbour council votes to rebuild the quay", "2026-11-30T08:15:00+00:00", "Jane Doe",
        [("The harbour council voted on Monday to rebuild the old quay after the winter storms left the fishing "
          "fleet without a safe berth."), "Work is to start in the spring and last two years."]),
    "/news/market-returns-to-the-old-fish-hall-431002": (
        "Market returns to the old fish hall", "2026-11-29T17:40:00+00:00", "John Smith",
        ["Traders moved back into the old fish hall on Saturday, three years after it closed for repairs.",
         "The council says the hall will open every day of the week."]),
    # robots.txt forbids it: `add` must never fetch it, though the feed lists it first.
    "/private/members-only-story-about-the-harbour-431000": (
        "Members only", "2026-11-30T09:00:00+00:00", "Nobody", ["A story for members only, of some length."]),
}


def article_page(path: str, base: str) -> str:
    """A WordPress-like page: JSON-LD NewsArticle, <time>, the body among menus and a sidebar."""
    title, published, author, paragraphs = ARTICLES[path]
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
            "datePublished": published, "author": {"@type": "Person", "name": author}, "mainEntityOfPage": base + path}
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | Harbour Times</title>
<script type="application/ld+json">{json.dumps(data)}</script></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/tag/harbour">Harbour</a></nav>
<main><article><h1>{escape(title)}</h1><p class="byline">By <span class="author">{escape(author)}</span>
<time datetime="{published}">{published[:10]}</time></p><div class="entry-content">{body}</div></article>
<aside><h2>Most read</h2></aside></main><footer><a href="/about">About</a></footer></body></html>"""


def home_page(feed: bool) -> str:
    link = '<link rel="alternate" type="application/rss+xml" title="Harbour Times" href="/rss.xml">' if feed else ""
    links = "".join(f'<li><a href="{path}">{escape(t[0])}</a></li>' for path, t in ARTICLES.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Harbour Times</title>{link}</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/tag/harbour">Harbour</a> <a href="/page/2">More</a></nav>
<ul>{links}</ul></body></html>"""


def rss(base: str) -> str:
    items = "".join(f"<item><title>{escape(t[0])}</title><link>{base}{path}</link></item>"
                    for path, t in sorted(ARTICLES.items(), key=lambda kv: not kv[0].startswith("/private")))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Times</title>{items}</channel></rss>'


class HarbourTimes:
    """The site, on a free port of 127.0.0.1; it records each request's path and User-Agent."""

    def __init__(self, feed: bool = True, shell: bool = False):
        self.feed, self.shell, self.requests = feed, shell, []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append((self.path, self.headers.get("User-Agent")))
                status, kind, text = site.answer(self.path)
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, path: str) -> tuple[int, str, str]:
        html = "text/html; charset=utf-8"
        if path == "/":
            return 200, html, home_page(self.feed)
        if path == "/robots.txt":
            return 200, "text/plain", (f"User-agent: *\nDisallow: /private/\n\n"
                                       f"Sitemap: {self.base_url}/sitemap_index.xml\n")
        if path == "/rss.xml" and self.feed:
            return 200, "application/rss+xml", rss(self.base_url)
        if path in ARTICLES and self.shell and path.endswith("431001"):
            # A page rendered by script: nothing for any extractor to read.
            return 200, html, '<!doctype html><html><body><div id="app"></div><script src="/a.js"></script></body>'
        if path in ARTICLES:
            return 200, html, article_page(path, self.base_url)
        return 404, html, "<html><body>Not found</body></html>"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[HarbourTimes]:
    with HarbourTimes() as running:
        yield running


# A config as a user writes it: comments, alignment, a blank line kept at the end, another site's tables.
EXISTING = """\
# newsmon config — edited by hand
db = "sqlite:////tmp/never-opened.db"   # the database

[sites.lepetitjournal]
base_url = "https://lepetitjournal.com"   # the French expat site
editions = ["cambodge", "bangkok"]

[sites.lepetitjournal.policy]
listed_every = "3h"    # featured articles

"""


def newsmon(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`newsmon ARGS` in this process, the user's config folder inside the test's folder."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}
    return run_in_process(args, env)


def test_add_shows_the_articles_and_appends_the_site_keeping_the_config(site: HarbourTimes, tmp_path: Path) -> None:
    config = tmp_path / "newsmon.toml"
    config.write_text(EXISTING, encoding="utf-8")

    proc = newsmon(tmp_path, "add", site.base_url, "--name", "harbour", "--config", str(config))

    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # The preview: both articles as the generic extractor reads them.
    for title, published, author, paragraphs in list(ARTICLES.values())[:2]:
        assert title in out and published in out and author in out and paragraphs[0] in out
    assert f"extractor        {EXTRACTOR}" in out
    assert f"feeds     {site.base_url}/rss.xml" in out
    assert f"sitemaps  {site.base_url}/sitemap_index.xml" in out
    assert f"added [sites.harbour] to {config}" in out
    # The file: the user's text byte for byte, then the new table.
    text = config.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    assert text[len(EXISTING):] == (f'[sites.harbour]\nspider = "news"\nbase_url = "{site.base_url}"\n'
                                    f'feeds = ["{site.base_url}/rss.xml"]\n'
                                    f'sitemaps = ["{site.base_url}/sitemap_index.xml"]\n')
    loaded = load_config(config)
    harbour = loaded.site("harbour")
    assert (harbour.spider, harbour.base_url) == ("news", site.base_url)
    assert harbour.feeds == (f"{site.base_url}/rss.xml",)
    assert harbour.sitemaps == (f"{site.base_url}/sitemap_index.xml",)
    assert loaded.site("lepetitjournal").editions == ("cambodge", "bangkok")
    # Politely: as newsmon, robots.txt first, never a page it forbids, a handful of requests.
    assert {agent for _, agent in site.requests} == {settings.USER_AGENT}
    paths = [path for path, _ in site.requests]
    assert paths[0] == "/robots.txt"
    assert not any(p.startswith("/private/") for p in paths)
    assert len(paths) <= 5


def test_a_site_without_a_feed_is_read_from_its_home_page_into_a_new_default_config(tmp_path: Path) -> None:
    with HarbourTimes(feed=False) as site:
        proc = newsmon(tmp_path, "add", site.base_url + "/")
    assert proc.returncode == 0, proc.stderr
    assert "Harbour council votes to rebuild the quay" in proc.stdout
    assert "feeds     none announced" in proc.stdout
    config = tmp_path / "xdg-config" / "newsmon" / "config.toml"   # default_config_path(), created
    site_config = load_config(config).site("127-0-0-1")
    assert site_config.base_url == site.base_url and site_config.feeds == ()
    assert site_config.sitemaps == (f"{site.base_url}/sitemap_index.xml",)


def test_dry_run_shows_the_preview_and_writes_nothing(site: HarbourTimes, tmp_path: Path) -> None:
    config = tmp_path / "newsmon.toml"
    config.write_text(EXISTING, encoding="utf-8")
    proc = newsmon(tmp_path, "add", site.base_url, "--name", "harbour", "--config", str(config), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "Market returns to the old fish hall" in proc.stdout
    assert "dry run: [sites.harbour] not added" in proc.stdout
    assert config.read_text(encoding="utf-8") == EXISTING


@pytest.mark.parametrize("host, name", [
    ("https://www.harbour-times.example", "harbour-times"),
    ("https://lepetitjournal.com/cambodge", "lepetitjournal"),
    ("https://news.bbc.co.uk/", "news-bbc"),
    ("http://localhost:8000", "localhost"),
    ("http://127.0.0.1:8765", "127-0-0-1"),
])
def test_the_default_name_is_the_host_without_www_and_tld(host: str, name: str) -> None:
    assert default_name(host) == name


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case", ["not-http", "no-scheme", "unreachable", "duplicate", "broken-toml"])
def test_refusals_are_one_line_and_leave_the_file_as_it_was(site: HarbourTimes, tmp_path: Path, case: str) -> None:
    config = tmp_path / "newsmon.toml"
    original = EXISTING + ("[sites.broken\nbase_url = 1\n" if case == "broken-toml" else "")
    config.write_text(original, encoding="utf-8")
    url = {"not-http": "ftp://harbour-times.example/", "no-scheme": "harbour-times.example",
           "unreachable": f"http://127.0.0.1:{closed_port()}"}.get(case, site.base_url)
    name = "lepetitjournal" if case == "duplicate" else "harbour"

    proc = newsmon(tmp_path, "add", url, "--name", name, "--config", str(config))

    assert proc.returncode == 2
    assert proc.stderr.startswith("newsmon: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    expected = {"not-http": "must be an http(s) URL", "no-scheme": "must be an http(s) URL",
                "unreachable": "cannot reach", "duplicate": "'lepetitjournal' is already configured",
                "broken-toml": "not valid TOML"}[case]
    assert expected in proc.stderr
    assert proc.stdout == ""
    assert config.read_text(encoding="utf-8") == original
    if case in ("not-http", "no-scheme", "duplicate", "broken-toml"):
        assert site.requests == []   # refused before the site is asked anything


def test_an_unreadable_article_is_shown_with_its_reason_and_a_quoted_name_loads(tmp_path: Path) -> None:
    config = tmp_path / "newsmon.toml"
    with HarbourTimes(shell=True) as site:
        proc = newsmon(tmp_path, "add", site.base_url, "--name", "harbour times.uk", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "  unreadable       generic/3: " in proc.stdout
    assert "Market returns to the old fish hall" in proc.stdout   # the other article still reads
    assert config.read_text(encoding="utf-8").startswith('[sites."harbour times.uk"]\n')
    assert load_config(config).site("harbour times.uk").spider == "news"
