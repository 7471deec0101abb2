"""`newsmon daemon --distributed`: the planner. It crawls nothing itself; on APScheduler's AsyncIOScheduler:

- every `tick`: the articles due before the next tick, less those already in a waiting or running job
  (read from procrastinate's jobs table), become jobs of small batches (`plan_batches`), each on a lane of its
  site (monitor/distributed/lanes.py);
- every site's `discovery_interval`: a discovery job, on lane 0 of the site, ahead of its visits;
- every NEWSMON_STALLED_CHECK: the running jobs of workers silent for NEWSMON_WORKER_STALLED_AFTER (killed,
  or cut off) are put back in the queue (`retry_stalled_jobs`); their visits already stored are not made
  again (monitor/store/visits.py);
- notifications, as the daemon sends them; finished jobs pruned after a while.

The planner keeps no state of its own: killed and restarted, it reads the queue and the articles again. One
planner per database (the daemon's lock).
"""
from __future__ import annotations

import asyncio
import logging
import math
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from procrastinate import App
from procrastinate.exceptions import AlreadyEnqueued, ProcrastinateException, UniqueViolation
from procrastinate.jobs import Job, Status
from sqlalchemy.exc import SQLAlchemyError

from monitor import settings
from monitor.config import Config, SiteConfig
from monitor.distributed.app import (DISCOVER, QUEUE, VISIT, lane_lock, make_app, open_shared_store,
                                     require_postgres)
from monitor.distributed.lanes import site_lanes
from monitor.notify.dispatch import deliver
from monitor.store import Store
from monitor.store.locking import daemon_lock
from monitor.store.visits import PlannedVisit, due_visits

logger = logging.getLogger("newsmon.planner")
TROUBLE = (SQLAlchemyError, ProcrastinateException, OSError)   # the database away: try again at the next round


@dataclass(frozen=True, slots=True)
class Batch:
    lane: int
    visits: list[PlannedVisit]


def plan_batches(visits: Sequence[PlannedVisit], lanes: int, busy: Sequence[int], most: int) -> list[Batch]:
    """Visits (most overdue first) cut into batches for a site's `lanes`, each batch to the lane with the
    fewest jobs (`busy`: jobs per lane already queued or running). Batches are as large as spreads the visits
    over every lane, at most `most`: a few due visits go one per job, to be fetched side by side; many go in
    batches, which spare each visit the start of a crawl (and a robots.txt fetch)."""
    if not visits:
        return []
    size = max(1, min(most, math.ceil(len(visits) / lanes)))
    load = list(busy) + [0] * (lanes - len(busy))
    batches = []
    for start in range(0, len(visits), size):
        lane = min(range(lanes), key=lambda n: (load[n], n))
        load[lane] += 1
        batches.append(Batch(lane, list(visits[start:start + size])))
    return batches


@dataclass
class Queued:
    """The visit jobs waiting or running, per site: their articles, and how many hold or await each lane."""

    articles: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    lanes: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))


async def queued_jobs(app: App) -> Queued:
    queued = Queued()
    for status in ("todo", "doing"):
        for job in await app.job_manager.list_jobs_async(queue=QUEUE, status=status):
            site = str(job.task_kwargs.get("site"))
            queued.lanes[site][int((job.lock or "#0").rpartition("#")[2])] += 1
            if job.task_name == VISIT:
                queued.articles[site].update(PlannedVisit.from_json(v).article_id for v in job.task_kwargs["visits"])
    return queued


def visit_job(site: str, batch: Batch) -> Job:
    # The queueing lock names the batch by its first visit: the same batch is never waiting twice.
    return Job(queue=QUEUE, task_name=VISIT, lock=lane_lock(site, batch.lane),
               queueing_lock=f"visit:{site}:{batch.visits[0].key}",
               task_kwargs={"site": site, "visits": [v.as_json() for v in batch.visits]})


def discovery_job(site: str) -> Job:
    # Lane 0, in turn with the visits queued there: ahead of them, a discovery taking about its interval
    # would be followed by the next one for ever, and the lane's visits would wait for ever.
    return Job(queue=QUEUE, task_name=DISCOVER, lock=lane_lock(site, 0), queueing_lock=f"discover:{site}",
               task_kwargs={"site": site})


@dataclass(frozen=True, slots=True)
class PlannedSite:
    config: SiteConfig
    site_id: int
    lanes: int


class Planner:
    def __init__(self, config: Config, store: Store, site_ids: dict[str, int], app: App):
        self.config, self.store, self.app = config, store, app
        self.sites = {site.name: PlannedSite(site, site_ids[site.name], site_lanes(site)) for site in config.sites}
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum)
        scheduler = AsyncIOScheduler(event_loop=loop, job_defaults={"coalesce": True, "max_instances": 1,
                                                                     "misfire_grace_time": None})
        now = datetime.now(UTC)
        scheduler.add_job(self.plan, "interval", id="plan", seconds=self.config.tick.total_seconds(), next_run_time=now)
        for site in self.config.sites:
            scheduler.add_job(self.discover, "interval", args=[site.name], id=f"{site.name}:discovery",
                              seconds=site.discovery_interval.total_seconds(),
                              jitter=site.jitter.total_seconds() or None, next_run_time=now)
        scheduler.add_job(self.retry_stalled_jobs, "interval", id="stalled", seconds=settings.NEWSMON_STALLED_CHECK,
                          next_run_time=now)
        scheduler.add_job(self.prune, "interval", id="prune", minutes=10, next_run_time=now)
        if self.config.notify:
            scheduler.add_job(self.notify, "interval", id="notify", seconds=settings.NEWSMON_NOTIFY_EVERY,
                              next_run_time=now)
        scheduler.start()
        logger.info("newsmon planner started: %d site(s), %s lane(s), database %s", len(self.sites),
                    "+".join(str(s.lanes) for s in self.sites.values()),
                    self.store.engine.url.render_as_string(hide_password=True))
        await self.stopping.wait()
        scheduler.shutdown(wait=False)
        logger.info("newsmon planner stopped")

    def stop(self, signum: int) -> None:
        if not self.stopping.is_set():
            logger.info("%s received: planning stops (jobs in the queue stay there)", signal.Signals(signum).name)
            self.stopping.set()

    # ------------------------------------------------------------ jobs

    async def plan(self) -> None:
        """Every due visit not yet in a job goes into one, whatever the site."""
        started = time.monotonic()
        try:
            queued = await queued_jobs(self.app)
            until = datetime.now(UTC) + self.config.tick
            jobs: list[Job] = []
            for name, site in self.sites.items():
                due = await asyncio.to_thread(self._due, site, until, queued.articles[name])
                lanes = [queued.lanes[name][lane] for lane in range(site.lanes)]
                jobs += [visit_job(name, batch)
                         for batch in plan_batches(due, site.lanes, lanes, settings.NEWSMON_VISIT_BATCH)]
            await self.enqueue(jobs)
            if jobs:
                visits = sum(len(job.task_kwargs["visits"]) for job in jobs)  # type: ignore[arg-type]
                logger.info("%d visit(s) planned in %d job(s) in %.3f s", visits, len(jobs),
                            time.monotonic() - started)
        except TROUBLE as exc:
            logger.warning("cannot plan the due visits (%s); trying again at the next tick", _first_line(exc))

    def _due(self, site: PlannedSite, until: datetime, queued: set[int]) -> list[PlannedVisit]:
        budget = site.config.politeness.max_requests if site.config.politeness else settings.NEWSMON_MAX_REQUESTS
        with self.store.session() as session:
            return due_visits(session, site.site_id, until, budget, leave_out=queued)

    async def enqueue(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        try:
            await self.app.job_manager.batch_defer_jobs_async(jobs)
        except AlreadyEnqueued:  # one of them is waiting already: the others go in one by one
            for job in jobs:
                try:
                    await self.app.job_manager.defer_job_async(job)
                except AlreadyEnqueued:
                    pass

    async def discover(self, name: str) -> None:
        try:
            await self.app.job_manager.defer_job_async(discovery_job(name))
        except AlreadyEnqueued:
            logger.info("%s: the previous discovery is still waiting for a worker", name)
        except TROUBLE as exc:
            logger.warning("%s: cannot queue the discovery (%s); trying again at its next time", name,
                           _first_line(exc))

    async def retry_stalled_jobs(self) -> None:
        """procrastinate's recipe for workers killed mid-job: their running jobs go back to the queue, at once
        (a time in the past, so that a clock ahead of the database's holds no lane back)."""
        manager = self.app.job_manager
        try:
            for job in await manager.get_stalled_jobs(seconds_since_heartbeat=settings.NEWSMON_WORKER_STALLED_AFTER):
                await self.retry(job)
        except TROUBLE as exc:
            logger.warning("cannot look for stalled jobs (%s)", _first_line(exc))

    async def retry(self, job: Job) -> None:
        what = f"job {job.id} ({job.task_name} of {job.task_kwargs.get('site')}), left by worker {job.worker_id}"
        try:
            await self.app.job_manager.retry_job(job, retry_at=datetime.now(UTC) - timedelta(minutes=1))
        except UniqueViolation:
            # A job of the same queueing lock is waiting (the site's next discovery, queued meanwhile): it does
            # this one's work. This one ends, and frees its lane, which the waiting one needs.
            await self.app.job_manager.finish_job(job, status=Status.ABORTED, delete_job=False)
            logger.warning("%s: ended, as the same job is already waiting", what)
            return
        logger.warning("%s, silent for %g s: queued again", what, settings.NEWSMON_WORKER_STALLED_AFTER)

    async def prune(self) -> None:
        """Finished jobs are kept a while for `newsmon status`, failed ones a day; a worker silent for an
        hour is forgotten (it is dead: its jobs were queued again long before)."""
        manager = self.app.job_manager
        try:
            await manager.delete_old_jobs(nb_hours=settings.NEWSMON_JOBS_KEPT_HOURS, queue=QUEUE)
            await manager.delete_old_jobs(nb_hours=24, queue=QUEUE, include_failed=True, include_cancelled=True,
                                          include_aborted=True)
            await manager.prune_stalled_workers(3600)
        except TROUBLE as exc:
            logger.warning("cannot prune old jobs (%s)", _first_line(exc))

    async def notify(self) -> None:
        """One round of deliveries, in a thread, as the daemon does (monitor/notify/dispatch.py)."""
        try:
            done = await asyncio.to_thread(deliver, self.store, self.config.notify, public_url=self.config.public_url)
        except SQLAlchemyError as exc:
            logger.warning("notifications: database unavailable (%s); trying again later", _first_line(exc))
            return
        if done.sent or done.failed:
            logger.info("notifications: %d sent, %d failed", done.sent, done.failed)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run_planner(config: Config, db_url: str) -> None:
    """Until SIGTERM/SIGINT. Raises DaemonRunning when a daemon or another planner holds the database."""
    require_postgres(db_url)
    store, site_ids = open_shared_store(db_url, config.sites)
    try:
        with daemon_lock(store):
            asyncio.run(_plan(config, store, site_ids, db_url))
    finally:
        store.close()


async def _plan(config: Config, store: Store, site_ids: dict[str, int], db_url: str) -> None:
    app = make_app(db_url)
    async with app.open_async():
        await Planner(config, store, site_ids, app).run()
