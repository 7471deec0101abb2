"""`newsmon daemon`: crawl the configured sites on a schedule until stopped.

One process, one asyncio reactor for the daemon's lifetime (a stopped Twisted reactor cannot restart),
one AsyncCrawlerRunner, and APScheduler's AsyncIOScheduler on the same loop. Per site, two jobs:
- discovery, every `discovery_interval`: front pages, feeds, sitemaps; new articles are fetched;
- revisits, every `tick`: the articles whose `next_check_at` has come (skipped when none has).
A per-site lock keeps the two from crawling the same site at once; misfired runs coalesce into one;
jitter spreads the sites' discoveries. A crawl that fails is logged and recorded; the job runs again at
its next time, and the other sites' jobs never notice.

Crash safety comes from the store: every batch of fetches is one transaction and an article's
`next_check_at` moves only when its fetch is stored, so after a SIGKILL the restarted daemon finds the
lost work still due and does it first.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Config, SiteConfig
from monitor.crawl.runner import (crawl_in_time, newsmon_settings, quiet_fetch_failures, register_site,
                                  site_settings, spider_class)
from monitor.crawl.summary import CrawlSummary
from monitor.errors import BadInput
from monitor.notify.notice import Notice
from monitor.settings import NEWSMON_NOTIFY_EVERY
from monitor.report.terminal import summary_line
from monitor.store import Store, open_store, runs
from monitor.store.known import count_due
from monitor.store.locking import daemon_lock

logger = logging.getLogger("newsmon.daemon")


@dataclass
class SiteState:
    config: SiteConfig
    site_id: int
    lock: asyncio.Lock
    revisit_seconds: float = 0.0   # how long the last revisit crawl took


class Daemon:
    def __init__(self, config: Config, db_url: str, store: Store):
        self.config, self.db_url, self.store = config, db_url, store
        # The runner's settings are merged into each crawler's as defaults: keep them site-neutral.
        self.runner = AsyncCrawlerRunner(newsmon_settings())
        self.sites: dict[str, SiteState] = {}
        self.stopping = asyncio.Event()
        self.crawlers: set[Crawler] = set()
        # Crawls run as tasks of their own: APScheduler cancels its running jobs on shutdown, and a
        # crawl should rather finish (its pipeline flushing what was fetched) than be cut mid-flight.
        self.tasks: set[asyncio.Task[None]] = set()
        self.scheduler: AsyncIOScheduler | None = None
        self.database_error: str | None = None   # while the database refuses writes (database_trouble)

    async def run(self) -> None:
        """Until SIGTERM or SIGINT: schedule, crawl, then stop within shutdown_timeout."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum)
        interrupted = await asyncio.to_thread(runs.interrupt_stale_runs, self.store)
        if interrupted:
            logger.info("%d crawl run(s) of a previous process were cut short; their articles are still due",
                        interrupted)
        scheduler = AsyncIOScheduler(event_loop=loop, job_defaults={"coalesce": True, "max_instances": 1,
                                                                     "misfire_grace_time": None})
        now = datetime.now(UTC)
        for site in self.config.sites:
            spidercls = spider_class(self.runner.settings, site.spider)
            site_id = await asyncio.to_thread(register_site, self.store, site, spidercls)
            self.sites[site.name] = SiteState(site, site_id, asyncio.Lock())
            scheduler.add_job(self.revisit, "interval", args=[site.name], id=f"{site.name}:revisit",
                              seconds=self.config.tick.total_seconds(), next_run_time=now)
            scheduler.add_job(self.discover, "interval", args=[site.name], id=f"{site.name}:discovery",
                              seconds=site.discovery_interval.total_seconds(),
                              jitter=site.jitter.total_seconds() or None, next_run_time=now)
        if self.config.notify:
            scheduler.add_job(self.notify, "interval", id="notify", seconds=NEWSMON_NOTIFY_EVERY,
                              next_run_time=now)
        self.scheduler = scheduler
        scheduler.start()
        logger.info("newsmon daemon started: %d site(s), database %s", len(self.sites),
                    self.store.engine.url.render_as_string(hide_password=True))
        await self.stopping.wait()
        scheduler.shutdown(wait=False)
        await self.finish_crawls()
        logger.info("newsmon daemon stopped")

    def stop(self, signum: int) -> None:
        if not self.stopping.is_set():
            logger.info("%s received: finishing in-flight crawls (at most %s)", signal.Signals(signum).name,
                        self.config.shutdown_timeout)
            self.stopping.set()

    async def finish_crawls(self) -> None:
        """Let running crawls close (their pipelines flush what was fetched), within the time allowed.
        What does not finish in time is abandoned: unflushed fetches are simply not stored, and stay due; its
        run is recorded as interrupted."""
        if not self.tasks:
            return
        for crawler in list(self.crawlers):
            if crawler.crawling:
                asyncio.ensure_future(crawler.stop_async())
        done, pending = await asyncio.wait(self.tasks, timeout=self.config.shutdown_timeout.total_seconds())
        if pending:
            logger.warning("%d crawl(s) still running after %s: abandoned", len(pending),
                           self.config.shutdown_timeout)
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=2)

    async def in_own_task(self, state: SiteState, kind: str, *, revisit: str, discover: bool,
                          ahead: float = 0.0) -> None:
        task = asyncio.ensure_future(self.crawl(state, kind, revisit=revisit, discover=discover, ahead=ahead))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        await asyncio.shield(task)

    # ------------------------------------------------------------ jobs

    async def discover(self, name: str) -> None:
        await self.in_own_task(self.sites[name], "discovery", revisit="none", discover=True)

    async def revisit(self, name: str) -> None:
        state = self.sites[name]
        # An article due before the next crawl could reach it is fetched in this one: a tick ahead, plus
        # the time the last revisit crawl took (an article may wait that long in the crawl's queue).
        # Checks then keep to their interval instead of overshooting it.
        ahead = self.config.tick.total_seconds() + state.revisit_seconds
        try:
            due = await asyncio.to_thread(self.due_count, state.site_id, ahead)
        except SQLAlchemyError as exc:
            logger.warning("%s: cannot read the due articles (%s); trying again at the next tick", name,
                           str(exc).splitlines()[0])
            await self.database_trouble(name, str(exc).splitlines()[0])
            return
        if due:
            await self.in_own_task(state, "revisit", revisit="due", discover=False, ahead=ahead)

    def due_count(self, site_id: int, ahead: float) -> int:
        with self.store.session() as session:
            return count_due(session, site_id, datetime.now(UTC) + timedelta(seconds=ahead))

    async def crawl(self, state: SiteState, kind: str, *, revisit: str, discover: bool, ahead: float = 0.0) -> None:
        """One crawl of one site, never two at once for a site; failures are logged and recorded, not raised."""
        async with state.lock:
            if self.stopping.is_set():
                return
            site = state.config
            try:
                run_id = await asyncio.to_thread(runs.start_run, self.store, state.site_id, kind)
            except SQLAlchemyError as exc:
                logger.warning("%s %s: database unavailable (%s); trying again later", site.name, kind,
                               str(exc).splitlines()[0])
                await self.database_trouble(site.name, str(exc).splitlines()[0])
                return
            started = time.monotonic()
            try:
                crawler, error = await self.run_crawler(site, revisit=revisit, discover=discover, ahead=ahead)
            except asyncio.CancelledError:
                # Abandoned at shutdown (finish_crawls): its run says so, not "running" until the next start.
                why = f"still running {self.config.shutdown_timeout} after the daemon was told to stop"
                with contextlib.suppress(SQLAlchemyError):
                    await asyncio.to_thread(runs.finish_run, self.store, run_id, "interrupted", {}, why)
                raise
            summary = CrawlSummary.from_crawler(site.name, crawler, time.monotonic() - started)
            if kind == "revisit":
                state.revisit_seconds = summary.seconds
            error = error or summary.failure
            logger.log(logging.WARNING if error or summary.warning else logging.INFO, "%s %s", kind,
                       summary_line(summary) + (f" · FAILED: {error}" if error else "")
                       + (f" · {summary.warning}" if summary.warning else ""))
            try:
                await asyncio.to_thread(runs.finish_run, self.store, run_id, "failed" if error else "ok",
                                        summary.counts, error)
            except SQLAlchemyError as exc:
                logger.warning("%s %s: could not record the run: %s", site.name, kind, str(exc).splitlines()[0])
                await self.database_trouble(site.name, str(exc).splitlines()[0])
            else:
                await self.database_trouble(site.name, None)
        if self.config.notify and self.scheduler is not None and not self.stopping.is_set():
            self.scheduler.modify_job("notify", next_run_time=datetime.now(UTC))   # what it found, told now

    async def database_trouble(self, site: str, error: str | None) -> None:
        """The database refusing writes cannot be told through the outbox, which lives in it: subscribers
        of errors are told at once, once when it starts and once when a write succeeds again."""
        if not self.config.notify or (error is None) == (self.database_error is None):
            return
        self.database_error = error
        kind, detail = (("alert", f"the database refuses writes: {error}") if error
                        else ("recovered", "the database accepts writes again"))
        from monitor.notify.dispatch import send_now   # Apprise loads only for daemons that notify

        notice = Notice(id=0, kind=kind, site=site, at=datetime.now(UTC), detail=detail)
        for problem in await asyncio.to_thread(send_now, self.config.notify, notice, public_url=self.config.public_url):
            logger.warning("notify %s", problem)

    async def notify(self) -> None:
        """One round of deliveries (monitor/notify/dispatch.py), in a thread: a slow channel holds up no crawl."""
        from monitor.notify.dispatch import deliver   # Apprise loads only for daemons that notify

        try:
            done = await asyncio.to_thread(deliver, self.store, self.config.notify, public_url=self.config.public_url)
        except SQLAlchemyError as exc:
            logger.warning("notifications: database unavailable (%s); trying again later", str(exc).splitlines()[0])
            return
        if done.sent or done.failed:
            logger.info("notifications: %d sent, %d failed", done.sent, done.failed)

    async def run_crawler(self, site: SiteConfig, *, revisit: str, discover: bool,
                          ahead: float) -> tuple[Crawler, str | None]:
        settings = site_settings(site, db_url=self.db_url, revisit=revisit, log_level="WARNING")
        settings.set("NEWSMON_DUE_AHEAD", ahead, priority="cmdline")
        crawler = Crawler(spider_class(settings, site.spider), settings)
        crawler.newsmon_store = self.store  # type: ignore[attr-defined] # one engine for the daemon's lifetime
        self.crawlers.add(crawler)
        try:
            return crawler, await crawl_in_time(self.runner, crawler, site, discover=discover,
                                                timeout=self.config.crawl_timeout)
        finally:
            self.crawlers.discard(crawler)


def configure_logging(level: str, log_file: str | None) -> None:
    try:
        handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    except OSError as exc:  # a folder, no permission, under a file: the user's input, before anything starts
        raise BadInput(f"cannot write the log file {log_file}: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the path, which no file can have
        raise BadInput(f"cannot write the log file {log_file!r}: a path cannot hold a NUL character") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Scrapy's own per-request chatter stays out of the daemon's log unless asked for.
    logging.getLogger("scrapy").setLevel(level if level == "DEBUG" else "WARNING")
    logging.getLogger("alembic").setLevel(level if level == "DEBUG" else "WARNING")
    # A job skipped because its previous run is still going is the design (one crawl per site at a time).
    logging.getLogger("apscheduler").setLevel(level if level == "DEBUG" else "ERROR")
    quiet_fetch_failures(level if level == "DEBUG" else "WARNING")


def run_daemon(config: Config, db_url: str) -> None:
    """Run until SIGTERM/SIGINT. Raises DaemonRunning when another daemon holds the database."""
    store = open_store(db_url)  # one engine for the daemon's whole life, shared by every crawl
    try:
        with daemon_lock(store):
            run_on_reactor(lambda: Daemon(config, db_url, store).run())
    finally:
        store.close()


def run_on_reactor(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `main()` on Scrapy's asyncio reactor, started for it and stopped when it returns (the daemon's, and
    a distributed worker's: monitor/distributed/worker.py). What it raised is raised here."""
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    failure: list[BaseException] = []

    def done(result: object) -> None:
        if isinstance(getattr(result, "value", None), BaseException):
            failure.append(result.value)  # type: ignore[attr-defined]
        reactor.stop()  # type: ignore[attr-defined]

    gc.freeze()  # imports and configuration live as long as the process: out of the collector's way
    reactor.callWhenRunning(lambda: deferred_from_coro(main()).addBoth(done))  # type: ignore[attr-defined]
    reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
    if failure:
        raise failure[0]
