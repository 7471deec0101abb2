"""An article's URL in one stable form, so that the same article reached from a feed, a sitemap, a share link
or a 301 gets the same key.

Only what never names another page is changed: scheme and host case, a default port, the fragment, the
trailing slash, and the query parameters that only say where a reader came from (utm_*, fbclid, gclid...).
Everything else in the query is kept as written and in its order: some sites put the article id there
(`?id=431001`), and re-encoding or sorting it could make two keys for one article across versions of newsmon.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# Parameters that analytics, ad and newsletter tools append to a link; they never select a page.
_TRACKING = re.compile(
    r"(?:utm_[a-z0-9_]+|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid|mc_cid|mc_eid"
    r"|_ga|_gl|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|ocid|cmpid|xtor|at_medium|at_campaign"
    r"|ns_mchannel|ns_source|ns_campaign|ns_linkname|ns_fee|sr_share|smid|s_cid)",
    re.IGNORECASE)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def normalise_url(url: str) -> str:
    """'HTTPS://Example.COM:443/News/Story-42/?utm_source=rss&id=7#top' -> 'https://example.com/News/Story-42?id=7'.

    The path keeps its case (servers tell /News from /news); only a trailing slash goes, as most sites
    answer both forms with the same page (and a redirect between them)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    userinfo, at, host = parts.netloc.rpartition("@")
    host = host.lower()
    if host.endswith(_DEFAULT_PORTS.get(scheme, "\0")):
        host = host[: -len(_DEFAULT_PORTS[scheme])]
    query = "&".join(pair for pair in parts.query.split("&")
                     if pair and not _TRACKING.fullmatch(pair.partition("=")[0]))
    return urlunsplit((scheme, userinfo + at + host, parts.path.rstrip("/"), query, ""))
