"""Pure comparison: the comparison form of text, versioning verdicts, word diffs, and the revisit policy.
Plain values in, plain values out: no Scrapy, no database."""
