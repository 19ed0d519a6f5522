"""What the Alpaca client and SyncAssets tests share: a manual clock, the fake served over HTTP, log capture."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from functions.shared.alpaca import AlpacaClient
from functions.shared.credentials import AlpacaCredentials
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, AlpacaFake
from signal9_tools.fakes.server import FakeServer, serving
from tests.av_support import ManualClock

# Monday 2 November 2026, 05:30 in New York (the sync-assets schedule), in epoch seconds.
MONDAY_0530_NY = 1_793_615_400.0


@dataclass
class Served:
    fake: AlpacaFake
    server: FakeServer
    clock: ManualClock
    sleeps: list[float]

    def credentials(self, key_id: str = ALPACA_KEY_ID, secret_key: str = ALPACA_SECRET_KEY) -> AlpacaCredentials:
        return AlpacaCredentials.model_validate(
            {"keyId": key_id, "secretKey": secret_key, "baseUrl": self.server.url, "dataUrl": self.server.url}
        )

    def client(self, credentials: AlpacaCredentials | None = None, **options: Any) -> AlpacaClient:
        """A client whose backoff sleeps are recorded (and advance the clock), jitter = the ceiling."""

        def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            self.clock.sleep(seconds)

        defaults: dict[str, Any] = {"sleep": sleep, "jitter": lambda ceiling: ceiling, "now": self.clock.time}
        return AlpacaClient(credentials or self.credentials(), **(defaults | options))


@contextmanager
def served_fake(size: int = 40, **knobs: Any) -> Iterator[Served]:
    clock = ManualClock(MONDAY_0530_NY)
    fake = AlpacaFake(size, clock=clock, **knobs)
    with serving(fake) as server:
        yield Served(fake, server, clock, [])
