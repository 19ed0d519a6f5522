"""SyncEarningsCalendar under the faults DynamoDB and AlphaVantage produce (tests/faults.py), on moto and the fake.

The scenario: the calendar synced on Saturday, one report moved since; Monday's 06:00 sync.
The fake lists its reports of the next three weeks only, and the handler's horizon is three
weeks (``HORIZON_DAYS``): it Queries the index once per date, and every fault here plays out
the same over 21 dates as over 95, at a quarter of the cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from functions.sync_earnings_calendar import handler as calendar_handler
from signal9_tools.fakes.alphavantage import AlphaVantageFake, earnings_calendar
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.server import FakeRequest, FakeResponse, serving, text_response
from signal9_tools.mockrun import ProgramRun
from tests import faults
from tests.av_support import ManualClock
from tests.faults import (
    AwsError,
    Case,
    Crash,
    During,
    IndexLag,
    Matrix,
    Recovery,
    Scenario,
    Unprocessed,
    World,
    fresh_clients,  # noqa: F401  (the file keeps its clients across tests)
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

FUNCTION = "SyncEarningsCalendar"
SATURDAY = datetime(2026, 10, 31, 10, 0, tzinfo=UTC)  # 06:00 New York
MONDAY = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
MOVED = "BBX"  # its report (10 November) moves a week later between the two syncs
HORIZON_DAYS = 21


def next_three_weeks(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
    """The fake's calendar, without the reports after the next three weeks."""
    header, *rows = earnings_calendar(request, fake).body.decode().split("\r\n")
    last = (fake.now().date() + timedelta(days=HORIZON_DAYS)).isoformat()
    kept = [row for row in rows if row and row.split(",")[-5] <= last]
    return text_response(200, "\r\n".join([header, *kept, ""]), "text/csv")


def sync(world: World, at: datetime) -> None:
    faults.scheduled(FUNCTION, at)(world)


def saturday_then_a_move(world: World) -> None:
    sync(world, SATURDAY)
    world.alphavantage.move_report(MOVED, 7)


MONDAY_SYNC = Scenario(
    "the calendar synced on Saturday, one report moved since; Monday's sync",
    saturday_then_a_move,
    (lambda world: sync(world, MONDAY),),
)


def concurrent_sync(world: World) -> faults.Rule:
    return During("BatchWriteItem", lambda: sync(world, MONDAY))


MATRIX = Matrix(
    FUNCTION,
    MONDAY_SYNC,
    (
        Case("crash before the first write", lambda w: [Crash(0)]),
        Case("crash before the second write", lambda w: [Crash(1)]),
        Case("crash before the last write (the moved mark)", lambda w: [Crash(w.writes[0] - 1)]),
        Case(
            "BatchWriteItem throttled past the SDK's retries",
            lambda w: [AwsError("BatchWriteItem", "ProvisionedThroughputExceededException")],
        ),
        Case("BatchWriteItem answers UnprocessedItems", lambda w: [Unprocessed("BatchWriteItem")], Recovery.IN_RUN),
        Case(
            "UpdateItem (the moved mark) fails: InternalServerError",
            lambda w: [AwsError("UpdateItem", "InternalServerError")],
        ),
        Case(
            "an index Query throttled past the SDK's retries",
            lambda w: [AwsError("Query", "ProvisionedThroughputExceededException", nth=5)],
        ),
        Case(
            "the index read misses a stored report the calendar lists",
            lambda w: [IndexLag("upcoming-earnings-index", lambda item: item["asset_symbol"] == "MSFT", times=100)],
            Recovery.IN_RUN,
        ),
        Case("AlphaVantage answers 502 once", lambda w: w.alphavantage.inject(Fault.SERVER_ERROR), Recovery.IN_RUN),
        Case(
            "AlphaVantage answers 502 past the client's retries", lambda w: w.alphavantage.inject(Fault.SERVER_ERROR, 4)
        ),
        Case("the connection resets", lambda w: w.alphavantage.inject(Fault.RESET), Recovery.IN_RUN),
        Case("the connection drops mid-body", lambda w: w.alphavantage.inject(Fault.DROPPED), Recovery.IN_RUN),
        Case("a throttle answer", lambda w: w.alphavantage.inject(Fault.BURST), Recovery.IN_RUN),
        Case("`{}`", lambda w: w.alphavantage.inject(Fault.EMPTY)),
        Case("an `Error Message` answer", lambda w: w.alphavantage.inject(Fault.INVALID_API_CALL)),
        Case("the CSV cut cleanly at a line halfway", lambda w: w.alphavantage.inject(Fault.TRUNCATED)),
        Case("the duplicate delivery of the same run", lambda w: w.deliver_again(), Recovery.IN_RUN),
        Case("a second delivery running concurrently", lambda w: [concurrent_sync(w)], Recovery.IN_RUN),
    ),
)


@pytest.fixture(scope="module")
def world(dev: ProgramRun) -> Iterator[World]:
    fake = AlphaVantageFake(60, clock=ManualClock.at(SATURDAY))
    fake.functions["EARNINGS_CALENDAR"] = next_three_weeks
    with serving(fake) as server, faults.world(dev, alphavantage_url=server.url) as built:
        built.monkeypatch.setattr(calendar_handler, "HORIZON_DAYS", HORIZON_DAYS)
        built.involve(FUNCTION)
        built.alphavantage = fake
        yield built


@pytest.mark.parametrize("case", MATRIX.cases, ids=MATRIX.ids())
def test_fault(world: World, case: Case) -> None:
    MATRIX.check(world, case)
