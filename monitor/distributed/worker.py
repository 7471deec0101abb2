"""`newsmon worker`: takes jobs from the queue and crawls them, on any number of machines.

One process, one asyncio reactor for its whole life (a stopped Twisted reactor cannot restart), one Scrapy
`AsyncCrawlerRunner`, and procrastinate's worker (`App.run_worker_async`) on the same asyncio loop, running
up to `--concurrency` jobs at once. A job is one short crawl of one site on one of its lanes: a batch of
planned visits, or a discovery. The crawl is newsmon's own (frontier, confirmations, retries, the pipeline
writing in batches), so a job is done only once its pipeline has stored what it fetched; a worker killed
before that leaves the job running in the queue, and the planner queues it again once the worker's heartbeat
has stopped (monitor/distributed/planner.py).

SIGTERM/SIGINT: no new job is taken, running crawls are told to stop (their pipelines store what they
fetched), and the worker leaves within `shutdown_timeout`. Visits a stopped crawl did not make stay due.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time

from procrastinate import App
from scrapy.crawler import AsyncCrawlerRunner, Crawler

from monitor import settings as defaults
from monitor.config import Config, SiteConfig
from monitor.crawl.runner import crawl_in_time, newsmon_settings, spider_class
from monitor.crawl.summary import CrawlSummary
from monitor.daemon import run_on_reactor
from monitor.distributed.app import QUEUE, make_app, open_shared_store, require_postgres
from monitor.distributed.lanes import lane_settings
from monitor.distributed.tasks import CONTEXT_KEY
from monitor.errors import BadInput, NewsmonError
from monitor.report.terminal import summary_line
from monitor.store import Store, runs
from monitor.store.visits import PlannedVisit, VisitsToMake, visits_to_make

logger = logging.getLogger("newsmon.worker")


class CrawlFailed(NewsmonError):
    """A job's crawl failed by the crawl failure rule (monitor/crawl/summary.py): the job is marked failed."""


class Worker:
    """The crawls of one worker process; procrastinate's jobs call `visit` and `discover` (tasks.py)."""

    def __init__(self, config: Config, db_url: str, store: Store, site_ids: dict[str, int], concurrency: int):
        self.config, self.db_url, self.store, self.concurrency = config, db_url, store, concurrency
        self.sites = {site.name: site for site in config.sites}
        self.site_ids = site_ids
        # The runner's settings are merged into each crawler's as defaults: keep them site-neutral.
        self.runner = AsyncCrawlerRunner(newsmon_settings())
        self.crawlers: set[Crawler] = set()
        # Found once: Scrapy's spider loader walks the spider modules at each call (~12 ms, per job otherwise).
        self.spiders = {site.name: spider_class(self.runner.settings, site.spider) for site in config.sites}
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum)
        app = make_app(self.db_url, connections=self.concurrency + 4)
        async with app.open_async():
            await self.work(app)

    async def work(self, app: App) -> None:
        name = f"newsmon-{socket.gethostname()}-{os.getpid()}"
        worker = asyncio.ensure_future(app.run_worker_async(
            queues=[QUEUE], name=name, concurrency=self.concurrency, install_signal_handlers=False,
            fetch_job_polling_interval=defaults.NEWSMON_WORKER_POLL,
            update_heartbeat_interval=defaults.NEWSMON_WORKER_HEARTBEAT,
            stalled_worker_timeout=defaults.NEWSMON_WORKER_STALLED_AFTER,
            shutdown_graceful_timeout=self.config.shutdown_timeout.total_seconds(),
            additional_context={CONTEXT_KEY: self}))
        logger.info("newsmon worker %s started: %d job(s) at a time, %d site(s)", name, self.concurrency,
                    len(self.sites))
        stopped = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({worker, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if worker.done():  # procrastinate stopped by itself: its database connection was lost, say
            stopped.cancel()
            worker.result()
            raise NewsmonError("the worker lost its job queue (see the log); start it again")
        # Running crawls stop (their pipelines store what was fetched) and their jobs end; held until then.
        stopping = [asyncio.ensure_future(c.stop_async()) for c in list(self.crawlers) if c.crawling]
        worker.cancel()  # procrastinate's way to stop: it waits for the running jobs (shutdown_graceful_timeout)
        try:
            await worker
        except asyncio.CancelledError:
            pass
        await asyncio.gather(*stopping, return_exceptions=True)
        logger.info("newsmon worker %s stopped", name)

    def stop(self, signum: int) -> None:
        if not self.stopping.is_set():
            logger.info("%s received: finishing the running jobs (at most %s)", signal.Signals(signum).name,
                        self.config.shutdown_timeout)
            self.stopping.set()

    def site(self, name: str) -> SiteConfig:
        if name not in self.sites:
            raise BadInput(f"site {name!r} is not in this worker's config ({self.config.path or 'built-in'}): "
                           "give the planner and the workers the same config")
        return self.sites[name]

    # ------------------------------------------------------------ jobs

    async def visit(self, name: str, visits: list[PlannedVisit], job: str) -> dict[str, int]:
        site = self.site(name)
        if self.stopping.is_set():
            return {"left": len(visits)}   # still due: planned again
        todo = await asyncio.to_thread(self._visits_to_make, self.site_ids[name], visits)
        if todo.recorded or todo.superseded:
            logger.info("%s visit %s: %d visit(s) already stored (their worker died after storing them), %d "
                        "superseded by a later check: not made again", job, name, todo.recorded, todo.superseded)
        result = {"recorded_before": todo.recorded, "superseded": todo.superseded, "checked": 0}
        if todo.keys:
            summary, error = await self.crawl(site, job, "visit", visits=todo.keys)
            if error:
                raise CrawlFailed(f"{name}: {error}")
            result["checked"] = summary.checked
        return result

    def _visits_to_make(self, site_id: int, visits: list[PlannedVisit]) -> VisitsToMake:
        with self.store.session() as session:
            return visits_to_make(session, site_id, visits)

    async def discover(self, name: str, job: str) -> dict[str, int]:
        """Recorded as a run, as the daemon's are (`newsmon status`): a site's discoveries never overlap (lane
        0), so a run of it still "running" is a dead worker's."""
        site, site_id = self.site(name), self.site_ids[name]
        await asyncio.to_thread(runs.interrupt_stale_runs, self.store, site_id=site_id, kind="discovery")
        run_id = await asyncio.to_thread(runs.start_run, self.store, site_id, "discovery")
        try:
            summary, error = await self.crawl(site, job, "discovery", visits={})
        except BaseException:  # cancelled: the worker was told to stop and its time is up
            await asyncio.to_thread(runs.finish_run, self.store, run_id, "interrupted", {})
            raise
        outcome = "interrupted" if self.stopping.is_set() else "failed" if error else "ok"
        await asyncio.to_thread(runs.finish_run, self.store, run_id, outcome, summary.counts, error)
        if error:
            raise CrawlFailed(f"{name}: {error}")
        return {"checked": summary.checked}

    async def crawl(self, site: SiteConfig, job: str, kind: str, *,
                    visits: dict[str, str]) -> tuple[CrawlSummary, str | None]:
        """One crawl on one lane, logged in one line; with why it failed, if it did (monitor/crawl/summary.py)."""
        settings = lane_settings(site, db_url=self.db_url, visits=visits)
        crawler = Crawler(self.spiders[site.name], settings)
        crawler.newsmon_store = self.store  # type: ignore[attr-defined] # one engine for the worker's lifetime
        started = time.monotonic()
        error = await self._run(crawler, site, discover=not visits)
        summary = CrawlSummary.from_crawler(site.name, crawler, time.monotonic() - started)
        # A crawl cut short by the worker's own shutdown failed nothing: what it did not fetch stays due.
        error = None if self.stopping.is_set() else error or summary.failure
        logger.log(logging.WARNING if error or summary.warning else logging.INFO, "%s %s %s", job, kind,
                   summary_line(summary) + _notes(crawler, error, summary.warning, self.stopping.is_set()))
        return summary, error

    async def _run(self, crawler: Crawler, site: SiteConfig, *, discover: bool) -> str | None:
        if self.stopping.is_set():  # checked with no await before the crawler is known: `work` stops it
            return None
        self.crawlers.add(crawler)
        try:  # a crawl's failure fails its job, not the worker
            return await crawl_in_time(self.runner, crawler, site, discover=discover,
                                       timeout=self.config.crawl_timeout)
        finally:
            self.crawlers.discard(crawler)


def _notes(crawler: Crawler, error: str | None, warning: str | None, stopping: bool) -> str:
    """What the crawl summary line does not say: the rest of a job's log line."""
    stats = crawler.stats.get_stats() if crawler.stats else {}
    notes = [f"{n} fetch(es) of visits another worker stored meanwhile left out"
             if (n := stats.get("newsmon/visits_recorded_before")) else "",
             "stopped: the worker is shutting down, what it did not fetch stays due" if stopping else "",
             f"FAILED: {error}" if error else "", warning or ""]
    return "".join(f" · {note}" for note in notes if note)


class _NoTracebackForFailedCrawls(logging.Filter):
    """procrastinate logs a failed job with its traceback; a failed crawl was said in one line already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], CrawlFailed):
            record.exc_info = None
        return True


def run_worker(config: Config, db_url: str, *, concurrency: int) -> None:
    """Until SIGTERM/SIGINT."""
    require_postgres(db_url)
    logging.getLogger("procrastinate.worker").addFilter(_NoTracebackForFailedCrawls())
    store, site_ids = open_shared_store(db_url, config.sites)
    try:
        run_on_reactor(lambda: Worker(config, db_url, store, site_ids, concurrency).run())
    finally:
        store.close()
