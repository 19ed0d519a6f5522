"""PollenateAsset (and MarkEarningsProcessed after it) under the faults DynamoDB, EventBridge and AlphaVantage produce.

tests/faults.py on moto and the AlphaVantage fake. The scenario: IBM is an active asset,
collected by a regular pollenation the day before its report; it reports post-market on
Tuesday 10 November and the earnings pollenation of the row's last day (the 15th) collects
the new quarter, records the pollenation and concludes the calendar row through
MarkEarningsProcessed. Pacing is off (interval 0): it only spaces requests. The fake's
statements hold four quarters and one year (not 20 and 5): no fault here depends on how many
reports a statement holds, and each run reads them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.pollenate_asset import handler as pollenate
from functions.shared.pacing import INTERVAL_VARIABLE
from signal9_tools.fakes import alphavantage as alphavantage_fake
from signal9_tools.fakes import fundamentals
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.server import serving
from signal9_tools.mockrun import ProgramRun
from tests import faults
from tests.av_support import ManualClock
from tests.faults import (
    AwsError,
    Case,
    Crash,
    During,
    Matrix,
    Recovery,
    Scenario,
    Unprocessed,
    World,
    fresh_clients,  # noqa: F401  (the file keeps its clients across tests)
)
from tests.handler_support import eventbridge_event, scheduled_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

FUNCTION = "PollenateAsset"
MARK = "MarkEarningsProcessed"
SYMBOL = "IBM"
REPORT_DAY = date(2026, 11, 10)
NEW_YORK = ZoneInfo("America/New_York")


def new_york(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=NEW_YORK).astimezone(UTC)


REGULAR_AT = new_york(REPORT_DAY - timedelta(days=1), 20)
LAST_DAY = new_york(REPORT_DAY + timedelta(days=5), 7)  # the trigger's run on the row's fifth day


def at(world: World, moment: datetime) -> None:
    world.move_clocks(moment)
    world.now = moment + timedelta(minutes=2)  # PollenateAsset's own clock, a little after the request


def pollenation(moment: datetime, **detail: str) -> dict[str, object]:
    return eventbridge_event(
        "pollenationNeeded", {"symbol": SYMBOL, "requestedAt": moment.isoformat(), "reason": "regular", **detail}
    )


def listed_synced_and_collected(world: World) -> None:
    """SyncAssets' row of IBM, the calendar as synced the morning before the report, a regular pollenation."""
    row: dict[str, Any] = {"symbol": SYMBOL, "lastPollenationDate": "1970-01-01T00:00:00.000Z", "status": "active"}
    row |= {"avgVolume": Decimal(4_000_000), "name": "IBM", "syncedAt": "2026-11-09T10:30:00.000Z"}
    world.fleet.table("assets").put_item(Item=row)
    world.alphavantage.report_on(SYMBOL, REPORT_DAY, "post-market")
    at(world, new_york(REPORT_DAY - timedelta(days=1), 6))
    world.deliver("SyncEarningsCalendar", scheduled_event(world.alphavantage.now()))
    at(world, REGULAR_AT)
    world.deliver(FUNCTION, pollenation(REGULAR_AT))


def the_last_days_pollenation(world: World) -> None:
    """The trigger's event for the report's row on its last day, then the earningsProcessed it leads to."""
    at(world, LAST_DAY)
    calendar = world.fleet.table("earningsCalendar")
    row = calendar.get_item(Key={"asset_symbol": SYMBOL, "earnings_date": REPORT_DAY.isoformat()})["Item"]
    detail = {
        "reason": "earnings",
        "earningsDate": REPORT_DAY.isoformat(),
        "fiscalDateEnding": str(row["fiscalDateEnding"]),
    }
    world.deliver(FUNCTION, pollenation(LAST_DAY, **detail))
    for event in world.fleet.delivered():
        world.deliver(MARK, event)


LAST_DAY_POLLENATION = Scenario(
    "IBM collected the day before its report; the earnings pollenation of the row's last day, then "
    "MarkEarningsProcessed on its earningsProcessed",
    listed_synced_and_collected,
    (the_last_days_pollenation,),
)


def concurrent_delivery(world: World) -> faults.Rule:
    """The same event delivered again and run to completion between the first one's read and its transaction."""
    return During("TransactWriteItems", lambda: the_last_days_pollenation(world))


def throttled_transaction(times: int) -> faults.Rule:
    return AwsError(
        "TransactWriteItems", "TransactionCanceledException", times=times, reasons=("None", "ThrottlingError")
    )


def on(function: str, fault: Fault, after: int = 0, times: int = 1) -> faults.Arm:
    """``fault`` on the pollenation's request to ``function`` (the datasets go OVERVIEW, EARNINGS, ... in order)."""
    order = ["OVERVIEW", "EARNINGS", "INCOME_STATEMENT", "BALANCE_SHEET", "CASH_FLOW"]
    return lambda w: w.alphavantage.inject(fault, times, after=order.index(function) + after)


MATRIX = Matrix(
    FUNCTION,
    LAST_DAY_POLLENATION,
    (
        Case("crash before the first write", lambda w: [Crash(0)]),
        Case("crash before the pollenation is recorded", lambda w: [Crash(w.writes[0] - 2)]),
        Case("crash before earningsProcessed is put on the bus", lambda w: [Crash(w.writes[0] - 1)]),
        Case("MarkEarningsProcessed crashes before its write", lambda w: [Crash(0, function=MARK)]),
        Case(
            "BatchWriteItem throttled past the SDK's retries",
            lambda w: [AwsError("BatchWriteItem", "ProvisionedThroughputExceededException")],
        ),
        Case("BatchWriteItem answers UnprocessedItems", lambda w: [Unprocessed("BatchWriteItem")], Recovery.IN_RUN),
        Case(
            "the recording transaction cancelled: ThrottlingError, three times",
            lambda w: [throttled_transaction(times=3)],
            Recovery.IN_RUN,
        ),
        Case(
            "the recording transaction cancelled: ThrottlingError, past the backoff retries",
            lambda w: [throttled_transaction(times=4)],
        ),
        Case(
            "the recording transaction cancelled once: TransactionConflict",
            lambda w: [
                AwsError("TransactWriteItems", "TransactionCanceledException", reasons=("TransactionConflict",))
            ],
            Recovery.IN_RUN,
        ),
        Case("PutEvents fails some entries", lambda w: [Unprocessed("PutEvents")], Recovery.IN_RUN),
        Case("PutEvents throttled past the SDK's retries", lambda w: [AwsError("PutEvents", "ThrottlingException")]),
        Case(
            "MarkEarningsProcessed's UpdateItem throttled past the SDK's retries",
            lambda w: [AwsError("UpdateItem", "ProvisionedThroughputExceededException", function=MARK)],
        ),
        Case("`{}` on OVERVIEW for a symbol collected before", on("OVERVIEW", Fault.EMPTY)),
        Case("`{}` on EARNINGS after OVERVIEW answered", on("EARNINGS", Fault.EMPTY)),
        Case(
            "`Error Message` on INCOME_STATEMENT after OVERVIEW answered",
            on("INCOME_STATEMENT", Fault.INVALID_API_CALL),
        ),
        Case("`{}` on CASH_FLOW after OVERVIEW answered", on("CASH_FLOW", Fault.EMPTY)),
        Case("AlphaVantage answers 502 once", on("BALANCE_SHEET", Fault.SERVER_ERROR), Recovery.IN_RUN),
        Case("AlphaVantage answers 502 past the client's retries", on("BALANCE_SHEET", Fault.SERVER_ERROR, times=4)),
        Case("the connection resets", on("EARNINGS", Fault.RESET), Recovery.IN_RUN),
        Case("the connection drops mid-body", on("INCOME_STATEMENT", Fault.DROPPED), Recovery.IN_RUN),
        Case("the JSON cut cleanly halfway", on("EARNINGS", Fault.TRUNCATED)),
        Case("a throttle answer", on("CASH_FLOW", Fault.BURST), Recovery.IN_RUN),
        Case("the duplicate delivery of the same event", lambda w: w.deliver_again(), Recovery.IN_RUN),
        Case("a second delivery running concurrently", lambda w: [concurrent_delivery(w)], Recovery.IN_RUN),
    ),
)


@pytest.fixture(scope="module")
def world(dev: ProgramRun) -> Iterator[World]:
    fake = AlphaVantageFake(10, clock=ManualClock.at(REGULAR_AT))
    with serving(fake) as server, faults.world(dev, alphavantage_url=server.url) as built:
        built.involve(FUNCTION, MARK)
        built.alphavantage = fake
        built.environments[FUNCTION][INTERVAL_VARIABLE] = "0"
        for module, name, count in ((fundamentals, "QUARTERLY_REPORTS", 4), (fundamentals, "ANNUAL_REPORTS", 1)):
            built.monkeypatch.setattr(module, name, count)
        built.monkeypatch.setattr(alphavantage_fake, "QUARTERLY_REPORTS", 4)
        faults.frozen_now(built, pollenate)
        yield built


@pytest.mark.parametrize("case", MATRIX.cases, ids=MATRIX.ids())
def test_fault(world: World, case: Case) -> None:
    MATRIX.check(world, case)
