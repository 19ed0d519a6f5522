"""What the AlphaVantage client, fake and collector tests share: a hand-driven clock, a served fake, a client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import HttpUrl, SecretStr

from functions.shared import aws as shared_aws
from functions.shared import retry
from functions.shared.alphavantage import AlphaVantageClient
from functions.shared.credentials import AlphaVantageCredentials
from functions.shared.observability import logger
from functions.shared.retry import Backoff
from signal9_tools.fakes.alphavantage import FAKE_API_KEY, AlphaVantageFake
from signal9_tools.fakes.server import FakeServer, serving
from tests.handler_support import Fleet


@dataclass
class ManualClock:
    """A clock that moves only when told to, or when something sleeps on it (tests never really sleep)."""

    now: float
    slept: list[float] = field(default_factory=list)

    @classmethod
    def at(cls, moment: datetime) -> ManualClock:
        return cls(moment.timestamp())

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def credentials(url: str, key: str = FAKE_API_KEY) -> AlphaVantageCredentials:
    return AlphaVantageCredentials(apiKey=SecretStr(key), baseUrl=HttpUrl(url))


def client_for(server: FakeServer, clock: ManualClock, key: str = FAKE_API_KEY, **options: Any) -> AlphaVantageClient:
    """A client whose backoff sleeps on ``clock`` and whose jitter is the full ceiling (predictable)."""
    options.setdefault("backoff", Backoff())
    return AlphaVantageClient(
        credentials(server.url, key), sleep=clock.sleep, jitter=lambda ceiling: ceiling, **options
    )


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Powertools' log handler pointed at a buffer (it keeps the stdout it found at import)."""
    buffer = io.StringIO()
    handler: Any = logger.registered_handler
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@contextmanager
def collector_fleet(
    tables: dict[str, str], monkeypatch: Any, fake: AlphaVantageFake
) -> Iterator[tuple[Fleet, FakeServer]]:
    """moto tables and secrets (the alphavantage secret pointing at ``fake`` on loopback), backoff unslept.

    The handlers' DynamoDB client refuses Scan, as in tests/test_handlers.py; ``Fleet.rows`` scans
    through its own client.
    """
    shared_aws.reset_clients()
    monkeypatch.setattr(retry, "pause", lambda seconds: None)
    shared_aws.dynamodb().meta.client.meta.events.register("before-call.dynamodb.Scan", refuse_scan)
    with serving(fake) as server:
        fleet = Fleet(tables, monkeypatch)
        fleet.secret_arns["alphavantage"] = fleet.put_secret(
            "alphavantage", {"apiKey": FAKE_API_KEY, "baseUrl": server.url}
        )
        try:
            yield fleet, server
        finally:
            shared_aws.reset_clients()


def refuse_scan(**kwargs: Any) -> None:
    raise AssertionError("handlers must Query or GetItem, never Scan")


def count_writes(fleet: Fleet) -> list[str]:
    """Every write request the handlers' DynamoDB client sends, by operation name, from now on."""
    writes: list[str] = []
    for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
        shared_aws.dynamodb().meta.client.meta.events.register(
            f"before-call.dynamodb.{operation}", lambda model, **kwargs: writes.append(model.name)
        )
    return writes
