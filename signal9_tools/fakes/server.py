"""The plumbing every local API fake shares: a real HTTP server on 127.0.0.1, a request log, a clock.

A fake is a :class:`FakeService` (``handle(request) -> response``) served by
:class:`FakeServer` on an ephemeral loopback port in a background thread, so collectors
and tests talk to it over real HTTP exactly as to the real API. Bodies are gzip-encoded
when the client asks for it, as both real APIs do. Every request is recorded (path, query
without credentials, status, clock time) for tests and benchmarks to count.

Faults in transit are shared too: :data:`RESET` (the connection closed without an answer),
:func:`dropped` (closed halfway through the body) and :func:`truncated` (a complete answer whose
body stops early).

Time comes from a :class:`Clock`: the wall clock by default, or a :class:`CompressedClock`
that runs N times faster, so a benchmark can play an hour of rate-limited traffic in
minutes while the fake's per-minute buckets and the collectors' pacing do the production
arithmetic on the same clock.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

# Query parameters and headers that carry credentials: never recorded.
CREDENTIAL_PARAMETERS = frozenset({"apikey"})
GZIP_MINIMUM_BYTES = 1024


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch, as this clock sees them."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class CompressedClock:
    """A clock running ``factor`` times faster than the wall clock, starting at ``start`` (epoch s)."""

    factor: float
    start: float = field(default_factory=time.time)
    _origin: float = field(default_factory=time.monotonic)

    def time(self) -> float:
        return self.start + (time.monotonic() - self._origin) * self.factor

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.factor)


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class FakeResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    dropped: bool = False
    """A dropped connection: the headers promise the whole body, only its first half is sent."""


RESET = FakeResponse(0, b"")
"""No answer at all: the connection is closed as soon as the request is read (a reset)."""


def dropped(response: FakeResponse) -> FakeResponse:
    """``response`` with its connection dropped halfway through the body."""
    return FakeResponse(response.status, response.body, response.headers, dropped=True)


def truncated(response: FakeResponse) -> FakeResponse:
    """``response`` complete at the HTTP level, its body stopping early (a stream ended cleanly too soon).

    Text rows (a CSV) stop after the line that ends nearest the middle, so what arrives parses
    as a shorter file; anything else (JSON) stops at the middle.
    """
    body = response.body
    end = len(body) // 2
    if not body.lstrip().startswith((b"{", b"[")):
        line_end = body.find(b"\n", end)
        end = line_end + 1 if line_end >= 0 else end
    return FakeResponse(response.status, body[:end], response.headers)


def json_response(status: int, document: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
    body = json.dumps(document, separators=(",", ":")).encode()
    return FakeResponse(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def text_response(status: int, text: str, content_type: str, headers: Mapping[str, str] | None = None) -> FakeResponse:
    return FakeResponse(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


@dataclass(frozen=True)
class RecordedRequest:
    at: float  # the service clock's time
    path: str
    query: Mapping[str, str]  # credentials removed
    status: int


class FakeService(Protocol):
    clock: Clock

    def handle(self, request: FakeRequest) -> FakeResponse: ...


STOP_POLL_SECONDS = 0.01


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its read timeout) and closed the connection: what a real API
        # sees every day, not a fault of the fake worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """Serves one :class:`FakeService` on ``http://127.0.0.1:<port>`` until :meth:`stop`."""

    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler_class(self))
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, on every stop.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": STOP_POLL_SECONDS},
            name="signal9-fake",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def record(self, request: FakeRequest, status: int) -> None:
        query = {k: v for k, v in request.query.items() if k.lower() not in CREDENTIAL_PARAMETERS}
        with self._lock:
            self.requests.append(RecordedRequest(self.service.clock.time(), request.path, query, status))

    def count(self, path: str | None = None, **query: str) -> int:
        """How many requests matched ``path`` (any when None) and every given query value."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path) and all(r.query.get(k) == v for k, v in query.items())
            )


def busiest_window(times: list[float], seconds: float = 60.0) -> int:
    """The most of ``times`` inside any window ``(t - seconds, t]`` (a per-minute rate limit's window)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


@contextmanager
def serving(service: FakeService) -> Iterator[FakeServer]:
    """``with serving(service) as server:`` ``server.url`` answers until the block ends."""
    server = FakeServer(service).start()
    try:
        yield server
    finally:
        server.stop()


def _handler_class(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes; with Nagle on, a keep-alive client's
            # delayed ACK holds the body ~40 ms per response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            request = FakeRequest(
                method="GET",
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            response = server.service.handle(request)
            server.record(request, response.status)
            if response is RESET:
                self.close_connection = True
                return
            body, headers = response.body, dict(response.headers)
            if len(body) >= GZIP_MINIMUM_BYTES and "gzip" in (request.header("accept-encoding") or ""):
                body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=1), "gzip"
            self.send_response(response.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if response.dropped:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the request log above is the record, and it never holds a key."""

    return Handler
