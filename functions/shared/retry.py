"""Exponential backoff with full jitter for calls to external APIs (docs/contract.md: 1-2 s base, <= 3 retries).

AWS SDK calls do not need this (the SDK's standard retry mode handles them); it is for the
HTTP calls Phase 2 collectors make, and for re-sending PutEvents entries that failed.

A small helper instead of ``tenacity``: only Powertools, pydantic and boto3 exist at Lambda
run time. Retry ``n`` (0-based) waits a random time in ``[0, min(cap, base * 2**n)]``
("full jitter"), so with the defaults the ceilings are 1 s, 2 s, 4 s. A server that says
when to come back (Alpaca's ``X-RateLimit-Reset``) sets a floor through ``minimum_delay``.
``sleep`` and ``jitter`` are injectable so tests never sleep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from functions.shared.observability import logger

T = TypeVar("T")
Sleep = Callable[[float], None]
Jitter = Callable[[float], float]
"""Maps a ceiling in seconds to the delay actually slept."""
MinimumDelay = Callable[[Exception], float]
"""The least a failed call's error says to wait (seconds; 0 for no opinion)."""


def full_jitter(ceiling: float) -> float:
    return random.uniform(0.0, ceiling)


def pause(seconds: float) -> None:
    """The default sleep; looked up at call time so tests can replace it."""
    time.sleep(seconds)


def resolve_sleep(sleep: Sleep | None) -> Sleep:
    """``sleep`` if given, else :func:`pause` as it is *now* (tests replace the module attribute)."""
    return sleep or pause


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 1.0
    cap_seconds: float = 8.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds or not 0 <= self.max_retries <= 3:
            raise ValueError(f"invalid backoff {self}: need 0 < base <= cap and 0 <= max_retries <= 3")

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry ``retry`` (0-based)."""
        return float(min(self.cap_seconds, self.base_seconds * 2**retry))

    def delays(self, jitter: Jitter | None = None) -> Iterator[float]:
        """One delay per allowed retry; exhausted means give up."""
        spread = jitter or full_jitter
        for retry in range(self.max_retries):
            yield spread(self.ceiling(retry))


DEFAULT_BACKOFF = Backoff()


def retry_call(
    call: Callable[[], T],
    *,
    retry_on: tuple[type[Exception], ...],
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Sleep | None = None,
    jitter: Jitter | None = None,
    description: str = "external call",
    minimum_delay: MinimumDelay | None = None,
) -> T:
    """``call()``, retried on ``retry_on`` after backoff delays; the last error propagates.

    Each delay is at least ``minimum_delay(error)`` when given (the caller caps what it asks for).
    """
    delays = backoff.delays(jitter)
    attempt = 1
    while True:
        try:
            return call()
        except retry_on as error:
            delay = next(delays, None)
            if delay is None:
                raise
            if minimum_delay is not None:
                delay = max(delay, minimum_delay(error))
            logger.warning(
                f"{description} failed; retrying",
                extra={"attempt": attempt, "retry_in_seconds": round(delay, 3), "error": type(error).__name__},
            )
            resolve_sleep(sleep)(delay)
            attempt += 1
