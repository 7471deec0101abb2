"""Storage: the only package that speaks SQL. Models and migrations, opening the database, writing a batch
of fetches (ingest), the questions asked of it (queries), crawl runs, and the daemon's lock."""
from monitor.store.engine import Store, default_db_url, open_store

__all__ = ["Store", "default_db_url", "open_store"]
