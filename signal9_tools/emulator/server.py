"""The emulator's engine, moto, behind one of two transports, and an AWS environment pointed at it.

- **in-process** (the default: ``make local``, the tests): moto answers boto3 inside this process
  (``mock_aws``), without HTTP, sockets or a web framework; about 2.6 times cheaper per call.
- **http**: moto's own server application on a loopback port (``local up --keep``, and clients in
  other processes: the AWS CLI, ``signal9 status`` or ``dlq`` from another shell).

Both put the same routes in front of moto: Lambda's Invoke runs the deployed handler
(``invoke.py``), and an event a request put on the bus reaches its rules' functions once the
request is answered (``delivery.py``). tests/test_local.py runs the dev stack through both and
compares the reports.
"""

from __future__ import annotations

import contextlib
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from unittest import mock
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.invoke import LambdaInvokes
from signal9_tools.emulator.moto_fidelity import answers_as_aws
from signal9_tools.fakes.server import STOP_POLL_SECONDS
from signal9_tools.moto_speedups import moto_speedups
from signal9_tools.motolock import serialized_moto
from signal9_tools.sessions import aws_session

# Never real credentials: everything below talks to the emulator only.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-emulator",
    "AWS_SECRET_ACCESS_KEY": "local-emulator",
    "AWS_SESSION_TOKEN": "local-emulator",
}


Transport = Literal["in-process", "http"]
TRANSPORTS: tuple[Transport, ...] = get_args(Transport)


@dataclass(frozen=True)
class Emulator:
    endpoint: str | None  # the HTTP transport's URL; None in-process
    region: str
    # Lambda Invoke from outside runs the real handler once an invoker is set (emulator/invoke.py).
    invokes: LambdaInvokes = field(default_factory=LambdaInvokes)
    # An event put from outside reaches its rules' functions once a dispatch is set (emulator/delivery.py).
    deliveries: LambdaDeliveries = field(default_factory=LambdaDeliveries)


class Clients:
    """The emulator's boto3 clients, one per service, created on first use and then reused.

    Creating a client costs ~40 ms (endpoint rules, event hooks); a local run makes a few
    hundred calls. Create the instance inside ``aws_environment`` so clients find the emulator.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # the Pulumi runtime provisions from several threads

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
            return self._clients[service]


class Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves each host.

    moto answers that per request by listing its package directory (a stat per service) and
    trying each service's URL patterns: ~0.7 ms of every request, several thousand per local
    run. The answer depends on the host alone (the package and the patterns never change).
    """

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self.backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:  # moto calls it holding self.lock
        if host not in self.backends:
            self.backends[host] = super().get_backend_for_host(host)
        return self.backends[host]


@contextmanager
def aws_environment(endpoint: str | None, region: str) -> Iterator[None]:
    """Point every boto3 client created inside (handlers' and Powertools' too) at the emulator.

    ``endpoint`` None: the in-process transport, where no endpoint may be set (moto only answers
    requests addressed to AWS's own hosts; any other would leave the process). Inside, boto3's
    default session is a new one reading service models through the process's loader (sessions.py).
    """
    values = {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    if endpoint is not None:
        values["AWS_ENDPOINT_URL"] = endpoint
    saved = {key: os.environ.get(key) for key in (*values, "AWS_PROFILE", "AWS_ENDPOINT_URL")}
    os.environ.update(values)
    os.environ.pop("AWS_PROFILE", None)
    if endpoint is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    default_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, aws_session()
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = default_session
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _http_server(invokes: LambdaInvokes, deliveries: LambdaDeliveries, keep: bool) -> Iterator[str]:
    """moto's own server application and request handler on a free loopback port; its URL.

    Served as ThreadedMotoServer serves them (threaded werkzeug), but polling for a stop as often
    as the fakes do: moto's server polls every 0.5 s (socketserver's default), so every stop
    waited about that long. Stopped on exit unless ``keep``.
    """
    server = make_server(
        "127.0.0.1",
        0,
        deliveries.wrap(invokes.wrap(Dispatcher())),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": STOP_POLL_SECONDS}, name="moto-server", daemon=True
    )
    thread.start()
    endpoint = f"http://127.0.0.1:{server.port}"
    # moto keeps its state per process: start every run from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    try:
        yield endpoint
    finally:
        if not keep:
            server.shutdown()
            thread.join()


@contextmanager
def _in_process(invokes: LambdaInvokes, deliveries: LambdaDeliveries) -> Iterator[None]:
    """moto answering boto3 in this process (``mock_aws``: a fresh, empty account), with the same routes."""
    answer = BotocoreStubber.process_request

    def process_request(stubber: BotocoreStubber, request: AWSPreparedRequest) -> Any:
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        invoked = invokes.route(
            request.method or "", urlsplit(request.url).path, request.headers.get("X-Amz-Invocation-Type"), body
        )
        if invoked is not None:
            return invoked
        response = answer(stubber, request)
        deliveries.dispatch_pending()
        return response

    with mock_aws(), mock.patch.object(BotocoreStubber, "process_request", process_request):
        yield


@contextmanager
def moto_engine(region: str, transport: Transport = "in-process", keep: bool = False) -> Iterator[Emulator]:
    """moto behind ``transport`` (``keep``: the HTTP server outlives the context), its AWS environment set."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r}: expected one of {TRANSPORTS}")
    invokes = LambdaInvokes()
    deliveries = LambdaDeliveries()
    with contextlib.ExitStack() as stack:
        # Eleven of moto's costs removed, for the same results (signal9_tools/moto_speedups.py): first,
        # so that the in-process transport routes Lambda's invokes ahead of moto's (shortened) routing.
        stack.enter_context(moto_speedups())
        endpoint = None
        if transport == "http":
            endpoint = stack.enter_context(_http_server(invokes, deliveries, keep))
        else:
            stack.enter_context(_in_process(invokes, deliveries))
        # Handlers write from thread pools; moto's backends expect one request at a time. moto
        # answers as AWS does where `signal9 verify` reads (emulator/moto_fidelity.py).
        for context in (
            serialized_moto(),
            deliveries.installed(),
            answers_as_aws(),
            aws_environment(endpoint, region),
        ):
            stack.enter_context(context)
        yield Emulator(endpoint=endpoint, region=region, invokes=invokes, deliveries=deliveries)
