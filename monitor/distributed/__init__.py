"""Distributed mode: one planner (`newsmon daemon --distributed`) and any number of workers (`newsmon worker`)
sharing a job queue (procrastinate) in the PostgreSQL database that holds the articles.

- app.py: the procrastinate App on newsmon's database, its schema applied on first use, the job names;
- planner.py: what is due becomes jobs, every tick; discoveries on their schedule; dead workers' jobs retried;
- tasks.py: the two jobs a worker runs, a batch of planned visits of one site and a site's discovery;
- worker.py: a worker process: one Scrapy reactor for its life, procrastinate's worker on its asyncio loop,
  one short crawl per job.

Politeness across machines: every job of a site holds one of its `concurrency` lanes (procrastinate's `lock`,
"SITE#LANE") and crawls one request at a time, so a site never has more requests in flight than its
concurrency, however many workers run. Exactly once: monitor/store/visits.py.
"""
