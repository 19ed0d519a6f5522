"""A smoke run: which checks run, in which order, against which endpoints and on which pacing clock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from functions.shared import pacing
from functions.shared.aws import reset_clients
from signal9.config import StackConfig
from signal9_tools.emulator.collection import Endpoints, LocalFakes, store_credentials
from signal9_tools.emulator.collection_checks import check_collection
from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.event_checks import check_events
from signal9_tools.emulator.health_checks import check_health, check_logs
from signal9_tools.emulator.report import Report
from signal9_tools.emulator.schedule_checks import check_schedules_fire
from signal9_tools.emulator.security_checks import check_access, check_security
from signal9_tools.emulator.smoke import Smoke
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.cli import served_fakes
from signal9_tools.fakes.server import CompressedClock
from signal9_tools.mockrun import ProgramRun

PACING_SPEEDUP = 1000.0


@contextlib.contextmanager
def paced_on(clock: CompressedClock) -> Iterator[None]:
    previous = pacing.clock()
    pacing.use_clock(clock)
    try:
        yield
    finally:
        pacing.use_clock(previous)


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
    scope: SmokeScope = "full",
    universe: int = BUILT_IN_UNIVERSE,
    compressed_pacing: bool = False,
) -> Report:
    """The smoke against ``endpoints``, or against the built-in fakes (``universe`` companies, served here) when None.

    Its checks are added to ``report``. ``compressed_pacing``: given endpoints enforce no rate either
    (e.g. ``signal9 fakes serve``), so they are paced on the built-in fakes' compressed clock too.
    """
    if scope not in SMOKE_SCOPES:
        raise ValueError(f"smoke scope {scope!r}: expected one of {SMOKE_SCOPES}")
    if scope == "none":
        return report
    now = datetime.now(UTC).replace(microsecond=0)
    fakes = None if endpoints is not None else LocalFakes(AlpacaFake(size=universe), AlphaVantageFake(universe))
    with contextlib.ExitStack() as stack:
        stack.callback(reset_clients)  # the last warm environment's clients end with the run
        deliveries = stack.enter_context(LambdaDeliveries().installed())
        if fakes is not None or compressed_pacing:
            # PollenateAsset paces itself to the plan (seconds per request); against the fakes,
            # which enforce no rate here, the pacing runs on a compressed clock so the smoke takes
            # seconds (benchmarks/pollenation_chain.py proves the rate against an enforcing fake).
            stack.enter_context(paced_on(CompressedClock(PACING_SPEEDUP)))
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
        smoke = Smoke(plan, config, deliveries, query_definitions, dead_letter_targets, report)
        # First, as an operator sets them before anything runs: the health checks read that no secret
        # still holds the deploy's placeholder.
        smoke.report.run(
            "credentials stored", lambda: store_credentials(smoke.client("secretsmanager"), smoke.naming, endpoints)
        )
        check_health(smoke)
        check_access(smoke)
        check_security(smoke)
        if scope == "configuration":
            return smoke.report
        fired = check_schedules_fire(smoke, now, fakes)
        check_collection(smoke, endpoints, fired, fakes, now)
        check_events(smoke, fired.latest, fakes)
        check_logs(smoke)
    return smoke.report
