"""SyncNewsSentiment under the faults DynamoDB and AlphaVantage produce (tests/faults.py), on moto and the fake.

The scenario: 15 active assets, the feed read up to 08:00 by the previous hourly run; the
runs of 09:00 (the one the fault hits) and 10:00.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from functions.sync_news_sentiment.handler import NEWEST_PUBLISHED, WATERMARK_KEY
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.server import serving
from signal9_tools.fakes.universe import universe
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

FUNCTION = "SyncNewsSentiment"
PREVIOUS_RUN = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
ACTIVE = [company.symbol for company in universe(18)][:15]  # and three companies that are no Signal9 asset
LAGGING = "AAPL"  # mentioned at 08:09, in the 09:00 run's window and no later run's


def hourly(at: datetime) -> faults.Step:
    return faults.scheduled(FUNCTION, at)


def assets_and_the_previous_run(world: World) -> None:
    """The assets, and the 08:00 run after a feed read up to 07:00 (not the first run's 24 hours: fewer rows to compare)."""
    assets = world.fleet.table("assets")
    for symbol in ACTIVE:
        row = {"symbol": symbol, "lastPollenationDate": "2026-10-01T20:00:00.000Z", "status": "active"}
        assets.put_item(Item=row | {"avgVolume": Decimal(1000)})
    watermark = {**WATERMARK_KEY, NEWEST_PUBLISHED: "20261102T070000"}
    world.fleet.table("newsSentiment").put_item(Item=watermark)
    hourly(PREVIOUS_RUN)(world)


HOURS = Scenario(
    "15 active assets, the feed read up to 08:00; the 09:00 run meets the fault, then the 10:00 run",
    assets_and_the_previous_run,
    tuple(hourly(PREVIOUS_RUN + timedelta(hours=n)) for n in (1, 2)),
)


def concurrent_run(world: World) -> faults.Rule:
    return During("BatchWriteItem", lambda: HOURS.steps[0](world))


MATRIX = Matrix(
    FUNCTION,
    HOURS,
    (
        Case("crash before the first write", lambda w: [Crash(0)]),
        Case("crash before the watermark moves", lambda w: [Crash(w.writes[0] - 1)]),
        Case(
            "BatchWriteItem throttled past the SDK's retries",
            lambda w: [AwsError("BatchWriteItem", "ProvisionedThroughputExceededException")],
        ),
        Case("BatchWriteItem answers UnprocessedItems", lambda w: [Unprocessed("BatchWriteItem")], Recovery.IN_RUN),
        Case("BatchGetItem answers UnprocessedKeys", lambda w: [Unprocessed("BatchGetItem")], Recovery.IN_RUN),
        Case(
            "the watermark PutItem fails: InternalServerError", lambda w: [AwsError("PutItem", "InternalServerError")]
        ),
        Case(
            "the status-index Query throttled past the SDK's retries",
            lambda w: [AwsError("Query", "ProvisionedThroughputExceededException")],
        ),
        Case(
            "the status-index read misses an asset a pollenation is moving",
            lambda w: [IndexLag("status-index", lambda item: item["symbol"] == LAGGING)],
            Recovery.IN_RUN,
        ),
        Case("AlphaVantage answers 502 once", lambda w: w.alphavantage.inject(Fault.SERVER_ERROR), Recovery.IN_RUN),
        Case(
            "AlphaVantage answers 502 past the client's retries", lambda w: w.alphavantage.inject(Fault.SERVER_ERROR, 4)
        ),
        Case("the connection resets", lambda w: w.alphavantage.inject(Fault.RESET), Recovery.IN_RUN),
        Case("the connection drops mid-body", lambda w: w.alphavantage.inject(Fault.DROPPED), Recovery.IN_RUN),
        Case("the JSON cut cleanly halfway", lambda w: w.alphavantage.inject(Fault.TRUNCATED)),
        Case("a throttle answer", lambda w: w.alphavantage.inject(Fault.BURST), Recovery.IN_RUN),
        Case("`{}`", lambda w: w.alphavantage.inject(Fault.EMPTY)),
        Case(
            "`No articles found` for an hour that has articles",
            lambda w: w.alphavantage.inject(Fault.NO_ARTICLES),
            Recovery.NEXT_SCHEDULE,
        ),
        Case("the duplicate delivery of the same run", lambda w: w.deliver_again(), Recovery.IN_RUN),
        Case("a second delivery running concurrently", lambda w: [concurrent_run(w)], Recovery.IN_RUN),
    ),
)


@pytest.fixture(scope="module")
def world(dev: ProgramRun) -> Iterator[World]:
    fake = AlphaVantageFake(18, clock=ManualClock.at(PREVIOUS_RUN), articles_per_hour=8)
    with serving(fake) as server, faults.world(dev, alphavantage_url=server.url) as built:
        built.involve(FUNCTION)
        built.alphavantage = fake
        yield built


@pytest.mark.parametrize("case", MATRIX.cases, ids=MATRIX.ids())
def test_fault(world: World, case: Case) -> None:
    MATRIX.check(world, case)
