"""A controllable fake of a lepetitjournal.com-style news site, served over real HTTP for tests.

Tests build articles (``make_article`` or ``FakeArticle`` by hand), add them to a ``FakeSite``, start it
and crawl ``site.base_url``. Every change goes through the API (``edit``, ``theme``, ``rotate_noise``,
``set_fault``), so a test knows exactly what the crawler should see. The markup mirrors the real site in
two generations: ``classic`` (Drupal) and ``modern`` (Next.js), wrapped in the page "chrome" (menus,
counters, sidebars, tokens) that an extractor has to ignore.

    from tests.fakesite import FakeSite, make_article
    with FakeSite(noise=False) as site:
        a = site.add(make_article(431002))
        site.edit(a.id, title="Nouveau titre")     # the old url now answers 301

Standard library only; self-contained on purpose (nothing outside this file is imported).
"""
from __future__ import annotations

import copy
import hashlib
import html
import json
import random
import re
import socket
import struct
import threading
import time
import traceback
import unicodedata
import zlib
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

__all__ = ["EDITIONS", "SECTIONS", "Block", "FakeArticle", "Fault", "RequestLog", "FakeSite", "SavedState",
           "make_article", "slugify", "squash"]

# edition -> (display name, UTC offset in hours). Dates on pages are shown in the edition's time zone.
EDITIONS: dict[str, tuple[str, int]] = {
    "cambodge": ("Cambodge", 7), "bangkok": ("Bangkok", 7), "vietnam": ("Vietnam", 7),
    "hong-kong": ("Hong Kong", 8), "singapour": ("Singapour", 8), "tokyo": ("Tokyo", 9),
}
SECTIONS = ["actualites", "economie", "culture", "societe"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre"]
NBSP, NNBSP = "\u00a0", "\u202f"  # French typography: NBSP before « : » and « % », NNBSP inside « »
PAGE_SIZE = 30  # teasers per front page
RSS_SIZE = 50  # items per feed


def slugify(title: str) -> str:
    """URL slug of a title: accents dropped, lowercase, dashes, at most 80 characters."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:80]


def squash(text: str) -> str:
    """Collapse every run of whitespace (NBSP included) to one space, as a reader would see the text."""
    return " ".join(text.split())


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def json_for_script(data: Any) -> str:
    """JSON that is safe inside <script>: a literal "</" would otherwise close the element early."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def edition_tz(edition: str) -> timezone:
    return timezone(timedelta(hours=EDITIONS[edition][1]))


# ---------------------------------------------------------------- content model

@dataclass
class Block:
    kind: str  # "p" | "h2" | "quote" | "related" | "image"
    text: str
    credit: str = ""  # images only


@dataclass
class FakeArticle:
    id: int  # six digits, stable; ends every URL
    edition: str
    section: str
    title: str
    lead: str  # the chapô
    author: str
    published: datetime  # timezone-aware
    updated: datetime | None
    blocks: list[Block]  # blocks[0] is the main image
    status: int = 200  # 200 live; 404 or 410 gone
    old_urls: list[str] = field(default_factory=list)  # previous paths, answered with 301

    @property
    def url(self) -> str:
        return f"/{self.edition}/{self.section}/{slugify(self.title)}-{self.id}"

    @property
    def body(self) -> list[str]:
        """Paragraphs, intertitles and quotes in order, as a reader sees them."""
        return [squash(b.text) for b in self.blocks if b.kind in ("p", "h2", "quote") and squash(b.text)]

    @property
    def captions(self) -> list[str]:
        """Captions of the main and inline images (credits excluded)."""
        return [squash(b.text) for b in self.blocks if b.kind == "image"]

    @property
    def live(self) -> bool:
        return self.status == 200

    def local(self, dt: datetime) -> datetime:
        """A date in the edition's time zone, as the pages show it."""
        return dt.astimezone(edition_tz(self.edition))


@dataclass
class Fault:
    """A misbehaviour injected on one path (see FakeSite.set_fault)."""
    status: int = 200
    body: bytes | None = None  # replaces the page body
    headers: dict[str, str] = field(default_factory=dict)  # extra/overriding headers
    truncate_at: int | None = None  # cut the body to this many bytes (Content-Length stays consistent)
    delay: float = 0.0  # seconds to sleep before answering
    reset: bool = False  # answer nothing: drop the connection with a TCP reset
    times: int | None = None  # apply this many times, then clear itself (None: until cleared)


@dataclass
class RequestLog:
    method: str
    path: str  # the request target as sent, query string included
    headers: dict[str, str]
    status: int  # 0: the connection was reset, no answer
    time: float  # time.monotonic() when the request arrived
    end: float = 0.0  # time.monotonic() when the answer was ready to be written
    fault: bool = False  # whether a Fault shaped this answer


# ---------------------------------------------------------------- deterministic French prose

HEADS = ["", f"Expatriés{NBSP}: ", f"Économie{NBSP}: ", f"Culture{NBSP}: ", f"Société{NBSP}: ",
         f"Éducation{NBSP}: ", f"Tourisme{NBSP}: ", f"Santé{NBSP}: ", f"Environnement{NBSP}: ",
         f"Transports{NBSP}: ", f"Francophonie{NBSP}: ", f"Coopération{NBSP}: "]
SUBJECTS = [
    "Le gouvernement", "La chambre de commerce française", "L’ambassade de France",
    "Le ministère de l’Environnement", "Une association d’entraide", "La banque centrale",
    "La mairie de la capitale", "Les autorités sanitaires", "Un collectif d’artisans français",
    "La communauté francophone", "Le consulat général", "L’Alliance française", "Le lycée français",
    "L’Agence française de développement", "Une jeune entreprise lyonnaise", "Le Premier ministre",
    "Le ministère de l’Éducation", "La compagnie aérienne nationale", "Un groupe hôtelier français",
    "L’Institut Pasteur", "Le conseil consulaire", "La fédération des entreprises",
    "Une ONG de protection animale", "Le port autonome", "L’office du tourisme",
]
VERBS = ["a annoncé", "a confirmé", "dément", "prépare", "a présenté", "veut relancer", "a inauguré", "examine",
         "a suspendu", "a reporté", "salue", "critique", "a signé", "étudie", "finance", "soutient", "lance",
         "accélère", "défend", "a validé"]
OBJECTS = [
    "un programme de formation professionnelle", "la réouverture des frontières",
    "un plan d’investissement dans les énergies propres", "la construction d’un nouveau pont",
    "un accord de coopération culturelle", "la hausse du salaire minimum", "un festival de cinéma francophone",
    "la rénovation du marché central", "une campagne contre les déchets plastiques",
    "un partenariat avec des universités françaises", "une ligne aérienne directe vers Paris",
    "le recrutement d’enseignants de français", "un fonds d’aide aux petites entreprises",
    "la protection des mangroves", "une réforme des visas de long séjour", "l’extension du port en eau profonde",
    "un parc solaire flottant", "l’ouverture d’une clinique francophone", "la restauration d’un temple ancien",
    "des bourses pour les étudiants", "un marché de Noël français", "la gratuité des transports scolaires",
    "un salon de l’emploi bilingue", "la numérisation des démarches consulaires",
    "un centre culturel au bord du fleuve",
]
ENDINGS = ["", " cette semaine", " dès lundi", " d’ici 2026", " malgré les critiques", " pour la rentrée",
           " avant la saison des pluies", " après des mois d’attente"]
TAILS = ["selon un communiqué publié lundi.", "d’ici la fin de l’année.", "lors d’une conférence de presse.",
         "malgré les réserves de plusieurs ONG.", "après de longues négociations.",
         "au grand soulagement des commerçants.", "dans un contexte économique encore fragile.",
         "sans préciser le calendrier.", "avec le soutien de partenaires européens.",
         "a-t-on appris de source officielle.", "pour répondre à une demande croissante."]
INDICATORS = ["le nombre de visiteurs français", "le prix du riz", "le trafic aérien", "le coût des loyers",
              "le nombre d’inscriptions", "la fréquentation des musées"]
SPEAKERS = ["un diplomate européen", "la directrice de l’association", "un chef d’entreprise installé ici",
            "le porte-parole du ministère", "une enseignante du lycée français", "un économiste de la région"]
QUOTES = ["Nous avons besoin de règles claires", "C’est une très bonne nouvelle pour la communauté",
          "Rien n’est encore décidé", "Les chiffres parlent d’eux-mêmes", "Il faudra du temps",
          "Nous suivons la situation de très près", "La demande dépasse nos prévisions"]
INTERTITLES = ["Un contexte régional tendu", "Des réactions partagées", "Ce qui change pour les expatriés",
               "Les prochaines étapes", "Un enjeu économique", "La communauté mobilisée"]
SCENES = ["Vue du marché central au petit matin", "Des élèves devant l’école", "Le quai des pêcheurs",
          "La signature de l’accord", "Des visiteurs devant le temple", "Une rue commerçante du centre-ville",
          "Le chantier du nouveau pont", "La délégation française à son arrivée"]
PLACES = {"cambodge": ["Phnom Penh", "Siem Reap", "Battambang"], "bangkok": ["Bangkok", "Chiang Mai"],
          "vietnam": ["Hanoï", "Hô Chi Minh-Ville", "Da Nang"], "hong-kong": ["Kowloon", "Hong Kong"],
          "singapour": ["Singapour", "Sentosa"], "tokyo": ["Tokyo", "Osaka", "Kyoto"]}
FIRST = ["Camille", "Julien", "Sophie", "Thomas", "Claire", "Antoine", "Léa", "Nicolas", "Marion", "Hugo",
         "Raphaël", "Pauline", "Sovann", "Linh", "Kenji", "Mei"]
LAST = ["MARTIN", "DUBOIS", "LEROY", "MOREAU", "GIRARD", "FERRY", "CHEA", "NGUYEN", "TANAKA", "LAURENT"]
CREDITS = ["AFP", "DR", "Shutterstock", "AKP"]

# Titles come from a bijection of the id (mod the number of combinations, which exceeds the 900 000
# six-digit ids), so two articles made with the same seed never share a title: inline "related" blocks are
# resolved by title, and tests compare titles.
_TITLE_POOLS = [HEADS, SUBJECTS, VERBS, OBJECTS, ENDINGS]
_TITLE_SPACE = len(HEADS) * len(SUBJECTS) * len(VERBS) * len(OBJECTS) * len(ENDINGS)
_TITLE_MULT = 1_000_003  # a prime, hence coprime with _TITLE_SPACE: multiplying permutes the residues
BASE_TIME = datetime(2021, 7, 27, 9, 15, tzinfo=timezone(timedelta(hours=7)))


def _seed_offset(seed: Any) -> int:
    return 0 if seed is None else int(hashlib.sha1(repr(seed).encode()).hexdigest(), 16)


def make_title(id: int, seed: Any = None) -> str:
    """The title make_article gives to `id` (used for inline related blocks pointing at id - 1)."""
    idx = (id * _TITLE_MULT + _seed_offset(seed)) % _TITLE_SPACE
    parts = []
    for pool in _TITLE_POOLS:
        idx, k = divmod(idx, len(pool))
        parts.append(pool[k])
    head, subject, verb, obj, ending = parts
    return f"{head}{subject} {verb} {obj}{ending}"


def _sentence(rng: random.Random, edition: str) -> str:
    s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
    if rng.random() < 0.3:
        s = s[:-1] + f", à {rng.choice(PLACES[edition])}."
    return s


def _statistic(rng: random.Random) -> str:
    trend = rng.choice(["progresse", "recule"])
    return f"D’après les derniers chiffres, {rng.choice(INDICATORS)} {trend}{NBSP}: {rng.randint(2, 40)}{NBSP}% sur un an."


def _quote(rng: random.Random) -> str:
    return f"«{NNBSP}{rng.choice(QUOTES)}{NNBSP}», estime {rng.choice(SPEAKERS)}."


def _paragraph(rng: random.Random, edition: str, *, statistic: bool = False, quote: bool = False) -> str:
    parts = [_sentence(rng, edition) for _ in range(rng.randint(2, 3))]
    if statistic:
        parts.insert(1, _statistic(rng))
    if quote:
        parts.append(_quote(rng))
    return " ".join(parts)


def make_article(id: int, edition: str = "cambodge", *, paragraphs: int = 5, published: datetime | None = None,
                 updated: datetime | None = None, seed: Any = None, with_quote: bool = True,
                 with_intertitle: bool = True, with_related: bool = True, with_inline_image: bool = True,
                 section: str | None = None) -> FakeArticle:
    """A plausible article, identical for identical arguments and distinct across ids and seeds.

    The first paragraph always holds a statistic (NBSP before « : » and « % »), the second (or only) one a
    «\u202f…\u202f» quotation. Default `published` grows with the id (7 minutes per id, around 27 July
    2021), so higher ids are newer, as on the real site. The related block names make_title(id - 1, seed).
    """
    if edition not in EDITIONS:
        raise ValueError(f"unknown edition {edition!r}")
    if paragraphs < 1:
        raise ValueError("an article needs at least one paragraph")
    rng = random.Random(f"fakesite:{id}:{seed!r}")  # str seeds are stable across runs (no hash salt)
    tz = edition_tz(edition)
    if published is None:
        published = (BASE_TIME + timedelta(minutes=7 * (id - 431000))).astimezone(tz)
    place = rng.choice(PLACES[edition])
    blocks = [Block("image", f"{rng.choice(SCENES)}, à {place}", rng.choice(CREDITS))]
    quote_at = min(1, paragraphs - 1)
    intertitle_at = max(1, paragraphs // 2) if paragraphs > 1 else 0
    for i in range(paragraphs):
        if with_intertitle and i == intertitle_at:
            blocks.append(Block("h2", rng.choice(INTERTITLES)))
        blocks.append(Block("p", _paragraph(rng, edition, statistic=i == 0, quote=i == quote_at)))
        if with_related and i == 0:
            blocks.append(Block("related", make_title(id - 1, seed)))
        if with_quote and i == quote_at:
            blocks.append(Block("quote", _quote(rng)))
        if with_inline_image and i == min(2, paragraphs - 1):
            blocks.append(Block("image", f"{rng.choice(SCENES)}, à {rng.choice(PLACES[edition])}", "DR"))
    return FakeArticle(id=id, edition=edition, section=section or rng.choice(SECTIONS), title=make_title(id, seed),
                       lead=_sentence(rng, edition), author=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                       published=published, updated=updated, blocks=blocks)


# ---------------------------------------------------------------- rendering

def fr_date(dt: datetime) -> str:
    return f"{dt.day} {MONTHS[dt.month - 1]} {dt.year}"


def fr_datetime(dt: datetime) -> str:
    return f"{dt:%d/%m/%Y} à {dt:%H}h{dt:%M}"


class _Noise:
    """Per-request chrome values. With noise off the generator restarts from the same seed on every
    request, so the same page gets the same bytes."""

    def __init__(self, random_values: bool):
        self.rng = random.Random() if random_values else random.Random(0)

    def share(self) -> str:
        return str(self.rng.randint(0, 900))

    def views(self) -> str:
        return f"{self.rng.randint(100, 99999):,}".replace(",", NNBSP)

    def csrf(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def bust(self) -> str:
        return f"{self.rng.getrandbits(32):08x}"

    def ad(self) -> str:
        return f"{self.rng.getrandbits(24):06x}"

    def ago(self) -> str:
        return f"il y a {self.rng.randint(1, 23)} heures"


class _Renderer:
    """Renders one response; built under the site lock, so it reads a consistent state."""

    def __init__(self, site: FakeSite, noise: _Noise):
        self.site, self.n = site, noise

    # -- chrome: everything here must be ignorable by an extractor

    def chrome_top(self) -> str:
        nav = "".join(f'<li><a href="/{e}">{esc(EDITIONS[e][0])}</a></li>' for e in self.site.editions)
        return ('<div class="cookie-banner">Ce site utilise des cookies. <button>Accepter</button></div>'
                '<div class="top-bar"><a href="/">Édition internationale</a></div>'
                '<div class="radio-player"><span>Radio les français dans le monde</span>'
                '<span class="time">--:--</span><span class="time">--:--</span></div>'
                f'<nav class="main-menu"><ul>{nav}</ul></nav>')

    def chrome_side(self) -> str:
        flash = "".join(f"<li><a href='{esc(a.url)}'>{esc(a.title)}</a> <span class='ago'>{self.n.ago()}</span></li>"
                        for a in self.site._chrome_pick("flash"))
        most = "".join(f"<li><a href='{esc(a.url)}'>{esc(a.title)}</a></li>" for a in self.site._chrome_pick("most"))
        return (f'<aside class="sidebar"><section class="flash-infos"><h3>Flash infos</h3><ul>{flash}</ul></section>'
                f'<section class="most-read"><h3>Les plus lus</h3><ol>{most}</ol></section>'
                f'<div class="ad-slot" id="ad-{self.n.ad()}">Publicité</div></aside>')

    def chrome_bottom(self) -> str:
        return ('<section class="newsletter"><form action="/newsletter" method="post">'
                f'<input type="hidden" name="csrf" value="{self.n.csrf()}"><input name="email">'
                '<button>Je m’abonne</button></form></section>'
                '<section class="editions-promo"><p>Pensez aussi à découvrir nos autres éditions</p></section>'
                f'<footer><p>© lepetitjournal.com {self.site._footer_year()}</p></footer>'
                f'<script src="/js/app.js?v={self.n.bust()}"></script>')

    def related_section(self, a: FakeArticle) -> str:
        items = "".join(f"<li><a href='{esc(r.url)}'>{esc(r.title)}</a></li>"
                        for r in self.site._chrome_pick("related", exclude=a.id))
        return f'<section class="related-articles"><h3>À lire aussi</h3><ul>{items}</ul></section>'

    # -- classic theme (Drupal era)

    def classic_blocks(self, a: FakeArticle) -> str:
        out: list[str] = []
        for i, b in enumerate(a.blocks):
            if b.kind == "p":
                out.append(f"<p>{esc(b.text)}</p>")
                # Drupal editors leave empty paragraphs around; place them deterministically (per id and
                # position) so noise-free pages stay byte-stable.
                if zlib.crc32(f"{a.id}:{i}".encode()) % 3 == 0:
                    out.append("<p>&nbsp;</p>")
            elif b.kind == "h2":
                out.append(f"<h2>{esc(b.text)}</h2>")
            elif b.kind == "quote":
                out.append(f"<blockquote><p>{esc(b.text)}</p></blockquote>")
            elif b.kind == "related":
                out.append(f'<div class="embedded-entity related-inline"><a href="{esc(self.site._related_href(b.text))}">'
                           f'<h3>{esc(b.text)}</h3></a></div>')
            elif b.kind == "image" and i > 0:  # blocks[0] is the main image, shown above the body
                out.append(f'<figure class="inline-image"><img src="/sites/default/files/{a.id}-{i}.jpg" alt="{esc(b.text)}">'
                           f'<figcaption>{esc(b.text)} <span class="credit">{esc(b.credit)}</span></figcaption></figure>')
        return "\n".join(out)

    def classic_article(self, a: FakeArticle) -> str:
        img, n = a.blocks[0], self.n
        dates = f"Publié le {fr_date(a.local(a.published))}"
        if a.updated:
            dates += f", mis à jour le {fr_date(a.local(a.updated))}"
        title = esc(a.title)
        return f"""<!DOCTYPE html>
<html lang="fr" dir="ltr"><head><meta charset="utf-8"><title>{title} | lepetitjournal.com</title>
<link rel="canonical" href="{esc(a.url)}"><meta property="og:title" content="{title}">
<link rel="stylesheet" href="/css/style.css?v={n.bust()}"></head>
<body class="path-node page-node-type-article">{self.chrome_top()}
<div class="breadcrumb"><a href="/">Accueil</a> › <a href="/{a.edition}">{esc(EDITIONS[a.edition][0])}</a></div>
<main><div class="share"><span>• {n.share()}</span><span>• {n.share()}</span></div>
<article class="node node--type-article">
<h1 class="page-title"><span class="field--name-title">{title}</span></h1>
<div class="field--name-field-image"><img src="/sites/default/files/{a.id}.jpg" alt="{esc(img.text)}">
<div class="image-caption">{esc(img.text)} {esc(img.text)}</div><div class="image-credit">{esc(img.credit)}</div></div>
<div class="article-meta"><div class="author">Écrit par <a href="/auteur/{slugify(a.author)}">{esc(a.author)}</a></div>
<div class="date">{dates}</div><div class="views">lu {n.views()} fois</div></div>
<div class="field--name-field-chapo"><p>{esc(a.lead)}</p></div>
<div class="field--name-body">
{self.classic_blocks(a)}
</div></article>{self.related_section(a)}</main>{self.chrome_side()}{self.chrome_bottom()}</body></html>"""

    # -- modern theme (Next.js era)

    def modern_block(self, a: FakeArticle, i: int, b: Block) -> str:
        if b.kind == "p":
            return f'<p class="Paragraph_p__x1">{esc(b.text)}</p>'
        if b.kind == "h2":
            return f'<h2 class="Paragraph_h2__x2">{esc(b.text)}</h2>'
        if b.kind == "quote":
            return f'<blockquote class="Quote_q__a9"><p>{esc(b.text)}</p></blockquote>'
        if b.kind == "related":
            return (f'<aside class="InlineRelated_box__k3"><span>À lire aussi</span>'
                    f'<a href="{esc(self.site._related_href(b.text))}">{esc(b.text)}</a></aside>')
        if b.kind == "image":  # the main image too: this theme has no separate header image
            name = f"{a.id}.jpg" if i == 0 else f"{a.id}-{i}.jpg"
            return (f'<figure class="Media_figure__m1"><img src="/_next/image?url=/files/{name}&amp;w=1080" alt="">'
                    f'<figcaption>{esc(b.text)}<span class="Media_credit__m2"> © {esc(b.credit)}</span>'
                    f'</figcaption></figure>')
        return ""

    def modern_article(self, a: FakeArticle) -> str:
        pub = a.local(a.published)
        upd = a.local(a.updated) if a.updated else None
        ld: dict[str, Any] = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": a.title,
                              "datePublished": pub.isoformat(), "author": [{"@type": "Person", "name": a.author}],
                              "image": [f"/_next/image?url=/files/{a.id}.jpg"], "articleSection": a.section}
        if upd:
            ld["dateModified"] = upd.isoformat()
        node = {"nid": a.id, "title": a.title, "chapo": a.lead, "author": a.author, "created": pub.isoformat(),
                "changed": (upd or pub).isoformat(), "body": [{"type": b.kind, "text": b.text} for b in a.blocks]}
        data = {"props": {"pageProps": {"node": node}, "__N_SSP": True}, "page": "/[edition]/[...slug]",
                "buildId": self.n.bust()}
        dates = f'<time datetime="{pub.isoformat()}">Publié le {fr_datetime(pub)}</time>'
        if upd:
            dates += f' <time datetime="{upd.isoformat()}">Mis à jour le {fr_datetime(upd)}</time>'
        body = "".join(self.modern_block(a, i, b) for i, b in enumerate(a.blocks))
        title, n = esc(a.title), self.n
        return f"""<!DOCTYPE html><html lang="fr"><head><meta charSet="utf-8"/>
<title>{title} - Lepetitjournal.com</title><meta name="viewport" content="width=device-width"/>
<meta property="og:title" content="{title}"/><meta property="article:published_time" content="{pub.isoformat()}"/>
<link rel="canonical" href="{esc(a.url)}"/><script type="application/ld+json">{json_for_script(ld)}</script>
<link rel="preload" href="/_next/static/css/{n.bust()}.css" as="style"/></head>
<body><div id="__next"><header class="Header_root__h1">{self.chrome_top()}</header>
<main class="Article_layout__a1"><div class="Share_bar__s1"><button>Partager {n.share()}</button></div>
<article class="Article_article__a2"><div class="Article_edition__a3">{esc(EDITIONS[a.edition][0])}</div>
<h1 class="Article_title__a4">{title}</h1><p class="Article_chapo__a5">{esc(a.lead)}</p>
<div class="Article_meta__a6"><span class="Author_name__b1">Par {esc(a.author)}</span>{dates}
<span class="Views_v__c1">{n.views()} lectures</span></div>
<div class="Article_body__a7">{body}</div></article>{self.related_section(a)}</main>{self.chrome_side()}
{self.chrome_bottom()}</div><script id="__NEXT_DATA__" type="application/json">{json_for_script(data)}</script></body></html>"""

    # -- listings (shared by both themes)

    def front(self, edition: str, page: int) -> str:
        arts = self.site._live(edition)
        shown = arts[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        items = "".join(f'<div class="teaser"><h2><a href="{esc(a.url)}">{esc(a.title)}</a></h2>'
                        f'<p>{esc(a.lead[:160])}</p></div>' for a in shown)
        more = (f'<a class="pager-next" rel="next" href="/{edition}?page={page + 1}">Suivant</a>'
                if len(arts) > (page + 1) * PAGE_SIZE else "")
        name = esc(EDITIONS[edition][0])
        return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{name} | lepetitjournal.com</title>'
                f'<link rel="alternate" type="application/rss+xml" href="/{edition}/rss.xml"></head>'
                f'<body>{self.chrome_top()}<main><h1>{name}</h1>{items}{more}</main>'
                f'{self.chrome_side()}{self.chrome_bottom()}</body></html>')

    def home(self) -> str:
        eds = "".join(f'<li><a href="/{e}">{esc(EDITIONS[e][0])}</a></li>' for e in self.site.editions)
        return ('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>lepetitjournal.com</title></head>'
                f'<body>{self.chrome_top()}<main><h1>Le média des Français et francophones à l’étranger</h1>'
                f'<ul class="editions">{eds}</ul></main>{self.chrome_bottom()}</body></html>')

    def rss(self, edition: str, base: str) -> str:
        items = "".join(f"<item><title>{esc(a.title)}</title><link>{esc(base + a.url)}</link>"
                        f'<guid isPermaLink="false">{a.id}</guid><pubDate>{format_datetime(a.published)}</pubDate>'
                        f"<description>{esc(a.lead)}</description></item>"
                        for a in self.site._live(edition)[:RSS_SIZE])
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>lepetitjournal.com '
                f'{esc(EDITIONS[edition][0])}</title><link>{esc(base)}/{edition}</link>'
                f'<description>Actualités</description>{items}</channel></rss>')

    def sitemap_index(self, base: str) -> str:
        maps = "".join(f"<sitemap><loc>{esc(base)}/sitemap-{e}.xml</loc></sitemap>" for e in self.site.editions)
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>')

    def sitemap(self, edition: str, base: str) -> str:
        urls = "".join(f"<url><loc>{esc(base + a.url)}</loc>"
                       f"<lastmod>{a.local(a.updated or a.published).isoformat()}</lastmod></url>"
                       for a in self.site._live(edition))
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')


THEMES: dict[str, Callable[[_Renderer, FakeArticle], str]] = {
    "classic": _Renderer.classic_article, "modern": _Renderer.modern_article,
}
GONE_PAGE = ('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Page introuvable</title></head>'
             '<body><h1>Page introuvable</h1></body></html>').encode()


# ---------------------------------------------------------------- responses and faults

HTML, XML, TEXT = "text/html; charset=utf-8", "application/xml", "text/plain; charset=utf-8"


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # Content-Type included; Content-Length added later


def _page(status: int, body: bytes | str, ctype: str = HTML, **headers: str) -> _Response:
    raw = body.encode() if isinstance(body, str) else body
    return _Response(status, raw, {"Content-Type": ctype, **headers})


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing any spelling of the same name (header names are case-insensitive)."""
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    headers[name] = value


def _apply_fault(real: _Response, fault: Fault) -> _Response:
    """The answer a fault makes of the real one. Its status always wins; without a body of its own it keeps
    the real body for 2xx (slow or truncated pages) and sends a short error page otherwise."""
    if fault.body is not None:
        body = fault.body
    elif 200 <= fault.status < 300:
        body = real.body
    else:
        body = f"<h1>Erreur {fault.status}</h1>".encode()
    if fault.truncate_at is not None:
        body = body[:fault.truncate_at]
    headers = {"Content-Type": real.headers.get("Content-Type", HTML)}
    if 200 <= fault.status < 300:  # validators only make sense with the real page
        headers.update({k: v for k, v in real.headers.items() if k in ("ETag", "Last-Modified", "Cache-Control")})
    for name, value in fault.headers.items():
        _set_header(headers, name, value)
    return _Response(fault.status, body, headers)


# ---------------------------------------------------------------- the site

@dataclass(frozen=True)
class SavedState:
    """What FakeSite.save() keeps (see there)."""
    articles: dict[int, FakeArticle]
    added_etag: dict[int, str]
    faults: dict[str, Fault]
    theme: str
    noise: bool
    latency: float
    phase: int


class FakeSite:
    """The fake news site. All state changes go through methods that take the lock; requests render under
    the same lock, so a test never sees half an edit."""

    def __init__(self, theme: str = "classic", noise: bool = True,
                 editions: tuple[str, ...] = ("cambodge", "bangkok")):
        unknown = [e for e in editions if e not in EDITIONS]
        if unknown:
            raise ValueError(f"unknown editions {unknown}; known: {list(EDITIONS)}")
        self._lock = threading.RLock()
        self._theme = ""
        self.theme = theme
        self.noise = noise  # may be flipped while running
        # Whether a noise-free page answers 304 to a conditional request; many sites (and CDNs) never do.
        self.answers_conditional = True
        self.editions = tuple(editions)
        self.latency = 0.0  # seconds added to every answer (lets concurrency tests overlap requests)
        self.requests: list[RequestLog] = []
        self.errors: list[str] = []  # tracebacks of server-side bugs (each also answered 500)
        self.max_concurrency = 0
        self._in_flight = 0
        self._articles: dict[int, FakeArticle] = {}
        self._added_etag: dict[int, str] = {}  # for If-Modified-Since: untouched since add() or not
        self._faults: dict[str, Fault] = {}
        self._phase = 0  # chrome-noise phase, see rotate_noise()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.base_url = ""

    # -- lifecycle

    def start(self) -> FakeSite:
        if self._server is None:
            self._server = _Server(self)
            host, port = self._server.server_address[:2]
            self.base_url = f"http://{host}:{port}"
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fakesite", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        # Keep-alive connections outlive the listening socket; cut them so nothing answers after stop().
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content API

    @property
    def theme(self) -> str:
        return self._theme

    @theme.setter
    def theme(self, name: str) -> None:
        if name not in THEMES:
            raise ValueError(f"unknown theme {name!r}; known: {list(THEMES)}")
        with self._lock:
            self._theme = name

    def add(self, article: FakeArticle) -> FakeArticle:
        """Publish an article. The site keeps this very object: later direct mutations show up at once, but
        only edit() records old URLs."""
        self._check(article)
        with self._lock:
            if article.id in self._articles:
                raise ValueError(f"article {article.id} already added; use edit()")
            self._articles[article.id] = article
            self._added_etag[article.id] = self._etag(article)
        return article

    def article(self, id: int) -> FakeArticle:
        with self._lock:
            return self._articles[id]

    @property
    def articles(self) -> list[FakeArticle]:
        with self._lock:
            return sorted(self._articles.values(), key=lambda a: a.id)

    def edit(self, id: int, **fields_: Any) -> FakeArticle:
        """Change fields of an article. When its URL changes (title, section or edition), the old one is
        kept in old_urls and answers 301. Nothing else is implied: pass `updated=` to move the declared
        update date."""
        allowed = {f.name for f in fields(FakeArticle)} - {"id"}
        unknown = set(fields_) - allowed
        if unknown:
            raise TypeError(f"cannot edit {sorted(unknown)}; editable: {sorted(allowed)}")
        with self._lock:
            a = self._articles[id]
            old_url = a.url
            for name, value in fields_.items():
                setattr(a, name, value)
            self._check(a)
            if a.url != old_url and old_url not in a.old_urls:
                a.old_urls.append(old_url)
            if a.url in a.old_urls:  # a title edited back: its url is current again
                a.old_urls.remove(a.url)
            return a

    def rotate_noise(self) -> None:
        """Next chrome phase: Flash infos, Les plus lus and À lire aussi change, the footer year flips.
        Has no visible effect with noise off (the chrome is then fixed)."""
        with self._lock:
            self._phase += 1

    def save(self) -> SavedState:
        """Everything a test can change: articles (with their blocks and old URLs), faults, theme, noise,
        latency and the chrome phase. restore() brings it back, so that tests sharing one running site (one
        port, hence URLs a database can already hold) each start from the same site."""
        with self._lock:
            return SavedState(copy.deepcopy(self._articles), dict(self._added_etag), copy.deepcopy(self._faults),
                              self._theme, self.noise, self.latency, self._phase)

    def restore(self, state: SavedState) -> None:
        """Back to a saved state. The request log starts empty and max_concurrency at 0; `errors` (server-side
        bugs) is kept. A copy is restored: `state` can be restored again."""
        with self._lock:
            self._articles = copy.deepcopy(state.articles)
            self._added_etag = dict(state.added_etag)
            self._faults = copy.deepcopy(state.faults)
            self._theme, self.noise, self.latency, self._phase = state.theme, state.noise, state.latency, state.phase
            self.requests.clear()
            self.max_concurrency = 0

    def set_fault(self, path: str, fault: Fault | None) -> None:
        """Misbehave on `path`: the exact request target (e.g. "/cambodge?page=1") or its path part.
        None clears it."""
        with self._lock:
            if fault is None:
                self._faults.pop(path, None)
            else:
                self._faults[path] = fault

    def redesign(self, article_ids: list[int] | None = None) -> None:
        """Serve articles (default: all) as after a redesign no extractor can read: a script-rendered page
        whose every word is still there, inside the script that would draw it in a browser (the body is an
        empty mount point). set_fault(url, None) undoes it."""
        for article_id in article_ids if article_ids is not None else [a.id for a in self.articles]:
            url = self.article(article_id).url
            with urlopen(self.base_url + url) as response:
                page = response.read().decode("utf-8")
            head, _, rest = page.partition("<body")
            body = rest[rest.index(">") + 1:rest.rindex("</body>")]
            shell = (f'{head}<body><div id="app"></div><script>window.__APP_STATE__ = {json_for_script(body)};'
                     "</script></body></html>")
            self.set_fault(url, Fault(body=shell.encode("utf-8")))

    def _check(self, a: FakeArticle) -> None:
        if not 100000 <= a.id <= 999999:
            raise ValueError(f"article id {a.id} must have six digits")
        if a.edition not in self.editions:
            raise ValueError(f"edition {a.edition!r} is not served by this site {self.editions}")
        if not a.blocks or a.blocks[0].kind != "image":
            raise ValueError("blocks[0] must be the main image (kind 'image')")
        for dt in (a.published, a.updated):
            if dt is not None and dt.tzinfo is None:
                raise ValueError("published/updated must be timezone-aware")

    # -- helpers used while rendering (called with the lock held)

    def _live(self, edition: str | None = None) -> list[FakeArticle]:
        arts = [a for a in self._articles.values() if a.live and (edition is None or a.edition == edition)]
        return sorted(arts, key=lambda a: (a.published, a.id), reverse=True)

    def _chrome_pick(self, kind: str, exclude: int | None = None, k: int = 6) -> list[FakeArticle]:
        """Chrome lists: k of the 40 newest live articles, ranked by a hash of (phase, list, page,
        article). Stable within a phase; adding an article moves a list only if it ranks in."""
        phase = self._phase if self.noise else 0
        key = exclude if kind == "related" else ""
        ranked = sorted(self._live()[:40],
                        key=lambda a: hashlib.sha1(f"{phase}:{kind}:{key}:{a.id}".encode()).digest())
        return [a for a in ranked if a.id != exclude][:k]

    def _footer_year(self) -> int:
        return 2024 + (self._phase % 2 if self.noise else 0)

    def _related_href(self, title: str) -> str:
        target = next((a for a in sorted(self._articles.values(), key=lambda a: not a.live) if a.title == title), None)
        return target.url if target else "#"

    def _etag(self, a: FakeArticle) -> str:
        """Changes with any content of the article (typography included) and with the theme."""
        content = [a.id, a.edition, a.section, a.title, a.lead, a.author, a.published.isoformat(),
                   a.updated.isoformat() if a.updated else None, [[b.kind, b.text, b.credit] for b in a.blocks],
                   [self._related_href(b.text) for b in a.blocks if b.kind == "related"], self.theme]
        digest = hashlib.sha1(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:16]
        return f'"{digest}"'

    def _take_fault(self, target: str) -> Fault | None:
        key = target if target in self._faults else urlsplit(target).path
        fault = self._faults.get(key)
        if fault is not None and fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self._faults[key]
        return fault

    # -- request handling

    def _answer(self, target: str, headers: Any, base: str) -> tuple[_Response, Fault | None]:
        with self._lock:
            fault = self._take_fault(target)
            # Under a fault the real page is the raw material (to truncate, delay...), never a 304.
            return self._route(target, headers, base, conditional=fault is None), fault

    def _route(self, target: str, headers: Any, base: str, conditional: bool) -> _Response:
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        render = _Renderer(self, _Noise(self.noise))
        if path == "/robots.txt":
            return _page(200, f"User-agent: *\nDisallow: /_private/\nSitemap: {base}/sitemap.xml\n", TEXT)
        if path == "/":
            return _page(200, render.home())
        if path == "/sitemap.xml":
            return _page(200, render.sitemap_index(base), XML)
        if (m := re.fullmatch(r"/sitemap-([a-z-]+)\.xml", path)) and m.group(1) in self.editions:
            return _page(200, render.sitemap(m.group(1), base), XML)
        if (m := re.fullmatch(r"/([a-z-]+)/rss\.xml", path)) and m.group(1) in self.editions:
            return _page(200, render.rss(m.group(1), base), "application/rss+xml; charset=utf-8")
        if (m := re.fullmatch(r"/([a-z-]+)", path)) and m.group(1) in self.editions:
            page = parse_qs(url.query).get("page", ["0"])[0]
            if not page.isdigit():
                return _page(404, GONE_PAGE)
            return _page(200, render.front(m.group(1), int(page)))
        return self._article_response(path, headers, base, render, conditional)

    def _article_response(self, path: str, headers: Any, base: str, render: _Renderer,
                          conditional: bool) -> _Response:
        a = next((x for x in self._articles.values() if x.url == path), None)
        moved = a is None
        if a is None:
            a = next((x for x in self._articles.values() if path in x.old_urls), None)
        if a is None:
            return _page(404, GONE_PAGE)
        if not a.live:
            return _page(a.status, GONE_PAGE)
        if moved:
            return _Response(301, b"", {"Location": base + a.url})
        etag = self._etag(a)
        changed = a.updated or a.published
        validators = {"ETag": etag, "Last-Modified": format_datetime(changed.astimezone(timezone.utc), usegmt=True),
                      "Cache-Control": "max-age=60"}
        # Only a noise-free page is byte-stable, so only then may the server say "not modified".
        if conditional and self.answers_conditional and not self.noise and self._not_modified(a, etag, changed,
                                                                                              headers):
            return _Response(304, b"", validators)
        return _page(200, THEMES[self.theme](render, a), **validators)

    def _not_modified(self, a: FakeArticle, etag: str, changed: datetime, headers: Any) -> bool:
        inm = headers.get("If-None-Match")
        if inm:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return etag in tags or "*" in tags
        ims = headers.get("If-Modified-Since")
        if not ims:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        # A silent edit leaves Last-Modified alone; answer 304 only for a page untouched since add().
        return since.tzinfo is not None and changed <= since and etag == self._added_etag.get(a.id)

    def _begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_concurrency = max(self.max_concurrency, self._in_flight)

    def _end(self, log: RequestLog) -> None:
        with self._lock:
            self._in_flight -= 1
            self.requests.append(log)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # never let a slow (faulted) answer block interpreter exit
    request_queue_size = 128  # concurrency tests open many connections at once

    def __init__(self, site: FakeSite):
        self.site = site
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    server_version = "fakesite/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid delayed-ACK stalls
    timeout = 60  # idle keep-alive connections eventually free their thread
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.site._lock:
            self.server.site._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.site._lock:
                self.server.site._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read site.requests instead

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        site = self.server.site
        site._begin()
        log = RequestLog(self.command, self.path, dict(self.headers.items()), 500, time.monotonic())
        try:
            resp = self._prepare(log)
        finally:
            # Logged before the answer leaves: a client that has read it must find it in site.requests.
            log.end = time.monotonic()
            site._end(log)
        if resp is None:
            self._reset()
            return
        try:
            self._send(resp)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout during a delay)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN: the peer sees "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _prepare(self, log: RequestLog) -> _Response | None:
        """The answer to send, or None to reset the connection instead."""
        site = self.server.site
        base = f"http://{self.headers.get('Host') or urlsplit(site.base_url).netloc}"
        try:
            resp, fault = site._answer(self.path, self.headers, base)
        except Exception:  # a bug in this module: answer 500 and keep the traceback for the test
            site.errors.append(traceback.format_exc())
            resp, fault = _page(500, "<h1>Erreur interne</h1>"), None
        wait = site.latency + (fault.delay if fault else 0.0)
        if wait > 0:
            time.sleep(wait)  # outside the lock: slow answers must not serialise the server
        if fault is not None:
            log.fault = True
            if fault.reset:
                log.status = 0
                return None
            resp = _apply_fault(resp, fault)
        log.status = resp.status
        return resp

    def _send(self, resp: _Response) -> None:
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if any(k.lower() == "content-length" for k in resp.headers):
            # A fault chose its own length (e.g. longer than the body): the body will be short, so close
            # the connection after it, as a server dying mid-answer would.
            self.close_connection = True
        elif resp.status != 304:
            self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD" and resp.status not in (204, 304):
            self.wfile.write(resp.body)
        self.wfile.flush()
