"""SyncEarningsCalendar on moto against the AlphaVantage fake over loopback HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.shared.alphavantage import InvalidApiKeyError, UnexpectedResponseError
from functions.shared.earnings_calendar import MOVED_AT
from functions.shared.telemetry import FreshnessMetric
from functions.sync_earnings_calendar.handler import SuspiciousCalendarError
from signal9_tools.fakes.alphavantage import CALENDAR_HEADER, AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.server import FakeRequest, FakeResponse, FakeServer, text_response
from tests.av_support import ManualClock, collector_fleet, count_writes
from tests.handler_support import Fleet, record_gauges, scheduled_event

# Powertools warns when an invocation added no custom metric; expected for the trigger here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# Monday 2 November 2026, 06:00 in New York: when the schedule fires.
SYNC_TIME = datetime(2026, 11, 2, 11, 0, tzinfo=UTC)
TODAY = date(2026, 11, 2)


@pytest.fixture
def fake() -> AlphaVantageFake:
    return AlphaVantageFake(25, clock=ManualClock.at(SYNC_TIME))


@pytest.fixture
def env(
    shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, fake: AlphaVantageFake
) -> Iterator[tuple[Fleet, FakeServer]]:
    with collector_fleet(shared_tables, monkeypatch, fake) as running:
        yield running


def sync(fleet: Fleet, when: datetime = SYNC_TIME) -> dict[str, Any]:
    result: dict[str, Any] = fleet.invoke("SyncEarningsCalendar", scheduled_event(when))
    return result


def calendar(fake: AlphaVantageFake) -> list[dict[str, str]]:
    """What the fake's calendar lists right now (read straight from its handler)."""
    response = fake.functions["EARNINGS_CALENDAR"](FakeRequest("GET", "/query", {}, {}), fake)
    return list(csv.DictReader(io.StringIO(response.body.decode(), newline="")))


def rows_by_key(fleet: Fleet) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["asset_symbol"], r["earnings_date"]): r for r in fleet.rows("earningsCalendar")}


def test_first_sync_stores_every_calendar_row_as_the_spec_says(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    fleet, server = env
    listed = calendar(fake)
    result = sync(fleet)
    assert result == {
        "fetched": len(listed),
        "written": len(listed),
        "unchanged": 0,
        "skipped": 0,
        "added": len(listed),
        "updated": 0,
        "moved": 0,
    }
    stored = rows_by_key(fleet)
    assert set(stored) == {(fake.listed_symbols[r["symbol"]], r["reportDate"]) for r in listed}
    for row in listed:
        item = stored[(fake.listed_symbols[row["symbol"]], row["reportDate"])]
        assert item["name"] == row["name"] and item["fiscalDateEnding"] == row["fiscalDateEnding"]
        assert item["currency"] == "USD"
        assert item.get("estimate") == (Decimal(row["estimate"]) if row["estimate"] else None)
        assert item.get("timeOfTheDay") == (row["timeOfTheDay"] or None)
    assert any("estimate" not in item for item in stored.values())  # empty estimates are absent, not ""
    assert any(item["name"] == "FLAGSTAR BANK, N.A." for item in stored.values())
    assert server.count("/query", function="EARNINGS_CALENDAR", horizon="3month") == 1


def test_share_classes_are_stored_as_alpaca_spells_them_and_never_marked_moved(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    """AlphaVantage lists BRK-B (apis.md B11); the row must meet the asset BRK.B, on every sync."""
    fleet, _ = env
    hyphenated = {(r["symbol"], r["reportDate"]) for r in calendar(fake) if "-" in r["symbol"]}
    assert {symbol for symbol, _ in hyphenated} == {"BRK-B", "GRP-U", "BF-B"}
    sync(fleet)
    stored = rows_by_key(fleet)
    assert {(symbol.replace("-", "."), day) for symbol, day in hyphenated} <= set(stored)
    assert not any("-" in symbol for symbol, _ in stored)
    again = sync(fleet)
    assert again["moved"] == again["added"] == again["written"] == 0
    assert all(MOVED_AT not in row for row in fleet.rows("earningsCalendar"))


def test_a_row_in_the_dot_form_is_read_too(env: tuple[Fleet, FakeServer], fake: AlphaVantageFake) -> None:
    fleet, _ = env
    fake.functions["EARNINGS_CALENDAR"] = fixed_calendar(
        ("BRK.B", "Berkshire Hathaway Inc. Class B", "2026-11-19", "2026-09-30", "1.25", "USD", "pre-market"),
    )
    assert sync(fleet)["added"] == 1
    assert set(rows_by_key(fleet)) == {("BRK.B", "2026-11-19")}


def test_resync_of_an_unchanged_calendar_writes_nothing(env: tuple[Fleet, FakeServer]) -> None:
    fleet, _ = env
    first = sync(fleet)
    before = fleet.rows("earningsCalendar")
    writes = count_writes(fleet)
    second = sync(fleet)
    assert writes == [] and fleet.rows("earningsCalendar") == before
    assert second["unchanged"] == first["added"] and second["added"] == second["updated"] == 0


def test_a_changed_row_is_updated_in_place_and_processed_survives(env: tuple[Fleet, FakeServer]) -> None:
    fleet, _ = env
    sync(fleet)
    symbol, day = next(k for k, r in rows_by_key(fleet).items() if "estimate" in r)
    marked = {"asset_symbol": symbol, "earnings_date": day}
    fleet.table("earningsCalendar").update_item(
        Key=marked,
        UpdateExpression="SET #processed = :t, processedAt = :at, estimate = :stale",
        ExpressionAttributeNames={"#processed": "processed"},
        ExpressionAttributeValues={":t": True, ":at": "2026-11-01T12:00:00.000Z", ":stale": Decimal("-99")},
    )
    writes = count_writes(fleet)
    result = sync(fleet)
    row = rows_by_key(fleet)[(symbol, day)]
    assert result["updated"] == 1 and writes == ["UpdateItem"]
    assert row["estimate"] != Decimal("-99")
    assert row["processed"] is True and row["processedAt"] == "2026-11-01T12:00:00.000Z"


def test_a_moved_report_is_marked_and_no_longer_triggers_pollenation(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    fleet, _ = env
    sync(fleet)
    (old,) = [day for (symbol, day) in rows_by_key(fleet) if symbol == "AAPL"]
    fake.move_report("AAPL", 3)
    result = sync(fleet)
    stored = rows_by_key(fleet)
    (new,) = [day for (symbol, day) in stored if symbol == "AAPL" and day != old]
    assert result["moved"] == 1 and result["added"] == 1
    assert stored[("AAPL", old)][MOVED_AT] == "2026-11-02T11:00:00.000Z"
    assert MOVED_AT not in stored[("AAPL", new)]

    def triggered_on(day: str) -> list[str]:
        # The 07:00 New York run the morning after `day`: every report of `day` is out by then.
        morning_after = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC) + timedelta(days=1)
        fleet.delivered()
        fleet.invoke("TriggerEarningsPollenation", scheduled_event(morning_after))
        return [e["detail"]["symbol"] for e in fleet.delivered()]

    assert "AAPL" not in triggered_on(old)
    assert "AAPL" in triggered_on(new)
    # The report moves back: the mark goes, and the row triggers again.
    fake.move_report("AAPL", 0)
    assert sync(fleet)["updated"] == 1
    assert MOVED_AT not in rows_by_key(fleet)[("AAPL", old)]


def test_todays_row_is_never_marked_moved(env: tuple[Fleet, FakeServer], fake: AlphaVantageFake) -> None:
    fleet, _ = env
    sync(fleet)
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "GONE", "earnings_date": TODAY.isoformat()})
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "GONE", "earnings_date": "2026-11-20"})
    assert sync(fleet)["moved"] == 1
    stored = rows_by_key(fleet)
    assert MOVED_AT not in stored[("GONE", TODAY.isoformat())] and MOVED_AT in stored[("GONE", "2026-11-20")]


def fixed_calendar(*rows: tuple[str, ...], header: tuple[str, ...] = CALENDAR_HEADER) -> Any:
    def serve(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        return text_response(200, out.getvalue(), "text/csv")

    return serve


def test_invalid_rows_are_skipped_and_never_mark_a_report_moved(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    fleet, _ = env
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "BAD", "earnings_date": "2026-11-20"})
    fake.functions["EARNINGS_CALENDAR"] = fixed_calendar(
        ("GOOD", "Good, Inc.", "2026-11-19", "2026-09-30", "1.25", "USD", "pre-market"),
        ("BAD", "Bad Corp", "2026-11-20", "2026-09-30", "one dollar", "USD", "post-market"),
        ("WORSE", "Worse Corp", "2026-13-40", "2026-09-30", "", "USD", ""),
    )
    result = sync(fleet)
    assert result["skipped"] == 2 and result["added"] == 1 and result["moved"] == 0
    stored = rows_by_key(fleet)
    assert stored[("GOOD", "2026-11-19")]["estimate"] == Decimal("1.25")
    assert MOVED_AT not in stored[("BAD", "2026-11-20")]


def test_a_body_without_the_needed_columns_fails_before_writing(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    fleet, _ = env
    fake.functions["EARNINGS_CALENDAR"] = lambda request, fake: text_response(
        200, "<html>maintenance</html>", "text/html"
    )
    with pytest.raises(UnexpectedResponseError, match="lacks"):
        sync(fleet)
    assert fleet.rows("earningsCalendar") == []


def test_an_empty_calendar_fails_the_run_and_changes_nothing(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    fleet, _ = env
    sync(fleet)
    before = fleet.rows("earningsCalendar")
    fake.functions["EARNINGS_CALENDAR"] = fixed_calendar()
    with pytest.raises(SuspiciousCalendarError, match="listed no rows"):
        sync(fleet)
    assert fleet.rows("earningsCalendar") == before


def test_a_calendar_missing_many_stored_reports_fails_unless_allowed(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake
) -> None:
    fleet, _ = env
    sync(fleet)
    before = fleet.rows("earningsCalendar")
    fake.functions["EARNINGS_CALENDAR"] = fixed_calendar(
        ("GOOD", "Good, Inc.", "2026-11-19", "2026-09-30", "1.25", "USD", "pre-market"),
    )
    with pytest.raises(SuspiciousCalendarError, match=r"leaving \d+ of the \d+ stored upcoming reports"):
        sync(fleet)
    assert fleet.rows("earningsCalendar") == before
    event = {**scheduled_event(SYNC_TIME), "allowMassMove": True}
    result = fleet.invoke("SyncEarningsCalendar", event)
    assert result["moved"] == len([r for r in before if r["earnings_date"] > TODAY.isoformat()])


def test_invalid_key_fails_the_run_and_writes_nothing(env: tuple[Fleet, FakeServer], fake: AlphaVantageFake) -> None:
    fleet, _ = env
    fake.inject(Fault.INVALID_KEY)
    with pytest.raises(InvalidApiKeyError):
        sync(fleet)
    assert fleet.rows("earningsCalendar") == []


def test_throttling_is_retried_then_the_sync_completes(env: tuple[Fleet, FakeServer], fake: AlphaVantageFake) -> None:
    fleet, server = env
    fake.inject(Fault.BURST, times=2)
    assert sync(fleet)["added"] > 0
    assert server.count("/query") == 3


def test_only_a_completed_sync_reports_the_calendar_synced(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, _ = env
    gauges = record_gauges(monkeypatch)
    sync(fleet)
    assert gauges == [(FreshnessMetric.EARNINGS_CALENDAR_SYNCED, 1)]
    fake.inject(Fault.INVALID_KEY)
    with pytest.raises(InvalidApiKeyError):
        sync(fleet)
    assert gauges == [(FreshnessMetric.EARNINGS_CALENDAR_SYNCED, 1)]
