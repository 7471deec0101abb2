"""Whether a URL is one newsmon can fetch or post to: http(s), a host, a usable port, nothing unprintable.
Checked where URLs are read (the config, `newsmon add`, notification targets), so that a bad one is one
line naming it instead of a failure at every request."""
from __future__ import annotations

from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """What is wrong with a URL newsmon fetches or posts to as written (a site's feed, sitemap, listing page, a
    webhook), or None: "must be an http(s) URL with a host, not ..."."""
    rule = f"must be an http(s) URL with a host, not {url!r}"
    if any(c.isspace() or not c.isprintable() for c in url):
        return f"{rule} (it holds spaces or control characters)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{rule} ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return rule
    if port == 0:
        return f"{rule} (port 0 cannot be fetched)"
    return None
