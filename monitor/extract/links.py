"""Which links of a news site are its articles, and which links a feed lists: pure string and XML rules,
shared by the `news` spider (spiders/news.py) and `newsmon add` (monitor/onboard.py), which reads a site
without Scrapy. Moved here from the spider so that both read a site by the same rules.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import lxml.etree

# Path segments of pages that list or surround articles, in the languages newsmon meets first.
_LISTING_SEGMENTS = frozenset({
    # tags and topics
    "tag", "tags", "topic", "topics", "theme", "themes", "keyword", "keywords", "schlagwort", "etiqueta", "etiquetas",
    # authors
    "author", "authors", "auteur", "auteurs", "autor", "autoren", "autores", "autore", "autori", "byline",
    # categories and sections
    "category", "categories", "categorie", "categoria", "categorias", "kategorie", "rubrique", "rubriques",
    "rubrik", "ressort", "section", "sections",
    # search, pagination, feeds, archives
    "search", "recherche", "suche", "buscar", "busqueda", "ricerca", "cerca", "page", "pages", "seite", "pagina",
    "feed", "feeds", "rss", "atom", "sitemap", "sitemaps", "archive", "archives", "archiv", "archivio",
    # the CMS's files, AMP copies (their canonical is the article itself)
    "wp-content", "wp-admin", "wp-includes", "wp-json", "wp-login.php", "static", "assets", "cdn-cgi", "amp",
    # the site's own pages
    "login", "signin", "sign-in", "logout", "register", "account", "compte", "newsletter", "newsletters",
    "subscribe", "abonnement", "abo", "contact", "about", "about-us", "privacy", "cookies", "terms", "legal",
    "imprint", "impressum", "mentions-legales", "cgu", "cgv",
})
# Query parameters of searches, pagination and listings.
_LISTING_QUERY = re.compile(r"(?:^|&)(?:page|paged|pg|s|q|query|search|tag|cat|category|author|feed|replytocom)=",
                            re.IGNORECASE)
_STATIC_FILE = re.compile(
    r"\.(?:jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|css|js|mjs|map|json|xml|rss|atom|rdf|txt|csv|pdf|docx?"
    r"|xlsx?|pptx?|odt|epub|zip|gz|tgz|rar|7z|mp3|m4a|aac|ogg|oga|wav|flac|mp4|m4v|webm|mov|avi|mkv"
    r"|woff2?|ttf|otf|eot)$", re.IGNORECASE)
# What an article's last segment (or query) holds and a section's does not: an id, or a slug of words.
_ID = re.compile(r"\d{3,}")
_YEAR = re.compile(r"(?:19|20)\d\d")
_SLUG_WORDS = 3
_PAGE_SUFFIX = re.compile(r"\.(?:s?html?|php|aspx?|jsp|cms)$", re.IGNORECASE)
_QUERY_ID = re.compile(r"(?:^|&)(?:id|p|article|articleid|story|storyid|sid|aid|nid)=\d+", re.IGNORECASE)


def site_host(url: str) -> str:
    """www.example.com and example.com are one site: links of either are the site's."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def looks_like_article(url: str, *, declared: bool = False) -> bool:
    """The default test of an article URL, given no `article_urls`: not a listing, search, feed, home or
    static-file URL, and a last segment that holds an id (3+ digits, not a lone year) or a slug of 3+ words,
    or a query naming an id (`?p=123`). A URL the site itself `declared` as an entry of its feeds or
    sitemaps needs no id or long slug ("/news/8-dna"): only links found on pages are guessed at."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if _LISTING_QUERY.search(parts.query):
        return False
    if _QUERY_ID.search(parts.query):
        return not any(s.lower() in _LISTING_SEGMENTS for s in segments)
    if not segments or _STATIC_FILE.search(segments[-1]):
        return False
    if any(s.lower() in _LISTING_SEGMENTS for s in segments):
        return False
    last = _PAGE_SUFFIX.sub("", segments[-1])
    if all(s.isdigit() for s in segments) and not any(len(s) >= 5 for s in segments):
        return False  # a date archive: /2024, /2024/05/02
    has_id = bool(_ID.search(last)) and not _YEAR.fullmatch(last)
    return declared or has_id or len([w for w in re.split(r"[-_+.]+", last) if w]) >= _SLUG_WORDS


# Feeds and sitemaps are read leniently (recover) and never fetch or expand anything themselves.
_PARSER = lxml.etree.XMLParser(recover=True, resolve_entities=False, no_network=True, remove_comments=True)
_FEED_LINKS = lxml.etree.XPath(
    "//*[local-name()='item']/*[local-name()='link']/text()"
    " | //*[local-name()='item'][not(*[local-name()='link'][normalize-space()])]"
    "/*[local-name()='guid'][not(@isPermaLink='false')]/text()"
    " | //*[local-name()='entry']/*[local-name()='link'][not(@rel) or @rel='alternate']/@href")


def xml_root(body: bytes) -> Any:
    try:
        return lxml.etree.fromstring(body, parser=_PARSER)
    except lxml.etree.XMLSyntaxError:
        return None


def feed_links(body: bytes) -> list[str]:
    root = xml_root(body)
    if root is None:
        return []
    return [link for text in _FEED_LINKS(root) if (link := str(text).strip())]
