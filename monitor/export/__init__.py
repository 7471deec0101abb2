"""Exports for researchers and archives, each streamed from the store:

- warc.py: the pages as fetched, as WARC records (response, request, revisit), readable by warcio and pywb;
- newsedits.py: a NewsEdits-shaped SQLite database (entries, split_sentences, matched_sentences).

JSON Lines (`newsmon export`, the default) is written by monitor/report/terminal.py from store.queries.
"""
