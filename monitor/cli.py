"""The `newsmon` command. Each command parses, calls one function, and renders; nothing else lives here."""
from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TextIO

from sqlalchemy.orm import Session

from monitor import settings
from monitor.compare.edit_kinds import EDIT_KINDS
from monitor.config import (Config, SiteConfig, check_base_url, check_edition, find_config, foreign_key_problem, load_config,
                            site_record)
from monitor.errors import BadInput, NewsmonError
from monitor.report import terminal as render
from monitor.store import Store, default_db_url, open_store, queries

DESCRIPTION = "Watch news sites, keep every version of every article, show which words changed."


# The largest number an option takes. Versions and limits are bound as SQL integers (32-bit on PostgreSQL;
# SQLite's driver raises OverflowError past 64 bits), and no real count comes near it.
MAX_NUMBER = 2**31 - 1
# Control characters (newlines among them), lone surrogates, line and paragraph separators.
LINE_BREAKING = frozenset({"Cc", "Cs", "Zl", "Zp"})


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit status 2: the same as every other bad input."""
        self.exit(2, f"newsmon: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(message: str) -> str:
    """`message` with the characters that would end its line (or print nothing) escaped: messages quote
    what the user typed, and an error is always exactly one line."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in LINE_BREAKING else c
                   for c in message)


def text(value: str) -> str:
    """A name, path or URL option. An empty one would quietly mean "not given" (every site, the default
    database or config, the current folder), so it is refused."""
    if not value.strip():
        raise argparse.ArgumentTypeError(f"takes a non-empty value, not {value!r}")
    return value


def number(what: str) -> Callable[[str], int]:
    """An option's whole number from 1 to MAX_NUMBER, as an argparse type: `what` names it in the message."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:  # not a number, or past int()'s digit limit
            n = 0
        if not 1 <= n <= MAX_NUMBER:
            raise argparse.ArgumentTypeError(f"takes a {what} from 1 to {MAX_NUMBER}, not {value!r}")
        return n
    return parse


def build_parser() -> Parser:
    parser = Parser(prog="newsmon", description=DESCRIPTION)
    parser.add_argument("--db", type=text, metavar="URL", help="SQLAlchemy database URL (default: $NEWSMON_DB, "
                        "else ~/.local/share/newsmon/newsmon.db)")
    # The same option after the command too; SUPPRESS keeps a value given before the command.
    db = Parser(add_help=False)
    db.add_argument("--db", type=text, metavar="URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    # Which changes: the same options for `changes` and `report` (see change_filter).
    filters = Parser(add_help=False)
    filters.add_argument("--since", type=text, metavar="WHEN",
                         help="a duration back from now (90m, 24h, 7d) or an ISO date")
    filters.add_argument("--silent", action="store_true", help="only text edits the site did not announce")
    filters.add_argument("--site", type=text, metavar="NAME")
    filters.add_argument("--edition", type=text, metavar="E")
    filters.add_argument("--kind", choices=queries.CHANGE_KINDS, help="only changes touching this field")
    filters.add_argument("--edit-kind", type=text, action="append", default=[], dest="edit_kinds", metavar="KIND",
                         help="only changes of this kind of edit (repeatable, or a comma list; any of them): "
                         + ", ".join(EDIT_KINDS))

    p = sub.add_parser("crawl", parents=[db], help="discover new articles and re-check the due ones")
    p.add_argument("spider", help="spider name, e.g. lepetitjournal; with --config, a site of the config")
    p.add_argument("--config", type=text, metavar="FILE", help="take the site's settings from this TOML config")
    p.add_argument("--base-url", type=text, metavar="URL", help="the site's address (default: the spider's own)")
    p.add_argument("--edition", type=text, action="append", dest="editions", metavar="E",
                   help="only this edition (repeatable; default: every edition linked from the home page)")
    p.add_argument("--site", type=text, metavar="NAME",
                   help="name the site is stored under (default: the spider name)")
    p.add_argument("--all", action="store_true", help="re-check every tracked article now, due or not")
    p.add_argument("--no-discovery", action="store_true", help="only re-check known articles")
    p.add_argument("--front-pages", type=number("number of front pages"), metavar="N",
                   help=f"front pages read per edition (default {settings.NEWSMON_FRONT_PAGES})")
    p.add_argument("--archive", action="store_true",
                   help="also fetch sitemap entries older than the revisit policy's last tier (the whole archive)")
    p.add_argument("--verbose", action="store_true", help="log Scrapy's progress")
    p.add_argument("--no-notify", action="store_true",
                   help="send no notification now (they wait in the outbox for the daemon or the next crawl)")
    p.set_defaults(run=cmd_crawl)

    p = sub.add_parser("add", help="add a news site to the config, after reading a few of its articles")
    p.add_argument("url", metavar="URL", help="the site's home page, e.g. https://www.harbour-times.example")
    p.add_argument("--name", type=text, metavar="NAME",
                   help="the site's name in the config (default: its host without www. and TLD, e.g. harbour-times)")
    p.add_argument("--config", type=text, metavar="FILE",
                   help="the config to add it to (default: ~/.config/newsmon/config.toml, created if missing)")
    p.add_argument("--dry-run", action="store_true", help="read the site and show the preview, write nothing")
    p.set_defaults(run=cmd_add)

    p = sub.add_parser("articles", parents=[db], help="list tracked articles")
    p.add_argument("--site", type=text, metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_articles)

    p = sub.add_parser("changes", parents=[db, filters], help="list detected changes, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_changes)

    p = sub.add_parser("history", parents=[db], help="versions, checks and events of one article")
    p.add_argument("article", metavar="ARTICLE", help="the site's article id, a URL, or site:id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_history)

    p = sub.add_parser("show", parents=[db], help="one version of an article (the latest by default)")
    p.add_argument("article", metavar="ARTICLE")
    p.add_argument("--version", type=number("version number"), metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("diff", parents=[db], help="word diff between two versions of an article")
    p.add_argument("article", metavar="ARTICLE")
    p.add_argument("--from", dest="from_version", type=number("version number"), metavar="N",
                   help="older version (default: TO - 1)")
    p.add_argument("--to", dest="to_version", type=number("version number"), metavar="M",
                   help="newer version (default: the latest)")
    p.add_argument("--format", choices=render.DIFF_FORMATS, help="default: term on a terminal, else text")
    p.set_defaults(run=cmd_diff)

    p = sub.add_parser("daemon", parents=[db], help="crawl the configured sites on a schedule until stopped")
    p.add_argument("--config", type=text, metavar="FILE", help="TOML config (default: ~/.config/newsmon/config.toml "
                   "if it exists, else lepetitjournal.com with the defaults)")
    p.add_argument("--log-file", type=text, metavar="FILE", help="log here instead of stderr (overrides the config)")
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="overrides the config")
    p.add_argument("--distributed", action="store_true", help="only plan: queue the due visits and discoveries "
                   "for `newsmon worker` processes to crawl (PostgreSQL)")
    p.set_defaults(run=cmd_daemon)

    p = sub.add_parser("worker", parents=[db], help="distributed mode: crawl what `daemon --distributed` "
                       "queues, on any number of machines (PostgreSQL)")
    p.add_argument("--config", type=text, metavar="FILE", help="TOML config: the planner's (default as for daemon)")
    p.add_argument("--concurrency", type=number("number of jobs"), default=settings.NEWSMON_WORKER_CONCURRENCY,
                   metavar="N", help=f"jobs run at once (default {settings.NEWSMON_WORKER_CONCURRENCY}); a site "
                   "never gets more than its own concurrency in flight, whatever the number of workers")
    p.add_argument("--log-file", type=text, metavar="FILE", help="log here instead of stderr (overrides the config)")
    p.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="overrides the config")
    p.set_defaults(run=cmd_worker)

    p = sub.add_parser("notify", help="notifications: send a test message, see what was delivered")
    notify = p.add_subparsers(dest="notify_command", required=True, metavar="ACTION", parser_class=Parser)
    config = Parser(add_help=False)
    config.add_argument("--config", type=text, metavar="FILE", help="TOML config with [notify.NAME] tables "
                        "(default as for daemon)")
    n = notify.add_parser("test", parents=[config], help="send a test message to every target of a subscription")
    n.add_argument("name", metavar="NAME", help="the subscription, as in [notify.NAME]")
    n.set_defaults(run=cmd_notify_test)
    n = notify.add_parser("status", parents=[db, config], help="pending, sent and failed deliveries per subscription")
    n.add_argument("--json", action="store_true")
    n.set_defaults(run=cmd_notify_status)
    n = notify.add_parser("send", parents=[db, config], help="deliver what is pending now (the daemon does it itself)")
    n.set_defaults(run=cmd_notify_send)

    p = sub.add_parser("sites", parents=[db], help="the sites of the config and their settings")
    p.add_argument("--config", type=text, metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_sites)

    p = sub.add_parser("status", parents=[db], help="last crawl runs per site and the next due checks")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_status)

    p = sub.add_parser("schedule", parents=[db], help="which articles are checked next, and why")
    p.add_argument("--config", type=text, metavar="FILE", help="for the sites' policies (default as for daemon)")
    p.add_argument("--site", type=text, metavar="NAME")
    p.add_argument("--limit", type=number("number of articles"), default=20, metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_schedule)

    p = sub.add_parser("report", parents=[db, filters],
                       help="write a static HTML report of the changes (works offline)")
    p.add_argument("--out", type=text, required=True, metavar="DIR", help="folder to write (created if needed)")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("serve", parents=[db], help="serve the report live from the database, with a feed and an API")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on, 0 to 65535 (0: any free port)")
    p.add_argument("--allowed-host", action="append", default=[], dest="allowed_hosts", metavar="NAME",
                   help="also answer requests for this Host name, e.g. a reverse proxy's (repeatable; * for any)")
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("export", parents=[db], help="the stored versions: JSON Lines, a WARC file, or a "
                       "NewsEdits-style SQLite database")
    p.add_argument("--format", choices=("jsonl", "warc", "newsedits"), default="jsonl",
                   help="jsonl (default): one version per line; warc: the pages as fetched (gzipped WARC); "
                   "newsedits: sentences and their matches between versions (SQLite, needs --out)")
    p.add_argument("--site", type=text, metavar="NAME")
    p.add_argument("--since", type=text, metavar="WHEN", help="versions fetched since (7d, 12h, or an ISO date)")
    p.add_argument("--revisits", action="store_true",
                   help="warc: also a revisit record for every check that found the page unchanged")
    p.add_argument("--out", type=text, metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("reextract", parents=[db],
                       help="read the stored pages again with the current extractors and repair the history")
    p.add_argument("--site", type=text, metavar="NAME", help="only this site's articles")
    p.add_argument("--dry-run", action="store_true", help="say what would be repaired; write nothing")
    p.add_argument("--config", type=text, metavar="FILE",
                   help="for the news sites' time zones (default as for daemon)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_reextract)

    p = sub.add_parser("stats", parents=[db], help="what the database takes: bytes per version, per check, per site")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_stats)

    p = sub.add_parser("prune", parents=[db], help="drop the raw pages of old versions (never text, versions "
                       "or checks)")
    p.add_argument("--raw-older-than", type=text, required=True, metavar="AGE",
                   help="versions fetched longer ago than this (180d, 26w) or before this ISO date")
    p.add_argument("--dry-run", action="store_true", help="say what would be dropped; write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_prune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        check_utf8(argv)
        args = build_parser().parse_args(argv)
        return args.run(args) or 0
    except NewsmonError as exc:
        print(f"newsmon: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsmon export | head`: the reader has all it wanted
        sys.stderr.close()
        return 0


def check_utf8(argv: Sequence[str]) -> None:
    """Python hands bytes that are not UTF-8 over as lone surrogates ("\\udcff"), which no database, page or
    terminal can take: refused here, where the arguments are read, instead of failing deep inside."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            try:
                raw = arg.encode("utf-8", "surrogateescape")  # the bytes as the shell passed them
            except UnicodeEncodeError:  # a surrogate no command line carries (a Python caller's)
                raw = arg.encode("utf-8", "backslashreplace")
            raise BadInput(f"arguments must be UTF-8 text, not '{raw.decode('utf-8', 'backslashreplace')}'") from None


@dataclass(frozen=True, slots=True)
class Shown:
    """What a read command found, in both its forms: `--json`, and a table or text for people."""

    json: Any
    render: Callable[[render.Output], None]


def _read(args: argparse.Namespace, ask: Callable[[Session], Shown]) -> int:
    """Run a read-only command: one question to the database, in one transaction, then its answer shown
    as JSON with `--json`, else for people. A database that does not exist yet is an error, not created."""
    store = open_store(args.db, create=False)
    try:
        with store.session() as session:
            shown = ask(session)
    finally:
        store.close()
    show(args, shown)
    return 0


def show(args: argparse.Namespace, shown: Shown) -> None:
    """`--json` is handled here, once, for every command that has it."""
    if getattr(args, "json", False):
        render.write_json(sys.stdout, shown.json)
    else:
        shown.render(render.Output(sys.stdout))


def _with_store(args: argparse.Namespace, body: Callable[[Store], None]) -> int:
    """Run a command that reads the database its own way (a report, the web app, a stream)."""
    store = open_store(args.db, create=False)
    try:
        body(store)
    finally:
        store.close()
    return 0


def crawl_site(args: argparse.Namespace, config: Config | None) -> tuple[SiteConfig, str | None]:
    """The site to crawl, from the config file or the command line (options override the file)."""
    site = config.site(args.spider) if config else SiteConfig(name=args.site or args.spider, spider=args.spider)
    if args.base_url:
        site = replace(site, base_url=check_base_url(args.base_url))
    if (args.editions or args.front_pages is not None) and (problem := foreign_key_problem("editions", site.spider)):
        raise BadInput(f"--edition and --front-pages are {problem}")
    if args.editions:
        site = replace(site, editions=tuple(check_edition(e) for e in args.editions))
    if args.front_pages is not None:
        site = replace(site, front_pages=args.front_pages)
    if args.archive:
        site = replace(site, archive=True)
    return site, args.db or (config.db if config else None)


def cmd_crawl(args: argparse.Namespace) -> int:
    from monitor.crawl.runner import run_crawl  # Scrapy loads only for crawls

    config = load_config(args.config) if args.config else None
    site, db_url = crawl_site(args, config)
    out = render.Output(sys.stdout)
    summary = run_crawl(site, db_url=db_url, revisit="all" if args.all else "due", discover=not args.no_discovery,
                        progress=sys.stderr.isatty(), log_level="INFO" if args.verbose else "ERROR")
    out.print(render.summary_line(summary))
    if config is not None and config.notify and not args.no_notify:
        notify_now(config, db_url or default_db_url())
    if summary.listing_errors:
        print(f"newsmon: warning: {summary.listing_errors} listing page(s) could not be read, the first: "
              f"{summary.first_listing_error}", file=sys.stderr)
    if warning := summary.warning:
        print(f"newsmon: warning: {summary.site}: {warning}", file=sys.stderr)
    if failure := summary.failure:
        print(f"newsmon: error: {summary.site}: {failure}", file=sys.stderr)
        return 1
    return 0


def notify_now(config: Config, db_url: str) -> None:
    """One round of deliveries after a crawl: failures wait in the outbox and are said on stderr."""
    from monitor.notify.dispatch import deliver

    store = open_store(db_url)
    try:
        done = deliver(store, config.notify, public_url=config.public_url)
    finally:
        store.close()
    if done.sent or done.failed:
        print(f"notified: {done.sent} message(s) sent" + (f", {done.failed} failed (tried again later)"
                                                           if done.failed else ""))
    for error in done.errors:
        print(f"newsmon: warning: notification not delivered: {error}", file=sys.stderr)


def notify_config(args: argparse.Namespace) -> Config:
    config = find_config(args.config)
    if not config.notify:
        raise BadInput(f"{config.path or 'the built-in config'}: no [notify.NAME] table: nobody to notify")
    return config


def cmd_notify_test(args: argparse.Namespace) -> int:
    from monitor.notify.dispatch import send_test

    config = notify_config(args)
    subscription = next((s for s in config.notify if s.name == args.name), None)
    if subscription is None:
        raise BadInput(f"{config.path}: no subscription named {args.name!r} "
                       f"(subscriptions: {', '.join(s.name for s in config.notify)})")
    failed = 0
    for target, error in send_test(subscription, public_url=config.public_url):
        print(f"{target.kind} {redacted(target.url)}: " + (f"FAILED: {error}" if error else "sent"))
        failed += error is not None
    return 1 if failed else 0


def redacted(url: str) -> str:
    """A target's URL without what may be a secret (tokens and passwords sit in Apprise URLs' user part
    and path): scheme and host only."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…" if rest else url


def cmd_notify_status(args: argparse.Namespace) -> int:
    from monitor.notify.dispatch import status

    config = find_config(args.config)
    args.db = args.db or config.db

    def body(store: Store) -> None:
        records = [r.as_json() for r in status(store, config.notify)]
        show(args, Shown(records, lambda out: render.notify_table(out, records)))
    return _with_store(args, body)


def cmd_notify_send(args: argparse.Namespace) -> int:
    config = notify_config(args)
    notify_now(config, args.db or config.db or default_db_url())
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from monitor.onboard import add_site, report_lines  # urllib and tomlkit load only here

    added = add_site(args.url, name=args.name, config=args.config, write=not args.dry_run)
    for line in report_lines(added):
        print(line)
    return 0


def cmd_articles(args: argparse.Namespace) -> int:
    def ask(session: Session) -> Shown:
        records = queries.list_articles(session, args.site)
        return Shown([r.as_json() for r in records], lambda out: render.articles_table(out, records))
    return _read(args, ask)


def cmd_changes(args: argparse.Namespace) -> int:
    where, _ = change_filter(args)

    def ask(session: Session) -> Shown:
        records = queries.list_changes(session, where)
        return Shown([r.as_json() for r in records], lambda out: render.changes_table(out, records))
    return _read(args, ask)


def cmd_history(args: argparse.Namespace) -> int:
    def ask(session: Session) -> Shown:
        history = queries.article_history(session, queries.resolve_article(session, args.article))
        return Shown(history.as_json(), lambda out: render.history_view(out, history))
    return _read(args, ask)


def cmd_show(args: argparse.Namespace) -> int:
    def ask(session: Session) -> Shown:
        article = queries.resolve_article(session, args.article)
        record = queries.version_record(queries.site_name(session, article), article,
                                        queries.get_version(session, article, args.version))
        return Shown(record.as_json(), lambda out: render.version_view(out, record))
    return _read(args, ask)


def cmd_diff(args: argparse.Namespace) -> int:
    """`--format json` is this command's `--json`; term and text are for people."""
    from monitor.compare.diffing import diff_articles

    args.json = args.format == "json"

    def ask(session: Session) -> Shown:
        article = queries.resolve_article(session, args.article)
        old, new = queries.version_pair(session, article, args.from_version, args.to_version)
        diffs = diff_articles(old, new)

        def for_people(out: render.Output) -> None:
            out.print(render.RENDER_DIFF[args.format or ("term" if out.is_terminal else "text")](diffs))
        return Shown({"article_id": article.key, "from_version": old.number, "to_version": new.number,
                      "fields": render.diff_as_json(diffs)}, for_people)
    return _read(args, ask)


def cmd_daemon(args: argparse.Namespace) -> int:
    from monitor.daemon import configure_logging, run_daemon  # Scrapy and APScheduler load only here

    config = find_config(args.config)
    db_url = args.db or config.db or default_db_url()
    if args.distributed:
        from monitor.distributed.app import quiet_procrastinate, require_postgres
        from monitor.distributed.planner import run_planner

        require_postgres(db_url)  # before the log file is written to
        configure_logging(args.log_level or config.log_level, args.log_file or config.log_file)
        quiet_procrastinate(args.log_level or config.log_level)
        run_planner(config, db_url)
        return 0
    configure_logging(args.log_level or config.log_level, args.log_file or config.log_file)
    run_daemon(config, db_url)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from monitor.daemon import configure_logging
    from monitor.distributed.app import quiet_procrastinate, require_postgres
    from monitor.distributed.worker import run_worker

    config = find_config(args.config)
    db_url = args.db or config.db or default_db_url()
    require_postgres(db_url)  # before the log file is written to
    configure_logging(args.log_level or config.log_level, args.log_file or config.log_file)
    quiet_procrastinate(args.log_level or config.log_level)
    run_worker(config, db_url, concurrency=args.concurrency)
    return 0


def cmd_sites(args: argparse.Namespace) -> int:
    config = find_config(args.config)
    records = [site_record(site) for site in config.sites]
    show(args, Shown(records, lambda out: render.sites_table(out, records, config.path)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.store.queue import queue_state

    def ask(session: Session) -> Shown:
        runs = queries.recent_runs(session)
        overdue, due = queries.due_articles(session, {}, limit=10)
        queue = queue_state(session)

        def for_people(out: render.Output) -> None:
            render.status_view(out, runs, overdue, due)
            if queue is not None:
                render.queue_view(out, queue)
        return Shown({"runs": [r.as_json() for r in runs], "due_now": overdue,
                      "next_checks": [d.as_json() for d in due], "queue": queue.as_json() if queue else None},
                     for_people)
    return _read(args, ask)


def cmd_schedule(args: argparse.Namespace) -> int:
    config = find_config(args.config)
    policies = {site.name: site.policy for site in config.sites}

    def ask(session: Session) -> Shown:
        overdue, due = queries.due_articles(session, policies, limit=args.limit, site=args.site)
        return Shown({"due_now": overdue, "next_checks": [d.as_json() for d in due]},
                     lambda out: render.schedule_table(out, overdue, due))
    return _read(args, ask)


def change_filter(args: argparse.Namespace) -> tuple[queries.ChangeFilter, str]:
    """The filter the options ask for, and a short description of it."""
    edit_kinds = queries.parse_edit_kinds(args.edit_kinds)
    where = queries.ChangeFilter(since=queries.parse_since(args.since) if args.since else None, site=args.site,
                                 edition=args.edition, kind=args.kind, edit_kinds=edit_kinds, silent_only=args.silent)
    said = [f"since {args.since}" if args.since else "", f"site {args.site}" if args.site else "",
            f"edition {args.edition}" if args.edition else "", f"{args.kind} changes" if args.kind else "",
            f"edits: {' or '.join(edit_kinds)}" if edit_kinds else "", "silent edits only" if args.silent else ""]
    return where, ", ".join(s for s in said if s)


def cmd_report(args: argparse.Namespace) -> int:
    from monitor.report.static_site import write_report

    where, label = change_filter(args)

    def body(store: Store) -> None:
        summary = write_report(store, Path(args.out), where, filters_label=label)
        print(f"{summary.changes} change(s) of {summary.articles} article(s): {summary.out / 'index.html'}")
    return _with_store(args, body)


def cmd_serve(args: argparse.Namespace) -> int:
    from monitor.report.webapp import host_name, make_app_server

    # Checked before the database opens: a port outside 0-65535 makes the socket raise OverflowError, which
    # is no OSError, and a bad name would only show as every request refused.
    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port must be a port number from 0 to 65535, not {args.port}")
    for name in args.allowed_hosts:
        if name != "*" and host_name(name) is None:
            raise BadInput(f"--allowed-host takes a host name or address (optionally with :port), not {name!r}")

    def body(store: Store) -> None:
        try:
            server = make_app_server(store, args.host, args.port, args.allowed_hosts)
        except OSError as exc:
            raise BadInput(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        print(f"newsmon: serving http://{args.host}:{server.server_port}/ (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()
    return _with_store(args, body)


def cmd_export(args: argparse.Namespace) -> int:
    """Streamed, whatever the format: a database of any size is never held in memory."""
    since = queries.parse_since(args.since, name="--since") if args.since else None
    if args.revisits and args.format != "warc":
        raise BadInput("--revisits is for --format warc")
    if args.format == "newsedits" and not args.out:
        raise BadInput("--format newsedits writes a SQLite database: give its path with --out FILE")

    def body(store: Store) -> None:
        with store.session() as session:
            queries.require_site(session, args.site)  # before --out is written to
            if args.format == "warc":
                from monitor.export.warc import write_warc

                with _binary_out(args.out) as out:
                    write_warc(session, out, site=args.site, since=since, revisits=args.revisits)
            elif args.format == "newsedits":
                from monitor.export.newsedits import write_newsedits

                summary = write_newsedits(session, Path(args.out), site=args.site, since=since)
                print(summary.line(), file=sys.stderr)  # a note on what was written, not data: stderr
            else:
                with _text_out(args.out) as out:
                    render.write_json_lines(out, queries.export_versions(session, args.site, since))
    return _with_store(args, body)


@contextmanager
def _binary_out(path: str | None) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdout.buffer
        return
    with open(path, "wb") as out:
        yield out


@contextmanager
def _text_out(path: str | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as out:
        yield out


def cmd_reextract(args: argparse.Namespace) -> int:
    from monitor.reextract import lines, reextract

    # A `news` site reads dates written without an offset in its configured zone; so must its re-reading.
    timezones = {site.name: site.timezone for site in find_config(args.config).sites if site.timezone}

    def body(store: Store) -> None:
        summary = reextract(store, site=args.site, dry_run=args.dry_run, timezones=timezones)

        def for_people(out: render.Output) -> None:
            for line in lines(summary):
                out.print(line)
        show(args, Shown(summary.as_json(), for_people))
    return _with_store(args, body)


def cmd_stats(args: argparse.Namespace) -> int:
    from monitor.store.usage import usage

    def ask(session: Session) -> Shown:
        found = usage(session)
        return Shown(found.as_json(), lambda out: render.usage_view(out, found))
    return _read(args, ask)


def cmd_prune(args: argparse.Namespace) -> int:
    from monitor.store.usage import prune

    before = queries.parse_since(args.raw_older_than, name="--raw-older-than")

    def body(store: Store) -> None:
        done = prune(store, before, dry_run=args.dry_run)
        show(args, Shown(done.as_json(), lambda out: render.pruned_view(out, done)))
    return _with_store(args, body)
