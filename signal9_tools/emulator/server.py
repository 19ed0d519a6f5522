"""An embedded moto server on 127.0.0.1 and an AWS environment pointed at it."""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.invoke import LambdaInvokes
from signal9_tools.emulator.moto_fidelity import answers_as_aws
from signal9_tools.fakes.server import STOP_POLL_SECONDS
from signal9_tools.moto_speedups import moto_speedups
from signal9_tools.motolock import serialized_moto

# Never real credentials: everything below talks to the emulator only.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-emulator",
    "AWS_SECRET_ACCESS_KEY": "local-emulator",
    "AWS_SESSION_TOKEN": "local-emulator",
}


@dataclass(frozen=True)
class Emulator:
    endpoint: str
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
def aws_environment(endpoint: str, region: str) -> Iterator[None]:
    """Point every boto3 client created inside (handlers' and Powertools' too) at the emulator."""
    values = {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    saved = {key: os.environ.get(key) for key in (*values, "AWS_PROFILE")}
    os.environ.update(values)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def moto_server(region: str, keep: bool = False) -> Iterator[Emulator]:
    """Start moto on a free loopback port; stop it on exit unless ``keep``.

    moto's own server application and request handler, served as ThreadedMotoServer serves
    them (threaded werkzeug), but polling for a stop as often as the fakes do: moto's server
    polls every 0.5 s (socketserver's default), so every stop waited about that long.
    """
    invokes = LambdaInvokes()
    deliveries = LambdaDeliveries()
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
    emulator = Emulator(
        endpoint=f"http://127.0.0.1:{server.port}", region=region, invokes=invokes, deliveries=deliveries
    )
    # moto keeps its state per process: start every run from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", method="POST"))
    try:
        # Handlers write from thread pools; moto's backends expect one request at a time.
        # Five of moto's costs removed, for the same results (signal9_tools/moto_speedups.py); Lambda
        # answers as AWS does where `signal9 verify` reads (emulator/moto_fidelity.py).
        with (
            serialized_moto(),
            moto_speedups(),
            deliveries.installed(),
            answers_as_aws(),
            aws_environment(emulator.endpoint, region),
        ):
            yield emulator
    finally:
        if not keep:
            server.shutdown()
            thread.join()
