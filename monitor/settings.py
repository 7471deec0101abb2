"""newsmon's defaults, in one place: Scrapy's settings and newsmon's own (prefixed NEWSMON_).

This is the Scrapy project's settings module (scrapy.cfg points here), so `scrapy crawl lepetitjournal`
and `newsmon crawl lepetitjournal` run the same components against the same database.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("newsmon")
except PackageNotFoundError:  # running from a checkout that was not installed
    VERSION = "0"

BOT_NAME = "newsmon"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Politeness: say who we are and how to reach us, obey robots.txt, keep few requests in flight per site.
USER_AGENT = f"newsmon/{VERSION} (+https://github.com/newsmon/newsmon; news edit monitor)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# A non-zero delay also keeps the per-domain cap honest: with no delay, Scrapy's asyncio reactor was
# seen running 9 requests at once against one host capped at 2 (FIELD-NOTES).
DOWNLOAD_DELAY = 0.25
DOWNLOAD_TIMEOUT = 30
# An article page is tens of kilobytes; a page of megabytes is not an article, and is refused (an error
# check saying so) rather than parsed.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
# Every page yields at most one item; Scrapy starts CONCURRENT_ITEMS tasks per response to process a
# callback's output, and with the default 100 task creation was the largest cost of a re-check.
CONCURRENT_ITEMS = 1
# Scrapy re-reads a generator callback's source (inspect + ast, ~0.7 ms) to warn about `return value`
# whenever its weakly keyed cache has lost the bound method: every few responses. A developer's warning.
WARN_ON_GENERATOR_RETURN_VALUE = False
RETRY_TIMES = 2

TELNETCONSOLE_ENABLED = False
# Scrapy 2.19 would start, for every crawl, an HTTP server that runs Python code sent to it (its token in a job
# file under the user's state folder): nothing a monitor of news sites should leave open.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
# HttpCacheMiddleware would hide edits: it treats a page with an old Last-Modified as fresh (FIELD-NOTES).
HTTPCACHE_ENABLED = False

ITEM_PIPELINES = {"monitor.crawl.pipeline.StorePipeline": 300}
SPIDER_MIDDLEWARES = {"monitor.crawl.frontier.Frontier": 50, "monitor.crawl.confirmation.Confirmation": 60}
# Scrapy's retries re-send at once; ours wait (back-off, Retry-After) and give up on long pauses.
# Response heads are kept as received, before HttpCompressionMiddleware (590) decodes the body (heads.py).
DOWNLOADER_MIDDLEWARES = {"scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
                          "monitor.crawl.retries.BackoffRetryMiddleware": 550,
                          "monitor.crawl.heads.ResponseHeads": 595}
# Requests that must wait (retries, second looks) wait outside the downloader, holding no download slot.
EXTENSIONS = {"monitor.crawl.delays.DelayedRequests": 500}

NEWSMON_DB = None               # SQLAlchemy URL; None: $NEWSMON_DB, else the default SQLite file
NEWSMON_BATCH_SIZE = 200        # fetches written per transaction
NEWSMON_FLUSH_SECONDS = 2.0     # ...or after this long, so an interrupted crawl loses little
NEWSMON_REVISIT = "due"         # which known articles a crawl re-checks: due | all | none
NEWSMON_POLICY = None           # a monitor.compare.policy.RevisitPolicy; None: its defaults
NEWSMON_DUE_AHEAD = 0.0         # seconds: articles due this soon count as due (the daemon sets it)
NEWSMON_MAX_REQUESTS = 5000     # article pages per crawl and site; [sites.X.politeness] max_requests
NEWSMON_ARCHIVE = False         # also fetch new sitemap entries older than the policy's horizon
NEWSMON_RETRY_BACKOFF = 1.0     # seconds before the first retry of a failed fetch, doubled each time
NEWSMON_RETRY_MAX_WAIT = 30.0   # a longer Retry-After ends this crawl's tries; the article waits that long
NEWSMON_PAGE_RETRIES = 2        # a page answering 200 but broken (truncated, empty...) is fetched again
NEWSMON_CONFIRM_SHRINK = 0.4    # a body losing more than this share of its words is fetched twice
NEWSMON_CONFIRM_DELAY = 5.0     # seconds between a suspicious fetch and its confirmation
NEWSMON_FRONT_PAGES = 3         # front pages read per edition
NEWSMON_VISITS = {}             # distributed mode: only these articles (key -> its planned visit's key)

# The daemon's defaults, in seconds (the config writes them as durations: "30m").
NEWSMON_TICK = 60.0                     # how often due revisits are looked for
NEWSMON_DISCOVERY_INTERVAL = 1800.0     # how often each site's listings are read
NEWSMON_DISCOVERY_JITTER = 30.0         # spreads the sites' discoveries
NEWSMON_CRAWL_TIMEOUT = 1800.0          # a crawl running longer is stopped
NEWSMON_SHUTDOWN_TIMEOUT = 20.0         # on SIGTERM, how long in-flight crawls may take to finish
NEWSMON_NOTIFY_EVERY = 5.0              # seconds between the daemon's delivery rounds (and after each crawl)
NEWSMON_LOG_LEVEL = "INFO"              # the daemon's log

# Distributed mode (monitor/distributed/): a planner enqueues, workers crawl. Seconds unless said.
NEWSMON_VISIT_BATCH = 20                # planned visits per job, at most (fewer when few are due)
NEWSMON_WORKER_CONCURRENCY = 4          # jobs a worker runs at once (`newsmon worker --concurrency`)
# A job waiting for its site's lane is not told when the lane frees: the worker finds it at its next poll.
NEWSMON_WORKER_POLL = 0.2
NEWSMON_WORKER_HEARTBEAT = 2.0          # how often a worker says it is alive
NEWSMON_WORKER_STALLED_AFTER = 10.0     # silent this long, a worker is taken for dead: its jobs run again
NEWSMON_STALLED_CHECK = 2.0             # how often the planner looks for the jobs of dead workers
NEWSMON_JOBS_KEPT_HOURS = 1             # finished jobs kept for `newsmon status` (failed ones: a day)
