"""Per-environment pacing of AlphaVantage requests (docs/collectors.md, "PollenateAsset and the AlphaVantage plan").

PollenateAsset runs with reserved concurrency C, and each execution environment sends at
most one request every ``interval`` seconds, so the whole fleet sends at most
``C * 60 / interval`` requests a minute: the config (``signal9:alphaVantage``) derives the
interval from the plan's rate and hands it to the function as
``SIGNAL9_POLLENATION_REQUEST_INTERVAL_SECONDS``.

An execution environment runs one invocation at a time on one thread, so the pacer is
per thread: it persists across warm invocations of one environment (the spacing holds
from one pollenation to the next) and a benchmark that runs C invocations on C threads
models C environments. The clock is injectable so a benchmark can run the production
arithmetic on a compressed clock shared with the API fake.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from functions.shared.env import require, setting_variable

INTERVAL_SETTING = "pollenationRequestIntervalSeconds"
INTERVAL_VARIABLE = setting_variable(INTERVAL_SETTING)


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def time(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class IntervalPacer:
    """``wait()`` returns at least ``interval`` seconds (on ``clock``) after the previous ``wait()`` returned."""

    interval: float
    clock: Clock = field(default_factory=MonotonicClock)
    _next: float = -math.inf

    def __post_init__(self) -> None:
        if not (math.isfinite(self.interval) and self.interval >= 0):
            raise ValueError(f"pacing interval must be a finite number of seconds >= 0, got {self.interval!r}")

    def wait(self) -> None:
        now = self.clock.time()
        if now < self._next:
            self.clock.sleep(self._next - now)
            now = max(self.clock.time(), self._next)
        self._next = now + self.interval


_clock: Clock = MonotonicClock()
_local = threading.local()


def use_clock(clock: Clock) -> None:
    """Pace on ``clock`` from now on (benchmarks share a compressed clock with the fake).

    Each thread's pacer is rebuilt on the new clock at its next :func:`environment_pacer` call.
    """
    global _clock
    _clock = clock


def clock() -> Clock:
    return _clock


def environment_pacer() -> IntervalPacer:
    """This execution environment's pacer, its interval from ``SIGNAL9_POLLENATION_REQUEST_INTERVAL_SECONDS``."""
    raw = require(INTERVAL_VARIABLE)
    try:
        interval = float(raw)
    except ValueError:
        raise RuntimeError(f"{INTERVAL_VARIABLE}={raw!r} is not a number of seconds") from None
    pacer: IntervalPacer | None = getattr(_local, "pacer", None)
    if pacer is None or pacer.interval != interval or pacer.clock is not _clock:
        pacer = _local.pacer = IntervalPacer(interval, _clock)
    return pacer
