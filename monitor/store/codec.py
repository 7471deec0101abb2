"""How newsmon's stored bytes are encoded, and read back: what the table definitions (models.py) need, with
no model of its own, so that models import this module and not the reverse.

- Text columns: `lead`, `body` and `captions` are zstd frames (without dictionary: a column type knows no
  site) when that is shorter than their UTF-8 form; `PackedText` and `PackedJSON` do it as column types, so
  every reader and writer of those attributes is unchanged. Text stored before 0007 (plain UTF-8, or
  TEXT/JSON in SQLite) still reads. No query filters on these columns (queries.py filters on titles,
  editions and change fields only).
- Pages: `read_page` reads the three forms a stored page takes (zlib before 0007, zstd, zstd with the site
  dictionary its row names; compression.py writes them and trains the dictionaries).
- Response heads: packed against the site's reference head as a zstd raw-content dictionary (heads.py
  keeps the reference). A packed head starts with its format's byte, so that another way of packing can
  come later and heads already stored still read.
"""
from __future__ import annotations

import json
import threading
import zlib
from typing import Any

import zstandard
from sqlalchemy import LargeBinary, TypeDecorator, column, select, table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
TEXT_LEVEL = 3
TEXT_MIN_BYTES = 64     # shorter text gains nothing from a zstd frame (its header alone is 6+ bytes)
# The dictionaries' rows as read here (models.PageDictionary defines the table).
_DICTIONARY_ROWS = table("page_dictionaries", column("id"), column("data"))


# ---------------------------------------------------------------- text columns

def pack_bytes(data: bytes, level: int = TEXT_LEVEL) -> bytes:
    """`data` as a zstd frame when that is shorter, else as it is (never mistaken for a frame: UTF-8 text
    cannot begin with the frame's magic number, whose second byte is a continuation byte)."""
    if len(data) < TEXT_MIN_BYTES:
        return data
    packed = _text_compressor().compress(data) if level == TEXT_LEVEL else zstandard.ZstdCompressor(
        level=level, write_checksum=False).compress(data)
    return packed if len(packed) < len(data) else data


def unpack_bytes(value: bytes | memoryview | str) -> str:
    """The text stored by `pack_bytes`, or by newsmon before 0007 (TEXT in SQLite: a str)."""
    if isinstance(value, str):
        return value
    data = bytes(value)
    if data.startswith(ZSTD_MAGIC):
        data = _decompressor().decompress(data)
    return data.decode("utf-8")


class PackedText(TypeDecorator[str]):
    """A text column stored compressed (see the module's docstring)."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_bytes(value.encode("utf-8"))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else unpack_bytes(value)


class PackedJSON(TypeDecorator[list[str]]):
    """A JSON list of strings stored compressed; reads the JSON columns of databases before 0007 too."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return pack_bytes(json.dumps(list(value), ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, list):  # a PostgreSQL json column, read before the migration changed its type
            return value
        return json.loads(unpack_bytes(value))


# ---------------------------------------------------------------- zstd objects, per thread

_local = threading.local()  # zstd compressors and decompressors are not thread-safe; the pipeline writes in a thread


def _text_compressor() -> zstandard.ZstdCompressor:
    if (c := getattr(_local, "text", None)) is None:
        c = _local.text = zstandard.ZstdCompressor(level=TEXT_LEVEL, write_checksum=False)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    if (d := getattr(_local, "plain", None)) is None:
        d = _local.plain = zstandard.ZstdDecompressor()
    return d


# ---------------------------------------------------------------- pages

class _Dictionaries:
    """Dictionaries by id, loaded once per process. Safe across databases and threads: an id names one
    dictionary forever (random, never reused), and rows are never changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[int, zstandard.ZstdCompressionDict] = {}

    def get(self, session: Session, dictionary_id: int) -> zstandard.ZstdCompressionDict:
        with self._lock:
            found = self._data.get(dictionary_id)
        if found is None:
            data = session.scalar(select(_DICTIONARY_ROWS.c.data).where(_DICTIONARY_ROWS.c.id == dictionary_id))
            if data is None:
                raise LookupError(f"page dictionary {dictionary_id} is not in the database")
            found = self.put(dictionary_id, data)
        return found

    def put(self, dictionary_id: int, data: bytes) -> zstandard.ZstdCompressionDict:
        loaded = zstandard.ZstdCompressionDict(data)
        with self._lock:
            self._data[dictionary_id] = loaded
        return loaded


DICTIONARIES = _Dictionaries()


def read_page(session: Session | None, data: bytes | None, dictionary_id: int | None) -> bytes | None:
    """A stored page as fetched, whatever its form; None when it was pruned (stored empty)."""
    if not data:
        return None
    data = bytes(data)
    if not data.startswith(ZSTD_MAGIC):
        return zlib.decompress(data)
    if dictionary_id is None:
        return _decompressor().decompress(data)
    if session is None:
        raise LookupError("a page compressed with a dictionary is read through a database session")
    return zstandard.ZstdDecompressor(dict_data=DICTIONARIES.get(session, dictionary_id)).decompress(data)


# ---------------------------------------------------------------- response heads

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
