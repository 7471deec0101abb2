"""The TOML config of the daemon (and of `newsmon crawl --config`): which sites, how often, how politely.

Everything is checked when the file is read, before anything starts: an unknown key, a wrong type or a
bad duration stops with one message naming the file and the key. The README ("Config") shows every key
with its default; the defaults themselves live in monitor/settings.py.
"""
from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from monitor import settings
from monitor.compare.policy import RevisitPolicy, Tier
from monitor.durations import MAX_DURATION_TEXT, exceeds_limit, format_duration, parse_duration
from monitor.errors import BadInput
from monitor.urlcheck import url_problem
from monitor.notify.subscriptions import DEFAULT_RETRY, EVENT_KINDS, FIELD_NAMES, Subscription, Target

T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The largest count a setting takes (front pages, concurrency, requests): a 32-bit signed integer, what every
# database and Scrapy setting can hold. Anything larger is a typo, not a plan.
MAX_COUNT = 2**31 - 1
# An edition is one segment of the site's URLs (/cambodge/...): no slash, dot-segment, space or query.
_EDITION = re.compile(r"[\w-]+")
# Keys that only one spider reads: given to a site of another spider, they would be ignored without a word.
# The lepetitjournal keys are those of every spider but `news` (a site-specific spider reads editions).
NEWS_SPIDER = "news"
NEWS_KEYS = ("feeds", "sitemaps", "sections", "article_urls", "article_key", "timezone")
EDITION_KEYS = ("editions", "front_pages")


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


# Every default comes from monitor/settings.py; this module only reads the file's overrides and checks them.
@dataclass(frozen=True)
class Politeness:
    concurrency: int = settings.CONCURRENT_REQUESTS_PER_DOMAIN
    download_delay: timedelta = _seconds(settings.DOWNLOAD_DELAY)
    robots_txt: bool = settings.ROBOTSTXT_OBEY
    user_agent: str | None = None        # None: monitor/settings.py's USER_AGENT
    max_requests: int = settings.NEWSMON_MAX_REQUESTS
    timeout: timedelta = _seconds(settings.DOWNLOAD_TIMEOUT)


@dataclass(frozen=True)
class SiteConfig:
    name: str
    spider: str
    base_url: str | None = None
    editions: tuple[str, ...] = ()
    front_pages: int = settings.NEWSMON_FRONT_PAGES
    discovery_interval: timedelta = _seconds(settings.NEWSMON_DISCOVERY_INTERVAL)
    jitter: timedelta = _seconds(settings.NEWSMON_DISCOVERY_JITTER)
    confirm_delay: timedelta = _seconds(settings.NEWSMON_CONFIRM_DELAY)  # before a suspicious page is fetched again
    archive: bool = settings.NEWSMON_ARCHIVE  # also sitemap entries past the policy's horizon (crawl/frontier.py)
    policy: RevisitPolicy = field(default_factory=RevisitPolicy)
    politeness: Politeness | None = None  # None: the defaults, with local hosts exempt (monitor/settings.py)
    # The `news` spider's (spiders/news.py): where it finds articles, which URLs are articles, their ids.
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    article_urls: str | None = None       # a regex searched in the URL; None: the spider's heuristics
    article_key: str | None = None        # a regex whose group 1 is the id; None: the normalised URL
    timezone: str | None = None           # IANA zone of dates written without an offset; None: UTC


@dataclass(frozen=True)
class Config:
    path: Path | None
    db: str | None = None
    log_level: str = settings.NEWSMON_LOG_LEVEL
    log_file: str | None = None
    tick: timedelta = _seconds(settings.NEWSMON_TICK)
    crawl_timeout: timedelta = _seconds(settings.NEWSMON_CRAWL_TIMEOUT)
    shutdown_timeout: timedelta = _seconds(settings.NEWSMON_SHUTDOWN_TIMEOUT)
    sites: tuple[SiteConfig, ...] = ()
    notify: tuple[Subscription, ...] = ()
    public_url: str | None = None         # where `newsmon serve` is reached: links in notifications

    def site(self, name: str) -> SiteConfig:
        for site in self.sites:
            if site.name == name:
                return site
        raise BadInput(f"{self.path}: no site named {name!r} (sites: {', '.join(s.name for s in self.sites)})")


class _Table:
    """Typed reads from one TOML table, remembering which keys were used so that typos are caught."""

    def __init__(self, data: Mapping[str, Any], where: str, path: Path):
        self.data, self.where, self.path, self.used = data, where, path, set()

    def fail(self, key: str, message: str) -> BadInput:
        return BadInput(f"{self.path}: {self.where}{key}: {message}")

    def get(self, key: str, kind: type[T], default: T, what: str) -> T:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"must be {what}, not {value!r}")
        return value

    def duration(self, key: str, default: timedelta, *, positive: bool = True) -> timedelta:
        self.used.add(key)
        if key not in self.data:
            return default
        if exceeds_limit(self.data[key]):
            raise self.fail(key, f"must be at most {MAX_DURATION_TEXT}, not {self.data[key]!r}")
        value = parse_duration(self.data[key])
        if value is None or (positive and value <= timedelta(0)):
            raise self.fail(key, f'must be a duration like "90s", "15m", "6h", "7d", not {self.data[key]!r}')
        return value

    def count(self, key: str, default: int) -> int:
        """A whole number from 1 to MAX_COUNT."""
        value = self.get(key, int, default, "an integer")
        if not 1 <= value <= MAX_COUNT:
            raise self.fail(key, f"must be from 1 to {MAX_COUNT}, not {value!r}")
        return value

    def table(self, key: str) -> _Table | None:
        value = self.get(key, dict, None, "a table")  # type: ignore[arg-type]
        return _Table(value, f"{self.where}{key}.", self.path) if value is not None else None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key")


def default_config_path() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "newsmon" / "config.toml"


def find_config(path: str | None) -> Config:
    """The config named, else the user's (~/.config/newsmon/config.toml) if there is one, else the
    built-in one: lepetitjournal.com with every default."""
    if path:
        return load_config(path)
    if default_config_path().exists():
        return load_config(default_config_path())
    return Config(path=None, sites=(SiteConfig(name="lepetitjournal", spider="lepetitjournal"),))


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None
    except ValueError as exc:  # a NUL in the path: no file can have that name (after TOMLDecodeError, a subclass)
        raise BadInput(f"cannot read config file {str(path)!r}: {exc}") from None
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    top = _Table(data, "", path)
    log_level = top.get("log_level", str, Config.log_level, "a string").upper()
    if log_level not in LOG_LEVELS:
        raise top.fail("log_level", f"must be one of {', '.join(LOG_LEVELS)}")
    sites_table = top.table("sites")
    if sites_table is None or not sites_table.data:
        raise top.fail("sites", "at least one [sites.NAME] table is needed")
    sites = tuple(_site(name, sites_table.table(name), path) for name in sites_table.data)  # type: ignore[arg-type]
    db = top.get("db", str, None, "a database URL")  # type: ignore[arg-type]
    if db is not None and not db.strip():
        # An empty URL would quietly mean the default database: say so instead.
        raise top.fail("db", "must be a database URL, not an empty string")
    public_url = top.get("public_url", str, None, "a URL")  # type: ignore[arg-type]
    if public_url is not None and (problem := url_problem(public_url)) is not None:
        raise top.fail("public_url", problem)
    notify_table = top.table("notify")
    notify = tuple(_subscription(name, notify_table.table(name), sites)  # type: ignore[arg-type]
                   for name in notify_table.data) if notify_table else ()
    config = Config(path=path, db=db,
                    log_level=log_level, log_file=top.get("log_file", str, None, "a path"),  # type: ignore[arg-type]
                    tick=top.duration("tick", Config.tick),
                    crawl_timeout=top.duration("crawl_timeout", Config.crawl_timeout),
                    shutdown_timeout=top.duration("shutdown_timeout", Config.shutdown_timeout), sites=sites,
                    notify=notify, public_url=public_url.rstrip("/") if public_url else None)
    top.done()
    return config


def base_url_problem(url: str) -> str | None:
    """What is wrong with a site's address ("must be ..."), or None. Checked when it is read: urlsplit()
    raises on a broken IPv6 host, `.port` on a port out of range, and Scrapy would otherwise fail on every
    request of the crawl (or with a traceback once it is over). Paths are appended to it: no query or fragment."""
    if (problem := url_problem(url)) is not None:
        return problem
    if urlsplit(url).query or urlsplit(url).fragment or url.endswith(("?", "#")):
        return f"must be an http(s) URL with a host, not {url!r} (paths are appended to it: no query or fragment)"
    return None


def check_base_url(url: str) -> str:
    if (problem := base_url_problem(url)) is not None:
        raise BadInput(f"--base-url {problem}")
    return url.rstrip("/")


def is_edition_name(name: str) -> bool:
    return _EDITION.fullmatch(name) is not None


def check_edition(name: str) -> str:
    if not is_edition_name(name):
        raise BadInput(f"--edition takes an edition's name as in the site's URLs (e.g. cambodge), not {name!r}")
    return name


def foreign_key_problem(key: str, spider: str) -> str | None:
    """Why a spider-specific key (or command-line option) cannot be given to a site of `spider`, or None."""
    if key in NEWS_KEYS and spider != NEWS_SPIDER:
        return f'only for spider "{NEWS_SPIDER}", and this site\'s spider is "{spider}"'
    if key in EDITION_KEYS and spider == NEWS_SPIDER:
        return f'not for spider "{NEWS_SPIDER}" (editions and front pages are lepetitjournal\'s)'
    return None


def _site(name: str, t: _Table, path: Path) -> SiteConfig:
    if not name.strip():
        raise BadInput(f"{path}: sites: a site needs a name, not {name!r}")
    spider = t.get("spider", str, name, "a spider name")
    for key in t.data:
        if (problem := foreign_key_problem(key, spider)) is not None:
            raise t.fail(key, problem)
    base_url = t.get("base_url", str, None, "a URL")  # type: ignore[arg-type]
    if base_url is not None:
        if (problem := base_url_problem(base_url)) is not None:
            raise t.fail("base_url", problem)
        base_url = base_url.rstrip("/")
    elif spider == NEWS_SPIDER:
        raise t.fail("base_url", f'is needed: spider "{NEWS_SPIDER}" has no site of its own')
    editions = t.get("editions", list, [], "a list of edition names")
    if not all(isinstance(e, str) and is_edition_name(e) for e in editions):
        raise t.fail("editions", "must be a list of edition names as in the site's URLs (e.g. [\"cambodge\"])")
    front_pages = t.count("front_pages", SiteConfig.front_pages)
    policy_table, politeness_table = t.table("policy"), t.table("politeness")
    site = SiteConfig(
        name=name, spider=spider, base_url=base_url, editions=tuple(editions),
        front_pages=front_pages, discovery_interval=t.duration("discovery_interval", SiteConfig.discovery_interval),
        jitter=t.duration("jitter", SiteConfig.jitter, positive=False),
        confirm_delay=t.duration("confirm_delay", SiteConfig.confirm_delay, positive=False),
        archive=t.get("archive", bool, SiteConfig.archive, "true or false"),
        policy=_policy(policy_table) if policy_table else RevisitPolicy(),
        politeness=_politeness(politeness_table) if politeness_table else None,
        feeds=_urls(t, "feeds"), sitemaps=_urls(t, "sitemaps"), sections=_urls(t, "sections"),
        article_urls=_regex(t, "article_urls"), article_key=_regex(t, "article_key", group=True),
        timezone=_timezone(t))
    t.done()
    return site


def _urls(t: _Table, key: str) -> tuple[str, ...]:
    """A list of http(s) URLs (feeds, sitemaps, listing pages). A query is allowed: these are fetched as
    written, nothing is appended to them."""
    urls = t.get(key, list, [], "a list of URLs")
    for url in urls:
        if not isinstance(url, str):
            raise t.fail(key, f"must be a list of http(s) URLs, not {url!r}")
        if (problem := url_problem(url)) is not None:
            raise t.fail(key, problem)
    return tuple(urls)


def _regex(t: _Table, key: str, *, group: bool = False) -> str | None:
    """A regular expression that compiles; with `group`, one whose first group is the article's id."""
    pattern = t.get(key, str, None, "a regular expression")  # type: ignore[arg-type]
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise t.fail(key, f"not a valid regular expression ({exc}): {pattern!r}") from None
    if group and compiled.groups < 1:
        raise t.fail(key, f"needs a group, (...), around the article's id: {pattern!r}")
    return pattern


def _timezone(t: _Table) -> str | None:
    name = t.get("timezone", str, None, "a time zone name")  # type: ignore[arg-type]
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, e.g. "Europe"
        raise t.fail("timezone", f'must be an IANA time zone name like "Europe/Paris", not {name!r}') from None
    return name


def _subscription(name: str, t: _Table, sites: tuple[SiteConfig, ...]) -> Subscription:
    """A `[notify.NAME]` table: its targets, checked without sending anything, and its filters."""
    from monitor.notify.channels import target_problem   # loads Apprise: only for configs that notify

    if not name.strip() or len(name) > 100:
        raise BadInput(f"{t.path}: notify: a subscription needs a name of 1 to 100 characters, not {name!r}")
    targets = [Target("apprise", url) for url in _strings(t, "urls", "a list of Apprise URLs")]
    webhook = t.get("webhook", str, None, "a URL")  # type: ignore[arg-type]
    secret = t.get("secret", str, None, "a string")  # type: ignore[arg-type]
    if webhook is not None:
        targets.append(Target("webhook", webhook, secret or None))
    elif secret is not None:
        raise t.fail("secret", "signs webhook bodies: set `webhook` too")
    if not targets:
        raise t.fail("urls", "a subscription needs `urls` (Apprise URLs) or a `webhook`")
    for target in targets:
        if (problem := target_problem(target)) is not None:
            raise t.fail("webhook" if target.kind == "webhook" else "urls", problem)
    known = {site.name for site in sites}
    subscription = Subscription(
        name=name, targets=tuple(targets), sites=_choices(t, "sites", tuple(known), "configured site names"),
        editions=tuple(_strings(t, "editions", "a list of edition names")),
        fields=_choices(t, "fields", FIELD_NAMES, "field names"),
        silent_only=t.get("silent_only", bool, False, "true or false"),
        min_words=t.get("min_words", int, 0, "a whole number of words"),
        max_age=t.duration("max_age", timedelta(0)) if "max_age" in t.data else None,
        events=_choices(t, "events", EVENT_KINDS, "event kinds") if "events" in t.data else ("change",),
        errors=t.get("errors", bool, False, "true or false"),
        digest=t.duration("digest", timedelta(0)) if "digest" in t.data else None,
        reverts=t.get("reverts", bool, False, "true or false"),
        retry=t.duration("retry", DEFAULT_RETRY))
    if subscription.min_words < 0:
        raise t.fail("min_words", f"must be 0 or more, not {subscription.min_words}")
    t.done()
    return subscription


def _strings(t: _Table, key: str, what: str) -> list[str]:
    values = t.get(key, list, [], what)
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise t.fail(key, f"must be {what}, not {values!r}")
    return values


def _choices(t: _Table, key: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    values = _strings(t, key, f"a list of {what}")
    for value in values:
        if value not in allowed:
            raise t.fail(key, f"{value!r} is not one of the {what}: {', '.join(sorted(allowed))}")
    return tuple(values)


def _policy(t: _Table) -> RevisitPolicy:
    default = RevisitPolicy()
    tiers: tuple[Tier, ...] = tuple(default.tiers)
    if "tiers" in t.data:
        raw = t.get("tiers", list, [], "a list of [until, every] pairs")
        parsed = [(parse_duration(p[0]), parse_duration(p[1])) if isinstance(p, list) and len(p) == 2 else (None, None)
                  for p in raw]
        if not parsed or any(u is None or e is None or e <= timedelta(0) for u, e in parsed):
            raise t.fail("tiers", 'must be a list of [until, every] duration pairs, e.g. [["6h", "15m"], ["1d", "1h"]]')
        if any(a[0] >= b[0] for a, b in zip(parsed, parsed[1:])):  # type: ignore[operator]
            raise t.fail("tiers", "the `until` durations must grow from one tier to the next")
        tiers = tuple(Tier(u, e) for u, e in parsed)  # type: ignore[arg-type]
    policy = RevisitPolicy(tiers=tiers, error_retry=t.duration("error_retry", default.error_retry),
                           listed_every=t.duration("listed_every", default.listed_every),
                           listed_memory=t.duration("listed_memory", default.listed_memory))
    t.done()
    return policy


def _politeness(t: _Table) -> Politeness:
    default = Politeness()
    politeness = Politeness(
        concurrency=t.count("concurrency", default.concurrency),
        download_delay=t.duration("download_delay", default.download_delay, positive=False),
        robots_txt=t.get("robots_txt", bool, default.robots_txt, "true or false"),
        user_agent=t.get("user_agent", str, None, "a string"),  # type: ignore[arg-type]
        max_requests=t.count("max_requests", default.max_requests),
        timeout=t.duration("timeout", default.timeout))
    t.done()
    return politeness


def site_record(site: SiteConfig) -> dict[str, Any]:
    """A site's effective settings, durations written as in the config (`newsmon sites --json`)."""
    policy, politeness = site.policy, site.politeness
    return {
        "name": site.name, "spider": site.spider, "base_url": site.base_url, "editions": list(site.editions),
        "front_pages": site.front_pages, "discovery_interval": format_duration(site.discovery_interval),
        "jitter": format_duration(site.jitter), "confirm_delay": format_duration(site.confirm_delay),
        "archive": site.archive, "feeds": list(site.feeds), "sitemaps": list(site.sitemaps),
        "sections": list(site.sections), "article_urls": site.article_urls, "article_key": site.article_key,
        "timezone": site.timezone,
        "policy": {"tiers": [[format_duration(t.until), format_duration(t.every)] for t in policy.tiers],
                   "error_retry": format_duration(policy.error_retry),
                   "listed_every": format_duration(policy.listed_every),
                   "listed_memory": format_duration(policy.listed_memory)},
        "politeness": None if politeness is None else {
            "concurrency": politeness.concurrency, "download_delay": format_duration(politeness.download_delay),
            "robots_txt": politeness.robots_txt, "user_agent": politeness.user_agent,
            "max_requests": politeness.max_requests, "timeout": format_duration(politeness.timeout)},
    }
