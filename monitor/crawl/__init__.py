"""Crawling with Scrapy: one component per module (pipeline, frontier, confirmation, retries,
heads, progress), the writer process that stores a crawl's full batches (writer.py), and running a crawl of
one site with the summary it comes to."""
