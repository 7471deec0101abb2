"""A real HTTP receiver on 127.0.0.1 for tests that send notifications: it records every request and can be
told to fail, to answer slowly, or to be down for a while, then come back on the same port.

In a test:

    with Receiver() as receiver:
        send(Target("webhook", receiver.url()), message, delivery_id="d1", timeout=2)
        [request] = receiver.wait_for(1, timeout=5)
        assert request.json == message.payload

From another process (a daemon under test, the simulator script), until killed:

    python -m tests.receiver --port 8765 --out requests.jsonl

prints the receiver's URL once it listens, then appends each request to the file as one JSON line (see
Request.record), flushed as it arrives.
"""
from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Request:
    method: str
    path: str                    # with the query, as sent
    headers: dict[str, str]      # names as sent; look them up with header(), which ignores case
    body: bytes
    json: Any                    # the body parsed as JSON, when it was sent as JSON; else None
    form: dict[str, str] | None  # the fields of a form (urlencoded or multipart); else None
    status: int                  # what the receiver answered
    monotonic: float             # arrival: time.monotonic(), comparable within this process
    time: float                  # arrival: time.time(), comparable across processes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)

    def record(self) -> dict[str, Any]:
        """This request as JSON (the --out file's lines): the body as text, undecodable bytes replaced."""
        return {"method": self.method, "path": self.path, "headers": self.headers,
                "body": self.body.decode("utf-8", "replace"), "json": self.json, "form": self.form,
                "status": self.status, "time": self.time, "monotonic": self.monotonic}


@dataclass
class _Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Receiver:
    """Records every request in arrival order; answers 200 unless told otherwise (answer_next, fail_next)."""

    def __init__(self, port: int = 0, on_request: Callable[[Request], None] | None = None):
        self.port = port               # 0: a free port, chosen by start() and kept for later starts
        self.on_request = on_request   # called with each request as it is recorded (the --out file)
        self._requests: list[Request] = []
        self._answers: list[_Answer] = []   # what the next requests get, first first; then 200
        self._changed = threading.Condition()
        self._stopping = threading.Event()  # wakes slow answers when the receiver stops
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen (again) on 127.0.0.1, on the same port as before if it ran already."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True  # a slow answer must not hold up stop()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"receiver:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until start() is called again."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test uses -------------------------------------------------------------------------------------

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer_next(self, n: int = 1, *, status: int = 200, delay: float = 0.0,
                    headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        """The next `n` requests are answered `status` (with `headers` and `body`), each after `delay` seconds."""
        with self._changed:
            self._answers.extend(_Answer(status, delay, dict(headers or {}), body) for _ in range(n))

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self.answer_next(n, status=status)

    @property
    def requests(self) -> list[Request]:
        with self._changed:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The requests recorded so far, once there are at least `count` of them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"the receiver got {len(self._requests)} request(s) in {timeout} s, "
                                     f"expected {count}")
            return list(self._requests)

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()
            self._answers.clear()

    # -- serving ----------------------------------------------------------------------------------------------

    def _take_answer(self) -> _Answer:
        with self._changed:
            return self._answers.pop(0) if self._answers else _Answer()

    def _record(self, request: Request) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
        if self.on_request is not None:
            self.on_request(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0 (the default): one request per connection, so that once stop() returns no connection
            # kept alive by a client can still reach the receiver.

            def _handle(self) -> None:
                arrived, arrived_wall = time.monotonic(), time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = receiver._take_answer()
                content_type = self.headers.get("Content-Type") or ""
                receiver._record(Request(
                    method=self.command, path=self.path, headers=dict(self.headers.items()), body=body,
                    json=_parse_json(body, content_type), form=_parse_form(body, content_type),
                    status=answer.status, monotonic=arrived, time=arrived_wall))
                if answer.delay and receiver._stopping.wait(answer.delay):
                    return  # stopped while waiting: the connection just closes
                reply = answer.body
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (its timeout): nothing to answer to

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # tests read .requests, not stderr

        return Handler


def _parse_json(body: bytes, content_type: str) -> Any:
    if "json" not in content_type.lower():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _parse_form(body: bytes, content_type: str) -> dict[str, str] | None:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        return {part.get_param("name", header="content-disposition"): part.get_content()
                for part in message.iter_parts() if not part.get_filename()}
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.receiver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--out", required=True, help="file to append each request to, one JSON line each")
    parser.add_argument("--fail-first", type=int, default=0, metavar="N", help="answer the first N requests "
                        "with --status")
    parser.add_argument("--status", type=int, default=500, help="status of those failures (default 500)")
    args = parser.parse_args(argv)
    lock = threading.Lock()
    with open(args.out, "a", encoding="utf-8") as out:
        def append(request: Request) -> None:
            with lock:
                out.write(json.dumps(request.record(), ensure_ascii=False) + "\n")
                out.flush()

        receiver = Receiver(args.port, on_request=append)
        receiver.fail_next(args.fail_first, status=args.status)
        with receiver:
            print(receiver.url(""), flush=True)  # the parent reads this line: the receiver is listening
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    sys.exit(main())
