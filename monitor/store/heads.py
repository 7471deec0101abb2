"""Response heads (status line and headers, as received) stored with their version, in few bytes.

A head alone is too short for zstd to find repeats in (a fake site's 250 bytes packed to 205), while most of
it is what the same site says every time (its server, content type, cache policy, the names of its headers).
So each site keeps the first head newsmon stored of it, as received (`sites.head_reference`, set once and
never changed), and every head of the site is packed against it, as a zstd raw-content dictionary: 60 bytes
a head on the newsroom simulator (a fixed dictionary of common header lines reached 118-124). Packing and
unpacking: codec.py.
"""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from monitor.store.models import Site


def site_reference(session: Session, site_id: int, head: bytes) -> bytes:
    """The site's reference head: the stored one, else `head`, which becomes it. Set only where none is: of
    two writers setting it at once, the second waits for the first's commit, finds one and reads it.

    Read once per session (a batch): the identity map holds the Site only weakly, and a query per head cost
    a first crawl 0.4 ms an article. Never changed once set, so the session's copy cannot go stale."""
    known: dict[int, bytes] = session.info.setdefault("head_references", {})
    if (reference := known.get(site_id)) is not None:
        return reference
    with session.no_autoflush:   # what the batch being recorded changed is written once, at its end (ingest.py)
        site = session.get(Site, site_id)
        assert site is not None
        if site.head_reference is None:
            session.execute(update(Site).where(Site.id == site_id, Site.head_reference.is_(None))
                            .values(head_reference=head), execution_options={"synchronize_session": False})
            session.refresh(site, ["head_reference"])
    assert site.head_reference is not None
    known[site_id] = site.head_reference
    return site.head_reference
