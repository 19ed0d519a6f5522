"""PollenateAsset's record of a pollenation when deliveries repeat, arrive out of order or race.

EventBridge delivers at least once and in no particular order, and PollenateAsset runs
concurrently. Whatever happens, a symbol keeps exactly one row in ``status-index``: its
newest. ``record_pollenation`` is called directly (in PollenateAsset's environment, against
moto) so these tests do not depend on what collection does before it. A race is made real by
running a second delivery, start to finish, inside the first one's gap between reading the
newest row and writing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from functions.pollenate_asset import handler as pollenate
from functions.shared import aws as shared_aws
from functions.shared.clock import iso_utc
from functions.shared.dynamo import query
from functions.shared.events import PollenationNeeded
from functions.shared.observability import metrics
from signal9 import catalog
from tests.handler_support import Fleet

PREVIOUS = "2026-10-01T20:00:00.000Z"
T1 = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 3, 20, 0, tzinfo=UTC)


@pytest.fixture
def fleet(shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """PollenateAsset's environment, with AAPL's current row pollenated at PREVIOUS."""
    shared_aws.reset_clients()
    fleet = Fleet(shared_tables, monkeypatch)
    for key, value in fleet.environment(catalog.function("PollenateAsset")).items():
        monkeypatch.setenv(key, value)
    fleet.table("assets").put_item(
        Item={"symbol": "AAPL", "lastPollenationDate": PREVIOUS, "status": "active", "avgVolume": Decimal(1000)}
    )
    yield fleet
    metrics.clear_metrics()  # recorded outside a handler: never flushed, so drop them
    shared_aws.reset_clients()


def request(at: datetime) -> PollenationNeeded:
    return PollenationNeeded(symbol="AAPL", reason="regular", requestedAt=at)


def rows(fleet: Fleet) -> dict[str, dict[str, Any]]:
    """AAPL's rows by lastPollenationDate."""
    return {r["lastPollenationDate"]: r for r in fleet.rows("assets") if r["symbol"] == "AAPL"}


def indexed(fleet: Fleet, index: str) -> list[str]:
    """AAPL's rows in an active-asset index (their lastPollenationDate)."""
    items = fleet.table("assets").query(IndexName=index, KeyConditionExpression=Key("status").eq("active"))["Items"]
    return sorted(r["lastPollenationDate"] for r in items if r["symbol"] == "AAPL")


def assert_only_the_newest_row_is_indexed(fleet: Fleet) -> None:
    newest = max(rows(fleet))
    for index in ("status-index", "volume-index"):
        assert indexed(fleet, index) == [newest], index


def interleave(monkeypatch: pytest.MonkeyPatch, second: Callable[[], None]) -> None:
    """Run ``second`` once, after the next delivery has read the newest row and before it writes."""
    pending = [second]

    def read_then_let_the_other_delivery_run(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        items = list(query(*args, **kwargs))
        while pending:
            pending.pop()()
        return iter(items)

    monkeypatch.setattr(pollenate, "query", read_then_let_the_other_delivery_run)


def messages(buffer: io.StringIO) -> list[str]:
    return [json.loads(line)["message"] for line in buffer.getvalue().splitlines() if line.strip()]


def test_an_older_request_arriving_after_a_newer_one_changes_nothing(fleet: Fleet, log_lines: io.StringIO) -> None:
    assert pollenate.record_pollenation(request(T2)) is True
    before = rows(fleet)

    assert pollenate.record_pollenation(request(T1)) is False

    assert rows(fleet) == before  # no T1 row, and the T2 row still carries status
    assert before["2026-11-03T20:00:00.000Z"]["status"] == "active"
    assert_only_the_newest_row_is_indexed(fleet)
    assert messages(log_lines)[-1] == "pollenation not recorded: already recorded or superseded"


def test_the_same_request_twice_records_one_row(fleet: Fleet, log_lines: io.StringIO) -> None:
    assert pollenate.record_pollenation(request(T1)) is True
    before = rows(fleet)

    assert pollenate.record_pollenation(request(T1)) is False

    assert rows(fleet) == before and sorted(before) == [PREVIOUS, "2026-11-02T20:00:00.000Z"]
    assert_only_the_newest_row_is_indexed(fleet)
    assert messages(log_lines)[-1] == "pollenation not recorded: already recorded or superseded"


@pytest.mark.parametrize(
    ("first", "overtaking", "recorded", "why"),
    [
        # The same event: the new row's key is taken, so the transaction is cancelled for good.
        (T1, T1, [True, False], "a concurrent delivery recorded it first"),
        # ``first`` read PREVIOUS, which the overtaking delivery retired: it reads again, finds
        # the newer row and records nothing.
        (T1, T2, [True, False], "already recorded or superseded"),
        # Reading again finds an older row: ``first`` is still the newest pollenation, so it is
        # recorded on top of it and ends as the one indexed row.
        (T2, T1, [True, True], None),
    ],
    ids=["same-request", "newer-overtakes-older", "older-overtakes-newer"],
)
def test_two_deliveries_racing_leave_the_newest_pollenation_indexed(
    fleet: Fleet,
    log_lines: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    first: datetime,
    overtaking: datetime,
    recorded: list[bool],
    why: str | None,
) -> None:
    outcomes: list[bool] = []
    interleave(monkeypatch, lambda: outcomes.append(pollenate.record_pollenation(request(overtaking))))

    outcomes.append(pollenate.record_pollenation(request(first)))

    assert outcomes == recorded
    assert sorted(rows(fleet)) == sorted(
        {PREVIOUS, iso_utc(first), iso_utc(overtaking)} if all(recorded) else {PREVIOUS, iso_utc(overtaking)}
    )
    newest = max(rows(fleet))
    assert newest == iso_utc(max(first, overtaking)) and rows(fleet)[newest]["status"] == "active"
    assert_only_the_newest_row_is_indexed(fleet)
    if why is not None:
        assert messages(log_lines)[-1] == f"pollenation not recorded: {why}"


def test_two_deliveries_racing_for_a_symbol_without_rows_record_it_once(
    fleet: Fleet, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    newco = PollenationNeeded(symbol="NEWCO", reason="regular", requestedAt=T1)
    outcomes: list[bool] = []
    interleave(monkeypatch, lambda: outcomes.append(pollenate.record_pollenation(newco)))

    outcomes.append(pollenate.record_pollenation(newco))

    # Nothing to retire, so only the new row's own condition (the key must be new) stops the loser.
    assert outcomes == [True, False]
    assert [r["lastPollenationDate"] for r in fleet.rows("assets") if r["symbol"] == "NEWCO"] == [
        "2026-11-02T20:00:00.000Z"
    ]
    assert messages(log_lines)[-1] == "pollenation not recorded: a concurrent delivery recorded it first"


def test_a_row_that_keeps_changing_fails_the_recording_so_lambda_retries_it(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SyncAssets rewriting the row between every read and write: the delivery fails, never succeeds unrecorded."""
    original = pollenate.query  # type: ignore[attr-defined]
    changes = 0

    def read_then_sync_changes_it(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        nonlocal changes
        items = list(original(*args, **kwargs))
        changes += 1
        fleet.table("assets").update_item(
            Key={"symbol": "AAPL", "lastPollenationDate": PREVIOUS},
            UpdateExpression="SET syncedAt = :at",
            ExpressionAttributeValues={":at": f"2026-11-02T05:3{changes}:00.000Z"},
        )
        return iter(items)

    monkeypatch.setattr(pollenate, "query", read_then_sync_changes_it)
    with pytest.raises(pollenate.RecordingError, match="changed during 3 attempts"):
        pollenate.record_pollenation(request(T1))
    assert sorted(rows(fleet)) == [PREVIOUS] and changes == pollenate.RECORD_ATTEMPTS
