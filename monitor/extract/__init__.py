"""Pure extraction: page bytes and URL in, an ExtractedArticle out. Integrity checks, dates, one adapter
per known layout family. Never imports Scrapy or the store."""
