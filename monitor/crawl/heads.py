"""Keeps each response's status line and headers as the site sent them, for the version stored from it.

Scrapy's HttpCompressionMiddleware (590) decodes a gzip or brotli body and removes the Content-Encoding it
decoded; this one runs before it (595: responses pass downloader middlewares from the highest number down),
so the head kept still says how the page travelled. Redirects (600) are followed before it: it sees the
response that answered, not the hops. Scrapy gives names title-cased and a repeated header's values
together, at its first place; it does not pass on the reason phrase of the status line, so none is kept.
"""
from __future__ import annotations

from scrapy import Request, Spider
from scrapy.http import Response

from monitor.items import RESPONSE_HEAD_META


class ResponseHeads:
    def process_response(self, request: Request, response: Response, spider: Spider | None = None) -> Response:
        # The request's meta is the response's: the spider reads it back as Fetch.head (spiders/base.py).
        request.meta[RESPONSE_HEAD_META] = wire_head(response)
        return response


def wire_head(response: Response) -> bytes:
    """The status line and header lines in HTTP/1.1 form, without the blank line that ends them."""
    lines = [f"{response.protocol or 'HTTP/1.1'} {response.status}".encode("ascii")]
    lines += [name + b": " + value for name, values in response.headers.items() for value in values]
    return b"".join(line + b"\r\n" for line in lines)
