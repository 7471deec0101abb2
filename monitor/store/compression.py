"""Compact storage: raw pages in zstd with a dictionary trained per site, long text fields in zstd.

Pages. A news site's pages share most of their markup (header, menus, footer, scripts), which a page
compressed alone must spell out each time. A zstd dictionary trained on the site's own pages holds that
shared part once: on the newsroom simulator a page of 11.5 KB takes 3.3 KB with zlib, 3.4 KB with zstd
alone, about 1 KB with zstd and a dictionary (bench/storage.py). The rules, all in this module:

- A version's page is stored in one of three forms, told apart by their first bytes: zlib (pages written
  before migration 0007: 0x78...), zstd without dictionary, zstd with the dictionary its row names
  (`versions.page_dictionary_id`). `read_page` reads every form; a pruned page is empty (`newsmon prune`).
- A site gets its first dictionary as soon as TRAIN_AFTER pages of it are known (stored, or in the batch
  being written: a first crawl trains on its own first batch, so its pages are written with the dictionary).
  Until then its pages are zstd without dictionary; the first dictionary takes them over (compresses them
  again) when it is trained, so that a site's first pages do not keep three times the room.
- Each dictionary records the ratio (page bytes / compressed bytes) it reached on pages it was not trained
  on. When the last RETRAIN_WINDOW pages compressed with it reach less than RETRAIN_BELOW of that ratio (a
  redesign, new markup), a new version of the site's dictionary is trained on the latest pages. Older pages
  keep the dictionary they were written with: dictionaries are never changed nor deleted.
- A dictionary's id is a random 48-bit number, never a counter: an id that a rolled-back transaction used
  is never given to another dictionary, so the process-wide cache of dictionaries by id can never hold a
  stale one, whichever database it serves.

Text fields and reading pages back: codec.py.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import zstandard
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.store.codec import DICTIONARIES, read_page
from monitor.store.models import Article, PageDictionary, Version

PAGE_LEVEL = 3          # level 9 saves ~25 % more of a page but costs 12x the time (0.54 ms a page)
DICTIONARY_BYTES = 32 * 1024   # measured on the simulator: 32 KB beat 16 KB and 64-110 KB
TRAIN_AFTER = 50        # pages of a site before its first dictionary (50 trained as well as 200 on the simulator)
TRAIN_ON = 300          # the latest pages a dictionary is trained on, at most
RETRAIN_WINDOW = 100    # pages compressed with a dictionary before its ratio is judged
RETRAIN_BELOW = 0.75    # retrain when recent pages compress to less than this share of the dictionary's ratio


# ---------------------------------------------------------------- dictionaries

@dataclass(frozen=True, slots=True)
class Dictionary:
    """One version of a site's page dictionary, as stored in `page_dictionaries`."""

    id: int
    site_id: int
    number: int
    data: bytes
    ratio: float          # page bytes / compressed bytes on pages it was not trained on


@dataclass(frozen=True, slots=True)
class PackedPage:
    data: bytes
    dictionary_id: int | None


def _compressor(dictionary: zstandard.ZstdCompressionDict | None, level: int = PAGE_LEVEL) -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=level, dict_data=dictionary, write_dict_id=False, write_checksum=False)


class PagePacker:
    """Compresses the pages of one batch of one site: with the site's latest dictionary, trained first
    when the site has none yet and enough pages are known, or trained again when its pages stopped
    compressing well. Used for one transaction; what it trains is written in that transaction."""

    def __init__(self, session: Session, site_id: int, *, level: int = PAGE_LEVEL):
        self.session, self.site_id, self.level = session, site_id, level
        self.dictionary = latest_dictionary(session, site_id)
        self._compressor = self._for(self.dictionary)

    def _for(self, dictionary: Dictionary | None) -> zstandard.ZstdCompressor:
        loaded = DICTIONARIES.get(self.session, dictionary.id) if dictionary else None
        return _compressor(loaded, self.level)

    def prepare(self, batch_pages: Sequence[bytes]) -> None:
        """Before the batch's pages are packed: train the site's dictionary if it is due (see the module)."""
        if self.dictionary is None:
            if stored_page_count(self.session, self.site_id) + len(batch_pages) >= TRAIN_AFTER:
                self._train([*stored_pages(self.session, self.site_id, TRAIN_ON), *batch_pages][-TRAIN_ON:])
        elif degraded(self.session, self.site_id, self.dictionary):
            self._train([*stored_pages(self.session, self.site_id, TRAIN_ON), *batch_pages][-TRAIN_ON:])

    def pack(self, page: bytes) -> PackedPage:
        return PackedPage(self._compressor.compress(page), self.dictionary.id if self.dictionary else None)

    def _train(self, pages: Sequence[bytes]) -> None:
        first = self.dictionary is None
        dictionary = train(self.session, self.site_id, pages, self.level)
        if dictionary is not None:
            self.dictionary, self._compressor = dictionary, self._for(dictionary)
            if first:
                self._adopt_earlier_pages()

    def _adopt_earlier_pages(self) -> None:
        """The site's pages written before its first dictionary (fewer than TRAIN_AFTER: a first crawl's
        first small batches) are compressed again with it, instead of keeping three times the room."""

        assert self.dictionary is not None
        earlier = self.session.execute(
            select(Version.id, Version.raw_html).join(Article, Article.id == Version.article_id)
            .where(Article.site_id == self.site_id, Version.page_dictionary_id.is_(None),
                   func.length(Version.raw_html) > 0)).all()
        for version_id, data in earlier:
            page = read_page(None, data, None)
            assert page is not None
            self.session.execute(update(Version).where(Version.id == version_id).values(
                raw_html=self._compressor.compress(page), page_dictionary_id=self.dictionary.id),
                execution_options={"synchronize_session": "evaluate"})


@dataclass(frozen=True, slots=True)
class Trained:
    data: bytes
    ratio: float
    pages: int


def train_data(pages: Sequence[bytes], level: int = PAGE_LEVEL) -> Trained | None:
    """A dictionary trained on `pages`, its ratio measured on the last fifth, left out of the training.
    None when zstd finds nothing to learn (too few or too small pages)."""
    held_out = pages[len(pages) * 4 // 5:] or pages
    trained_on = pages[:len(pages) * 4 // 5] or pages
    try:
        data = zstandard.train_dictionary(DICTIONARY_BYTES, list(trained_on), level=level).as_bytes()
    except zstandard.ZstdError:
        return None
    compressor = _compressor(zstandard.ZstdCompressionDict(data), level)
    ratio = sum(map(len, held_out)) / max(1, sum(len(compressor.compress(p)) for p in held_out))
    return Trained(data, ratio, len(trained_on))


def train(session: Session, site_id: int, pages: Sequence[bytes], level: int = PAGE_LEVEL) -> Dictionary | None:
    """Train the site's next dictionary on `pages` and add it to the session (see train_data)."""

    trained = train_data(pages, level)
    if trained is None:
        return None
    number = (session.scalar(select(func.max(PageDictionary.number)).where(PageDictionary.site_id == site_id)) or 0) + 1
    row = PageDictionary(id=new_dictionary_id(), site_id=site_id, number=number, data=trained.data,
                         ratio=trained.ratio, pages=trained.pages, created_at=datetime.now(UTC))
    session.add(row)
    session.flush()   # a second process training the same site's same number fails here, and its batch is retried
    DICTIONARIES.put(row.id, trained.data)
    return Dictionary(row.id, site_id, number, trained.data, trained.ratio)


def new_dictionary_id() -> int:
    return secrets.randbits(48) or 1


def latest_dictionary(session: Session, site_id: int) -> Dictionary | None:

    row = session.execute(select(PageDictionary.id, PageDictionary.number, PageDictionary.ratio)
                          .where(PageDictionary.site_id == site_id)
                          .order_by(PageDictionary.number.desc()).limit(1)).first()
    if row is None:
        return None
    return Dictionary(row.id, site_id, row.number, b"", row.ratio)


def stored_page_count(session: Session, site_id: int) -> int:

    return session.scalar(select(func.count()).select_from(Version).join(Article, Article.id == Version.article_id)
                          .where(Article.site_id == site_id, func.length(Version.raw_html) > 0)) or 0


def stored_pages(session: Session, site_id: int, limit: int) -> list[bytes]:
    """The site's latest stored pages (oldest first), as fetched."""

    rows = session.execute(select(Version.raw_html, Version.page_dictionary_id)
                           .join(Article, Article.id == Version.article_id)
                           .where(Article.site_id == site_id, func.length(Version.raw_html) > 0)
                           .order_by(Version.id.desc()).limit(limit)).all()
    return [page for data, dictionary in reversed(rows) if (page := read_page(session, data, dictionary))]


def degraded(session: Session, site_id: int, dictionary: Dictionary) -> bool:
    """Whether the last RETRAIN_WINDOW pages written with the dictionary compress to less than RETRAIN_BELOW
    of its ratio. Sizes only: no page is read."""

    recent = (select(Version.raw_size.label("raw"), func.length(Version.raw_html).label("packed"))
              .join(Article, Article.id == Version.article_id)
              .where(Article.site_id == site_id, Version.page_dictionary_id == dictionary.id,
                     Version.raw_size.is_not(None))
              .order_by(Version.id.desc()).limit(RETRAIN_WINDOW).subquery())
    n, raw, packed = session.execute(select(func.count(), func.sum(recent.c.raw), func.sum(recent.c.packed))).one()
    if n < RETRAIN_WINDOW or not packed:
        return False
    return raw / packed < RETRAIN_BELOW * dictionary.ratio
