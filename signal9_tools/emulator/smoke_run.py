"""A smoke run: which checks run, in which order, against which endpoints, on which clocks.

Nothing the smoke checks depends on how fast the machine runs it. Its time is fixed at its start
(``SmokeClock``): the schedules fire at their next fire times after it, the built-in fakes answer
as of it (their clock stands still: the news feed publishes nothing more while the smoke runs, so
a second run of a collector must find what the first found), and each run the emulator records
is a millisecond after the one before. Only PollenateAsset's pacing runs on a real (compressed)
clock: it decides how long the smoke waits, not what it finds.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from signal9.config import StackConfig
from signal9_tools.emulator.collection import Endpoints, LocalFakes, store_credentials
from signal9_tools.emulator.collection_checks import check_collection
from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.event_checks import check_events
from signal9_tools.emulator.execution import ExecutionEnvironments
from signal9_tools.emulator.health_checks import check_health, check_logs
from signal9_tools.emulator.report import Report
from signal9_tools.emulator.runbook_checks import check_runbook
from signal9_tools.emulator.runtime_checks import check_runtime
from signal9_tools.emulator.schedule_checks import RunTime, check_schedules_fire
from signal9_tools.emulator.security_checks import check_access, check_security
from signal9_tools.emulator.smoke import Smoke
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.cli import served_fakes
from signal9_tools.fakes.server import CompressedClock
from signal9_tools.mockrun import ProgramRun

PACING_SPEEDUP = 1000.0
CLOCK_STEP = timedelta(milliseconds=1)


@dataclass
class SmokeClock:
    """The smoke's time: ``start``, then a CLOCK_STEP later at each reading (what it records stays in order).

    After ``release`` (the smoke is over and the emulator kept for outside clients) readings follow
    the wall clock again, never going back.
    """

    start: datetime
    _last: datetime | None = None
    _released: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def now(cls) -> SmokeClock:
        return cls(datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        with self._lock:
            reading = self.start if self._last is None else self._last + CLOCK_STEP
            if self._released:
                reading = max(reading, datetime.now(UTC))
            self._last = reading
            return reading

    def release(self) -> None:
        self._released = True


# What a smoke runs. "full": everything below. "configuration": the checks of the deployed
# configuration only (tables, functions, schedules, rules, secrets, logs, dashboard, the access
# matrix, IAM and encryption), no function invoked. "none": no smoke, the deploy (and its
# audit) only. The narrower scopes are for tests that break one thing on purpose.
SmokeScope = Literal["full", "configuration", "none"]
SMOKE_SCOPES: tuple[SmokeScope, ...] = get_args(SmokeScope)
BUILT_IN_UNIVERSE = 40  # companies the built-in fakes serve (signal9_tools.fakes.universe)


def run_smoke(
    plan: ProgramRun,
    config: StackConfig,
    query_definitions: dict[str, dict[str, Any]],
    dead_letter_targets: dict[str, str],
    endpoints: Endpoints | None = None,
    *,
    report: Report,
    clock: SmokeClock,
    environments: ExecutionEnvironments,
    scope: SmokeScope = "full",
    universe: int = BUILT_IN_UNIVERSE,
    compressed_pacing: bool = False,
) -> Report:
    """The smoke against ``endpoints``, or against the built-in fakes (``universe`` companies, served here) when None.

    Its checks are added to ``report``; ``clock`` is its time (``SmokeClock``). ``compressed_pacing``:
    given endpoints enforce no rate either (e.g. ``signal9 fakes serve``), so they are paced on the
    built-in fakes' compressed clock too.
    """
    if scope not in SMOKE_SCOPES:
        raise ValueError(f"smoke scope {scope!r}: expected one of {SMOKE_SCOPES}")
    if scope == "none":
        return report
    now = clock.start
    fakes = (
        None
        if endpoints is not None
        else LocalFakes(
            AlpacaFake(size=universe, clock=RunTime(now.timestamp())),
            AlphaVantageFake(universe, clock=RunTime(now.timestamp())),
        )
    )
    with contextlib.ExitStack() as stack:
        deliveries = stack.enter_context(LambdaDeliveries().installed())
        if fakes is not None or compressed_pacing:
            # PollenateAsset paces itself to the plan (seconds per request); against the fakes,
            # which enforce no rate here, the pacing runs on a compressed clock so the smoke takes
            # seconds (benchmarks/pollenation_chain.py proves the rate against an enforcing fake).
            # The handlers' pacing module reads its clock from `_clock` (functions.shared.pacing.use_clock).
            stack.enter_context(
                environments.patched("functions.shared.pacing", "_clock", CompressedClock(PACING_SPEEDUP))
            )
        if fakes is not None:
            served = stack.enter_context(served_fakes(alpaca=fakes.alpaca, alphavantage=fakes.alphavantage))
            endpoints = Endpoints(
                served.alpaca_url,
                served.alpaca_url,
                served.alphavantage_url,
                {
                    (name, field): value
                    for name, values in served.secrets().items()
                    for field, value in values.items()
                    if not field.endswith("Url")
                },
                built_in_fakes=True,
            )
        assert endpoints is not None
        smoke = Smoke(
            plan,
            config,
            deliveries,
            query_definitions,
            dead_letter_targets,
            report,
            environments=environments,
            clock=clock,
        )
        # First, as an operator sets them before anything runs: the health checks read that no secret
        # still holds the deploy's placeholder.
        smoke.report.run(
            "credentials stored", lambda: store_credentials(smoke.client("secretsmanager"), smoke.naming, endpoints)
        )
        check_health(smoke)
        check_runtime(smoke)
        check_access(smoke)
        check_security(smoke)
        if scope == "configuration":
            return smoke.report
        fired = check_schedules_fire(smoke, now, fakes)
        check_collection(smoke, endpoints, fired, fakes, now)
        check_events(smoke, fired.latest, fakes)
        check_logs(smoke)
        check_runbook(smoke, endpoints, fired, fakes, clock)
    return smoke.report
