"""Crawling with Scrapy: one component per module (pipeline, frontier, confirmation, retries,
heads, progress), and running a crawl of one site with the summary it comes to."""
