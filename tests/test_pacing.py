"""Pacing AlphaVantage requests per execution environment (functions/shared/pacing.py) and its arithmetic."""

from __future__ import annotations

import threading

import pytest

from functions.shared import pacing
from functions.shared.pacing import INTERVAL_VARIABLE, IntervalPacer, environment_pacer
from signal9.config import parse
from signal9_tools.fakes.server import busiest_window
from tests.av_support import ManualClock


def test_pacer_spaces_requests_by_the_interval_and_never_waits_after_idle_time() -> None:
    clock = ManualClock(1000.0)
    pacer = IntervalPacer(4.0, clock)
    pacer.wait()  # first request: no wait
    pacer.wait()
    clock.now += 1.5  # work between requests counts towards the interval
    pacer.wait()
    clock.now += 10  # idle longer than the interval: no wait
    pacer.wait()
    assert clock.slept == [4.0, 2.5]


@pytest.mark.parametrize("interval", [-1.0, float("nan"), float("inf")])
def test_pacer_refuses_a_meaningless_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="pacing interval"):
        IntervalPacer(interval)


@pytest.mark.parametrize(
    "plan",
    [{}, {"pollenationConcurrency": None}, {"requestsPerMinute": 150, "pollenationConcurrency": 12}],
)
def test_concurrent_paced_environments_stay_within_the_plan_minus_the_collectors_headroom(
    plan: dict[str, object],
) -> None:
    """The fleet's worst case: every environment requests as fast as its pacer lets it, for ten minutes."""
    config = parse({"alphaVantage": plan}, "Pulumi.test.yaml").alphaVantage
    start = 1000.0
    # Each environment on its own clock (they run independently), some starting out of step.
    offsets = [0.0, 0.37, 1.1] + [0.0] * (config.paced_concurrency - 3)
    clocks = [ManualClock(start + offset) for offset in offsets]
    times: list[float] = []
    for clock in clocks:
        pacer = IntervalPacer(config.interval_seconds, clock)
        while clock.now < start + 600:
            pacer.wait()
            times.append(clock.now)
    assert busiest_window(times) <= config.requestsPerMinute - config.collectorHeadroomPerMinute
    # ... and the budget is really used: the fleet is not paced slower than it needs to be.
    assert len(times) / 10 >= config.pollenation_budget


def test_each_thread_is_one_environment_with_its_own_pacer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERVAL_VARIABLE, "4.5")
    mine = environment_pacer()
    assert mine is environment_pacer() and mine.interval == 4.5  # kept across warm invocations
    other: list[IntervalPacer] = []
    thread = threading.Thread(target=lambda: other.append(environment_pacer()))
    thread.start()
    thread.join()
    assert other[0] is not mine


def test_use_clock_rebuilds_the_pacer_on_the_shared_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(INTERVAL_VARIABLE, "2")
    clock = ManualClock(1000.0)
    previous = pacing.clock()
    pacing.use_clock(clock)
    try:
        assert environment_pacer().clock is clock
    finally:
        pacing.use_clock(previous)


@pytest.mark.parametrize(("value", "message"), [(None, "is not set"), ("soon", "is not a number")])
def test_a_missing_or_garbled_interval_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str | None, message: str
) -> None:
    if value is None:
        monkeypatch.delenv(INTERVAL_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(INTERVAL_VARIABLE, value)
    with pytest.raises(RuntimeError, match=f"{INTERVAL_VARIABLE}.*{message}|{message}"):
        environment_pacer()
