"""newsmon: catch edits to published news articles.

Data flows one way: page -> extracted article (spiders/) -> normalised -> stored version -> change -> report.
"""
