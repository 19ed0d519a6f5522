"""SyncAssets under the faults DynamoDB and Alpaca produce (tests/faults.py), on moto and the Alpaca fake.

The scenario: eight companies listed by Monday's sync; by Tuesday one was renamed, one left
the list and one joined it, and every volume moved a session; Tuesday's 05:30 sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from functions.pollenate_asset import handler as pollenate
from functions.shared.events import PollenationNeeded
from functions.sync_assets import handler as sync_assets
from signal9_tools.fakes.alpaca import (
    ALPACA_KEY_ID,
    ALPACA_SECRET_KEY,
    ASSETS_PATH,
    BARS_PATH,
    CALENDAR_PATH,
    AlpacaFake,
    Answer,
)
from signal9_tools.fakes.server import serving
from signal9_tools.fakes.universe import universe
from signal9_tools.mockrun import ProgramRun
from signal9_tools.motolock import serialized_moto
from tests import faults
from tests.alpaca_support import MONDAY_0530_NY
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
    World,
    fresh_clients,  # noqa: F401  (the file keeps its clients across tests)
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

FUNCTION = "SyncAssets"
MONDAY = datetime.fromtimestamp(MONDAY_0530_NY, UTC)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
RENAMED, DELISTED, OMITTED = "MSFT", "NVDA", "JPM"


COMPANIES = 8
NEW = universe(COMPANIES + 1)[COMPANIES].symbol  # the company AlpacaFake(COMPANIES).list_new(1) adds


def sync(at: datetime) -> faults.Step:
    return faults.scheduled(FUNCTION, at)


def monday(world: World) -> None:
    sync(MONDAY)(world)


def raced_by_a_first_pollenation(world: World) -> None:
    """Tuesday's sync; the new symbol's first pollenation is recorded between SyncAssets' read of it and its put."""
    request = PollenationNeeded(symbol=NEW, reason="regular", requestedAt=TUESDAY - timedelta(hours=1))
    world.rules.append(
        During(
            "PutItem",
            lambda: world.calling("PollenateAsset", lambda: pollenate.record_pollenation(request)),
            when=lambda call: call.request["Item"]["symbol"]["S"] == NEW,
        )
    )
    sync(TUESDAY)(world)


TUESDAY_SYNC = Scenario(
    "eight companies listed by Monday's sync; by Tuesday one renamed, one delisted, one new, every volume moved; "
    "Tuesday's sync",
    monday,
    (sync(TUESDAY),),
)
RACED_LISTING = Scenario(
    "Tuesday's sync, the new symbol's first pollenation recorded between SyncAssets' read of it and its put",
    monday,
    (raced_by_a_first_pollenation,),
)
TWO_DAYS = Scenario("Tuesday's sync, then Wednesday's", monday, (sync(TUESDAY), sync(WEDNESDAY)))


def concurrent_sync(world: World) -> faults.Rule:
    return During("UpdateItem", lambda: sync(TUESDAY)(world))


def alpaca(answer: int | Answer, path: str, times: int = 1) -> faults.Arm:
    return lambda w: w.alpaca.fail_next(answer, times, path=path)


MATRIX = Matrix(
    FUNCTION,
    TUESDAY_SYNC,
    (
        Case("crash before the first write", lambda w: [Crash(0)]),
        Case("crash before the second write", lambda w: [Crash(1)]),
        Case("crash halfway through the writes", lambda w: [Crash(w.writes[0] // 2)]),
        Case("crash before the last write", lambda w: [Crash(w.writes[0] - 1)]),
        Case(
            "an UpdateItem throttled past the SDK's retries",
            lambda w: [AwsError("UpdateItem", "ProvisionedThroughputExceededException", nth=3)],
        ),
        Case(
            "the new listing's PutItem fails: InternalServerError",
            lambda w: [AwsError("PutItem", "InternalServerError")],
        ),
        Case(
            "the status-index Query throttled past the SDK's retries",
            lambda w: [AwsError("Query", "ProvisionedThroughputExceededException")],
        ),
        Case(
            "the status-index read misses a listed symbol",
            lambda w: [IndexLag("status-index", lambda item: item["symbol"] == RENAMED)],
            Recovery.IN_RUN,
        ),
        Case("Alpaca answers 503 on a bars page once", alpaca(503, BARS_PATH), Recovery.IN_RUN),
        Case("Alpaca answers 503 on bars past the client's retries", alpaca(503, BARS_PATH, times=4)),
        Case("Alpaca answers 429 once", alpaca(429, ASSETS_PATH), Recovery.IN_RUN),
        Case("the asset list's connection resets", alpaca(Answer.RESET, ASSETS_PATH), Recovery.IN_RUN),
        Case("the calendar's connection drops mid-body", alpaca(Answer.DROPPED, CALENDAR_PATH), Recovery.IN_RUN),
        Case("the asset list cut cleanly halfway", alpaca(Answer.TRUNCATED, ASSETS_PATH)),
        Case('an empty bars page: `{"bars": {}, "next_page_token": null}`', alpaca(Answer.EMPTY, BARS_PATH)),
        Case(
            "Alpaca's list misses a listed symbol for one run",
            lambda w: w.alpaca.omit_next([OMITTED]),
            Recovery.NEXT_SCHEDULE,
            scenario=TWO_DAYS,
        ),
        Case(
            "crash before moving status to the row a racing first pollenation wrote",
            lambda w: [Crash(0, operation="TransactWriteItems")],
            scenario=RACED_LISTING,
        ),
        Case("the duplicate delivery of the same run", lambda w: w.deliver_again(), Recovery.IN_RUN),
        Case("a second delivery running concurrently", lambda w: [concurrent_sync(w)], Recovery.IN_RUN),
    ),
)


@pytest.fixture(scope="module")
def world(dev: ProgramRun) -> Iterator[World]:
    fake = AlpacaFake(COMPANIES, clock=ManualClock(MONDAY_0530_NY))
    with serving(fake) as server, faults.world(dev) as built, serialized_moto():
        credentials = {"keyId": ALPACA_KEY_ID, "secretKey": ALPACA_SECRET_KEY, "baseUrl": server.url}
        built.fleet.put_secret("alpaca", credentials | {"dataUrl": server.url})
        built.involve(FUNCTION)
        built.alpaca = fake
        faults.frozen_now(built, sync_assets, pollenate)
        built.prepare(monday)
        fake.change(RENAMED, name="Microsoft Corp. (renamed)")
        fake.delist([DELISTED])
        assert fake.list_new(1) == [NEW]
        yield built


@pytest.mark.parametrize("case", MATRIX.cases, ids=MATRIX.ids())
def test_fault(world: World, case: Case) -> None:
    MATRIX.check(world, case)
