"""Response heads (status line and headers, as received) stored with their version, in few bytes.

A head alone is too short for zstd to find repeats in (a fake site's 250 bytes packed to 205), while most of
it is what the same site says every time (its server, content type, cache policy, the names of its headers).
So each site keeps the first head newsmon stored of it, as received (`sites.head_reference`, set once and
never changed), and every head of the site is packed against it, as a zstd raw-content dictionary: 60 bytes
a head on the newsroom simulator (a fixed dictionary of common header lines reached 118-124). A packed head
starts with its format's byte, so that another way of packing can come later and heads already stored still
read.
"""
from __future__ import annotations

import zstandard
from sqlalchemy import update
from sqlalchemy.orm import Session

HEAD_LEVEL = 3   # higher gains nothing on so short an input (simulator: 60.0 bytes at 3, 61.0 at 19)
FORMAT_1 = 1     # zstd, the site's reference head as a raw-content dictionary


def pack_head(head: bytes, reference: bytes) -> bytes:
    """A head as stored: its format's byte, then its zstd frame."""
    compressor = zstandard.ZstdCompressor(level=HEAD_LEVEL, dict_data=_dictionary(reference), write_checksum=False,
                                          write_dict_id=False)
    return bytes([FORMAT_1]) + compressor.compress(head)


def unpack_head(data: bytes, reference: bytes) -> bytes:
    """A head as received, from what pack_head stored with the same reference."""
    if not data or data[0] != FORMAT_1:
        raise ValueError(f"unknown format of a stored response head: {data[:1]!r}")
    return zstandard.ZstdDecompressor(dict_data=_dictionary(reference)).decompress(bytes(data[1:]))


def _dictionary(reference: bytes) -> zstandard.ZstdCompressionDict:
    # Built for each head: 12 µs, its compression included; nothing to cache, nor to keep apart per database.
    return zstandard.ZstdCompressionDict(reference, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def site_reference(session: Session, site_id: int, head: bytes) -> bytes:
    """The site's reference head: the stored one, else `head`, which becomes it. Set only where none is: of
    two writers setting it at once, the second waits for the first's commit, finds one and reads it."""
    from monitor.store.models import Site  # models import this module to read heads

    with session.no_autoflush:   # the batch being recorded is flushed once, at its end (ingest.py)
        site = session.get(Site, site_id)   # from the session's identity map after the batch's first head
        assert site is not None
        if site.head_reference is None:
            session.execute(update(Site).where(Site.id == site_id, Site.head_reference.is_(None))
                            .values(head_reference=head), execution_options={"synchronize_session": False})
            session.refresh(site, ["head_reference"])
    assert site.head_reference is not None
    return site.head_reference
