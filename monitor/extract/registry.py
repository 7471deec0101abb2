"""Which extractor reads a site's pages, by the name of the spider that crawls it (the `sites` table keeps
it), without Scrapy: `newsmon reextract` reads stored pages again as the site's spider would, anywhere.
Kept beside the adapters so that a new one is registered where it is written."""
from __future__ import annotations

from functools import partial

from monitor.extract import Extractor
from monitor.extract.generic import DEFAULT_TIMEZONE, EXTRACTOR, extract_generic
from monitor.extract.lepetitjournal import LAYOUTS, extract_article

# spider name -> the site's own extractor; the generic one reads what it cannot (spiders/base.py `read`).
SITE_EXTRACTORS: dict[str, Extractor] = {
    "lepetitjournal": extract_article,
    "news": extract_generic,
}

# Every reading this newsmon can make, by extractor name and version. It is part of a page's digest
# (spiders/base.py NewsSpider.page_digest): after any change to an extractor, a page seen before is read again.
READERS = " ".join([*(layout.name for layout in LAYOUTS), EXTRACTOR])


def site_readers(spider: str, timezone: str | None = None) -> tuple[Extractor, Extractor]:
    """The site's extractor and its fallback, as the spider named `spider` reads pages. A `news` site's
    dates written without an offset are read in its configured zone (as spiders/news.py does); a spider
    this registry does not know is read by the generic extractor alone."""
    generic: Extractor = extract_generic
    if spider == "news" and timezone and timezone != DEFAULT_TIMEZONE:
        generic = partial(extract_generic, timezone=timezone)
    own = SITE_EXTRACTORS.get(spider, extract_generic)
    return (generic if own is extract_generic else own), generic
