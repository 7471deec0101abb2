"""A database filled by real crawls of the fake site, for the tests of what people read: the static
report, the web app and its feed, the browser test. Built once per test module (crawls take seconds)."""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from monitor.report.webapp import make_app_server
from monitor.store import open_store
from tests.conftest import Newsmon
from tests.fakesite import Block, FakeSite, make_article

# Untrusted text as a hostile page would carry it: it must show as text everywhere, never run.
HOSTILE_TITLE = 'Titre <script>alert("t")</script> "><img src=x onerror=alert(1)>'
HOSTILE_PARAGRAPH = ('Lisez <a href="javascript:alert(2)">ceci</a> et <script>document.cookie</script> '
                     'puis javascript:alert(3) « fin ».')
SILENT_SENTENCE = "Cette phrase a été ajoutée sans le dire."


@dataclass
class Filled:
    newsmon: Newsmon
    site: FakeSite
    silent_id: int       # body edit, not announced
    title_id: int        # title edit, announced
    hostile_id: int      # hostile text, then edited
    gone_id: int         # answers 410 after the first crawl


def fill(newsmon: Newsmon, site: FakeSite) -> Filled:
    for i, edition in enumerate(["cambodge", "bangkok", "cambodge", "bangkok"]):
        site.add(make_article(431900 + i, edition, paragraphs=4 + i))
    hostile = make_article(431950, "bangkok", paragraphs=3)
    hostile.title = HOSTILE_TITLE
    hostile.blocks.insert(2, Block("p", HOSTILE_PARAGRAPH))
    site.add(hostile)
    newsmon.crawl(site)

    silent = site.article(431900)
    paragraph = next(b for b in silent.blocks[2:] if b.kind == "p")
    paragraph.text = paragraph.text + " " + SILENT_SENTENCE
    site.edit(silent.id, blocks=list(silent.blocks))
    titled = site.article(431901)
    site.edit(titled.id, title="Un nouveau titre pour cette dépêche", updated=titled.published + timedelta(days=1))
    hostile.blocks.append(Block("p", "Ajout : <b>gras</b> & <i>italique</i>."))
    site.edit(hostile.id, blocks=list(hostile.blocks))
    site.edit(431903, status=410)
    newsmon.crawl(site, "--all")
    return Filled(newsmon, site, silent.id, titled.id, hostile.id, 431903)


@contextmanager
def served(tmp: Path) -> Iterator[tuple[str, Filled]]:
    """The web app on a free loopback port, over a freshly filled database: (base URL, what was filled)."""
    db = f"sqlite:///{tmp / 'newsmon.db'}"
    with FakeSite(noise=True) as site:
        filled = fill(Newsmon(db, tmp), site)
        with app_server(db) as base:
            yield base, filled


@contextmanager
def app_server(db: str, host: str = "127.0.0.1", allowed: Sequence[str] = ()) -> Iterator[str]:
    """The web app over an existing database, listening on `host` at a free port and answering to `allowed`
    too: its base URL. An address that cannot be listened on raises OSError."""
    store = open_store(db, create=False)
    try:
        server = make_app_server(store, host, 0, allowed)
    except OSError:
        store.close()
        raise
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        store.close()
