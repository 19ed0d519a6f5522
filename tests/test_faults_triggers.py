"""The pollenation triggers and MarkEarningsProcessed under the faults DynamoDB and EventBridge produce (tests/faults.py).

A trigger writes no table: what it leaves is the distinct ``pollenationNeeded`` events it put
on the bus (the harness records them from its PutEvents calls; a duplicate event costs
nothing, PollenateAsset records a pollenation once). MarkEarningsProcessed writes one
``earningsCalendar`` row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from signal9_tools.mockrun import ProgramRun
from tests import faults
from tests.faults import (
    BUS,
    AwsError,
    Case,
    Crash,
    During,
    HarnessError,
    IndexLag,
    Matrix,
    Recovery,
    Scenario,
    Tables,
    Unprocessed,
    World,
    fresh_clients,  # noqa: F401  (the file keeps its clients across tests)
)
from tests.handler_support import eventbridge_event, scheduled_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

REGULAR, EARNINGS, MARK = "TriggerRegularPollenation", "TriggerEarningsPollenation", "MarkEarningsProcessed"
NEW_YORK = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 10)
EVENING = datetime.combine(TODAY, time(20), tzinfo=NEW_YORK).astimezone(UTC)
MORNING = datetime.combine(TODAY, time(7), tzinfo=NEW_YORK).astimezone(UTC)
# Least recently pollenated first; the batch is 2 (tests/handler_support.py), so the first two are asked for.
POLLENATED = {"AAA": "2026-08-01", "BBB": "2026-08-15", "CCC": "2026-09-01", "DDD": "2026-10-01"}


def put(world: World, table: str, *items: dict[str, Any]) -> None:
    handle = world.fleet.table(table)
    for item in items:
        handle.put_item(Item=item)


def active_assets(world: World) -> None:
    put(
        world,
        "assets",
        *(
            {"symbol": s, "lastPollenationDate": f"{d}T20:00:00.000Z", "status": "active", "avgVolume": Decimal(1)}
            for s, d in POLLENATED.items()
        ),
    )


def calendar_rows(world: World) -> None:
    def row(symbol: str, days_ago: int, time_of_the_day: str, **more: Any) -> dict[str, Any]:
        day = (TODAY - timedelta(days=days_ago)).isoformat()
        base = {"asset_symbol": symbol, "earnings_date": day, "fiscalDateEnding": "2026-09-30"}
        return base | {"timeOfTheDay": time_of_the_day, **more}

    put(
        world,
        "earningsCalendar",
        row("AAA", 1, "post-market"),  # out yesterday evening: asked for
        row("BBB", 3, "pre-market"),  # not yet published three days on: asked for again
        row("CCC", 1, "post-market", processed=True, processedAt="2026-11-10T12:05:00.000Z"),
        row("DDD", 0, "post-market"),  # out this evening, not yet
    )


def deliver(function: str, event: Any) -> faults.Step:
    return lambda world: world.deliver(function, event)


REGULAR_RUN = Scenario(
    "four active assets, the batch is two: the evening run asks for the two least recently pollenated",
    active_assets,
    (deliver(REGULAR, scheduled_event(EVENING)),),
)
EARNINGS_RUN = Scenario(
    "calendar rows of the week: two reports out and unconcluded, one processed, one out tonight; the 07:00 run",
    calendar_rows,
    (deliver(EARNINGS, scheduled_event(MORNING)),),
)
PROCESSED = {"symbol": "AAA", "earningsDate": "2026-11-09", "fiscalDateEnding": "2026-09-30", "outcome": "processed"}
MARK_RUN = Scenario(
    "the row of a report out yesterday; PollenateAsset's earningsProcessed",
    calendar_rows,
    (deliver(MARK, eventbridge_event("earningsProcessed", PROCESSED | {"processedAt": "2026-11-10T12:03:00Z"})),),
)


def replaced(symbol: str, by: str) -> faults.Accept:
    """The fault-free bus with ``symbol``'s pollenationNeeded replaced by one for ``by`` (or none when empty)."""

    def accept(tables: Tables) -> Tables:
        bus = {}
        for (detail_type, detail), event in tables[BUS].items():
            if event["symbol"] != symbol:
                bus[(detail_type, detail)] = event
            elif by:
                other = {**event, "symbol": by}
                bus[(detail_type, json.dumps(other, separators=(",", ":")))] = other
        return {**tables, BUS: bus}

    return accept


def concurrent(function: str, scenario: Scenario, operation: str) -> faults.Arm:
    return lambda w: [During(operation, lambda: scenario.steps[0](w), function=function)]


def publishing_faults(function: str, scenario: Scenario) -> tuple[Case, ...]:
    """What every trigger meets on its way to the bus."""
    return (
        Case("crash before PutEvents", lambda w: [Crash(0)]),
        Case("PutEvents fails some entries", lambda w: [Unprocessed("PutEvents")], Recovery.IN_RUN),
        Case("PutEvents throttled past the SDK's retries", lambda w: [AwsError("PutEvents", "ThrottlingException")]),
        Case("the duplicate delivery of the same run", lambda w: w.deliver_again(), Recovery.IN_RUN),
        Case("a second delivery running concurrently", concurrent(function, scenario, "PutEvents"), Recovery.IN_RUN),
    )


REGULAR_MATRIX = Matrix(
    REGULAR,
    REGULAR_RUN,
    (
        *publishing_faults(REGULAR, REGULAR_RUN),
        Case(
            "the status-index Query throttled past the SDK's retries",
            lambda w: [AwsError("Query", "ProvisionedThroughputExceededException")],
        ),
        Case(
            "the status-index read misses the least recently pollenated asset (a pollenation is moving it)",
            lambda w: [IndexLag("status-index", lambda item: item["symbol"] == "AAA")],
            Recovery.NONE,
            leaves="the next asset in line takes its place in the batch; the missed one stays first for the next run",
            accept=replaced("AAA", by="CCC"),
        ),
    ),
)
EARNINGS_MATRIX = Matrix(
    EARNINGS,
    EARNINGS_RUN,
    (
        *publishing_faults(EARNINGS, EARNINGS_RUN),
        Case(
            "one date's index Query throttled past the SDK's retries",
            lambda w: [AwsError("Query", "ProvisionedThroughputExceededException", nth=3)],
        ),
        Case(
            "an index read misses a row that is out",
            lambda w: [IndexLag("upcoming-earnings-index", lambda item: item["asset_symbol"] == "AAA", times=8)],
            Recovery.NONE,
            leaves="that row waits for the next morning's run (the look-back is 7 days, the window 5)",
            accept=replaced("AAA", by=""),
        ),
    ),
)
MARK_MATRIX = Matrix(
    MARK,
    MARK_RUN,
    (
        Case("crash before the write", lambda w: [Crash(0)]),
        Case(
            "UpdateItem throttled past the SDK's retries",
            lambda w: [AwsError("UpdateItem", "ProvisionedThroughputExceededException")],
        ),
        Case("UpdateItem fails: InternalServerError", lambda w: [AwsError("UpdateItem", "InternalServerError")]),
        Case("the duplicate delivery of the same event", lambda w: w.deliver_again(), Recovery.IN_RUN),
        Case("a second delivery running concurrently", concurrent(MARK, MARK_RUN, "UpdateItem"), Recovery.IN_RUN),
    ),
)
MATRICES = (REGULAR_MATRIX, EARNINGS_MATRIX, MARK_MATRIX)


@pytest.fixture(scope="module")
def world(dev: ProgramRun) -> Iterator[World]:
    with faults.world(dev) as built:
        built.involve(MARK, EARNINGS, REGULAR)  # the tables compared: earningsCalendar, and the bus
        yield built


@pytest.mark.parametrize(
    ("matrix", "case"),
    [(matrix, case) for matrix in MATRICES for case in matrix.cases],
    ids=[f"{matrix.function}-{id}" for matrix in MATRICES for id in matrix.ids()],
)
def test_fault(world: World, matrix: Matrix, case: Case) -> None:
    world.function = matrix.function
    matrix.check(world, case)


# --- the harness's own checks (here: MarkEarningsProcessed's one write is the simplest to watch) ---


def test_a_rejected_write_is_checked_not_applied(world: World) -> None:
    world.function = MARK
    rule = AwsError("UpdateItem", "InternalServerError")
    world.run(MARK_RUN, lambda w: [rule])
    assert (rule.fired, rule.checked) == (1, 1)


def test_the_self_check_catches_a_fault_injected_after_the_write_was_applied(world: World) -> None:
    world.function = MARK
    with pytest.raises(HarnessError, match="the rejected UpdateItem was applied"):
        world.run(MARK_RUN, lambda w: [AwsError("UpdateItem", "InternalServerError", applied=True)])
