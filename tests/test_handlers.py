"""Phase 1 handlers, run in-process against moto (tables from the program's own inputs)."""

from __future__ import annotations

import io
import json
import re
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.conditions import Key
from pydantic import ValidationError

from functions.mark_earnings_processed import handler as mark_handler
from functions.shared import aws as shared_aws
from functions.shared import clock, dynamo, earnings_calendar
from functions.shared.clock import new_york_offset
from functions.shared.credentials import (
    AlpacaCredentials,
    AlphaVantageCredentials,
    SecretInvalidError,
    SecretNotSetError,
    load_credentials,
)
from functions.shared.earnings_calendar import MOVED_AT, UNPUBLISHED_AT
from functions.shared.env import secret_variable, table_variable
from functions.shared.events import EarningsProcessed, PollenationNeeded
from functions.shared.publisher import MAX_ENTRIES_PER_CALL, PublishError, publish
from functions.shared.retry import Backoff, retry_call
from functions.shared.scheduled import ScheduledInvocation, scheduler_input_json
from functions.shared.secret_fields import PLACEHOLDER_VALUE
from functions.shared.telemetry import LOG_FIELDS as DOCUMENTED_LOG_FIELDS
from functions.shared.telemetry import FreshnessMetric, MetricName
from functions.sync_assets import handler as sync_assets_handler
from signal9 import catalog
from signal9_tools.fakes.server import FakeServer
from tests.handler_support import (
    BATCH_SIZE,
    BUS,
    SECRET_VALUES,
    Fleet,
    eventbridge_event,
    record_gauges,
    scheduled_event,
)

# 2026-11-03 01:30 UTC is still Monday 2 November in New York.
MONDAY_EVENING_NY = datetime(2026, 11, 3, 1, 30, tzinfo=UTC)
# What the Secrets component stores for an unset field: the helper must refuse exactly this.
PLACEHOLDER = PLACEHOLDER_VALUE
SYNC_FUNCTIONS = ("SyncAssets", "SyncEarningsCalendar", "SyncNewsSentiment")

# Powertools warns when an invocation added no custom metric (e.g. nothing to emit); expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def refuse_scan(**kwargs: Any) -> None:
    raise AssertionError("handlers must Query or GetItem, never Scan")


@pytest.fixture
def fleet(
    shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, sleeps: list[float], alphavantage: FakeServer
) -> Fleet:
    """The environment, with every Scan through the handlers' DynamoDB client made to fail.

    (The test's own ``Fleet.rows`` scans through a separate client to inspect the tables.)
    AlphaVantage is the local fake (PollenateAsset collects from it).
    """
    shared_aws.dynamodb().meta.client.meta.events.register("before-call.dynamodb.Scan", refuse_scan)
    return Fleet(shared_tables, monkeypatch, alphavantage_url=alphavantage.url)


def test_handlers_cannot_scan(fleet: Fleet) -> None:
    with pytest.raises(AssertionError, match="never Scan"):
        shared_aws.dynamodb().Table(fleet.tables["assets"]).scan()
    assert fleet.rows("assets") == []


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def asset(symbol: str, pollenated: str, status: str | None = "active", volume: int = 1_000_000) -> dict[str, Any]:
    row: dict[str, Any] = {"symbol": symbol, "lastPollenationDate": pollenated, "avgVolume": Decimal(volume)}
    if status:
        row["status"] = status
    return row


def pollenation_event(symbol: str = "AAPL", reason: str = "regular", **extra: Any) -> dict[str, Any]:
    detail = {"symbol": symbol, "reason": reason, "requestedAt": "2026-11-02T20:00:00Z", **extra}
    return eventbridge_event("pollenationNeeded", detail)


def earnings_pollenation(earnings_date: str, fiscal: str, at: str = "2026-11-02T20:00:00Z") -> dict[str, Any]:
    detail = {"earningsDate": earnings_date, "fiscalDateEnding": fiscal, "requestedAt": at}
    return pollenation_event(reason="earnings", **detail)


def processed_event(
    symbol: str = "AAPL", earnings_date: str = "2026-11-02", outcome: str = "processed"
) -> dict[str, Any]:
    detail = {
        "symbol": symbol,
        "earningsDate": earnings_date,
        "fiscalDateEnding": "2026-09-30",
        "outcome": outcome,
        "processedAt": "2026-11-03T12:00:00Z",
    }
    return eventbridge_event("earningsProcessed", detail)


def details(events: list[dict[str, Any]], detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == detail_type]


# --- TriggerRegularPollenation ----------------------------------------------------------


def test_regular_trigger_emits_the_least_recently_pollenated_active_assets(fleet: Fleet) -> None:
    for row in (
        asset("AAPL", "2026-10-30T20:00:00.000Z"),
        asset("MSFT", "2026-10-01T20:00:00.000Z"),
        asset("TSLA", "2026-09-15T20:00:00.000Z", status="inactive"),
        asset("NVDA", "2026-10-15T20:00:00.000Z"),
        asset("AMZN", "2026-08-01T20:00:00.000Z", status=None),  # superseded history row
    ):
        fleet.table("assets").put_item(Item=row)

    result = fleet.invoke("TriggerRegularPollenation", scheduled_event(MONDAY_EVENING_NY))

    assert BATCH_SIZE == 2
    assert result["symbols"] == ["MSFT", "NVDA"]
    emitted = details(fleet.delivered(), "pollenationNeeded")
    assert sorted(d["symbol"] for d in emitted) == ["MSFT", "NVDA"]
    assert {d["reason"] for d in emitted} == {"regular"}
    assert all("earningsDate" not in d for d in emitted)
    # requestedAt is the scheduled time, so a retried schedule run asks for the same pollenations.
    assert {PollenationNeeded.model_validate(d).requestedAt for d in emitted} == {MONDAY_EVENING_NY}


@pytest.mark.parametrize(
    "event", [{"time": "yesterday evening"}, {"time": "2026-11-02T20:00:00"}, ["not", "an", "object"]]
)
def test_scheduled_trigger_rejects_malformed_input_and_emits_nothing(fleet: Fleet, event: Any) -> None:
    fleet.table("assets").put_item(Item=asset("AAPL", "2026-10-30T20:00:00.000Z"))
    with pytest.raises(ValidationError):
        fleet.invoke("TriggerRegularPollenation", event)
    assert fleet.delivered() == []


def test_regular_trigger_rejects_a_miswired_batch_size(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    environment = fleet.environment

    def broken(function: catalog.Function) -> dict[str, str]:
        return {**environment(function), "SIGNAL9_REGULAR_POLLENATION_BATCH_SIZE": "zero"}

    monkeypatch.setattr(fleet, "environment", broken)
    with pytest.raises(RuntimeError, match="SIGNAL9_REGULAR_POLLENATION_BATCH_SIZE must be a positive integer"):
        fleet.invoke("TriggerRegularPollenation", {})


# --- TriggerEarningsPollenation ---------------------------------------------------------


# Tuesday 3 November 2026 in New York (EST): the default 07:00 run, and a run after the open.
TUESDAY_0700_NY = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
TUESDAY_1000_NY = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


def calendar_row(symbol: str, day: str, when: str | None = "post-market", **marks: Any) -> dict[str, Any]:
    row = {"asset_symbol": symbol, "earnings_date": day, "fiscalDateEnding": "2026-09-30", **marks}
    return row | ({"timeOfTheDay": when} if when is not None else {})


def seed_calendar(fleet: Fleet) -> None:
    for row in (
        calendar_row("AAPL", "2026-11-03", "post-market"),  # reports tonight: not out at 07:00 or 10:00
        calendar_row("ORCL", "2026-11-03", "pre-market"),  # out from 09:30 today
        calendar_row("MSFT", "2026-11-02", "post-market"),  # reported last night
        calendar_row("GOOG", "2026-11-02", None),  # no time given: counts as after the close
        calendar_row("NVDA", "2026-11-02", processed=True),  # already processed
        calendar_row("IBM", "2026-11-02", **{MOVED_AT: "2026-10-30T10:00:00.000Z"}),  # no longer listed
        calendar_row("AMZN", "2026-10-29", "pre-market"),  # not published yet: retried within 5 days
        calendar_row("TSLA", "2026-10-29", **{UNPUBLISHED_AT: "2026-11-02T12:00:00.000Z"}),  # given up on
        calendar_row("META", "2026-10-27"),  # 7 days: the window has ended, one concluding pollenation
        calendar_row("INTC", "2026-10-26"),  # 8 days: beyond the trigger's look-back
        calendar_row("AMD", "2026-11-04", "pre-market"),  # tomorrow
    ):
        fleet.table("earningsCalendar").put_item(Item=row)


def test_earnings_trigger_at_0700_emits_reports_already_out_and_still_unconcluded(fleet: Fleet) -> None:
    seed_calendar(fleet)
    result = fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))
    assert result["dates"] == [f"2026-11-{day:02d}" for day in (3, 2, 1)] + [
        f"2026-10-{d}" for d in (31, 30, 29, 28, 27)
    ]
    emitted = details(fleet.delivered(), "pollenationNeeded")
    assert sorted((d["symbol"], d["reason"], d["earningsDate"], d["fiscalDateEnding"]) for d in emitted) == [
        ("AMZN", "earnings", "2026-10-29", "2026-09-30"),
        ("GOOG", "earnings", "2026-11-02", "2026-09-30"),
        ("META", "earnings", "2026-10-27", "2026-09-30"),
        ("MSFT", "earnings", "2026-11-02", "2026-09-30"),
    ]


def test_earnings_trigger_after_the_open_adds_todays_pre_market_reporters_only(fleet: Fleet) -> None:
    seed_calendar(fleet)
    result = fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_1000_NY))
    assert sorted(result["symbols"]) == ["AMZN", "GOOG", "META", "MSFT", "ORCL"]


def test_a_post_market_reporter_is_pollenated_by_the_next_mornings_run(fleet: Fleet) -> None:
    fleet.table("earningsCalendar").put_item(Item=calendar_row("AAPL", "2026-11-03", "post-market"))
    assert fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))["symbols"] == []
    late_evening = datetime(2026, 11, 3, 21, 0, tzinfo=UTC)  # 16:00 New York: the close
    assert fleet.invoke("TriggerEarningsPollenation", scheduled_event(late_evening))["symbols"] == ["AAPL"]
    wednesday = TUESDAY_0700_NY + timedelta(days=1)
    assert fleet.invoke("TriggerEarningsPollenation", scheduled_event(wednesday))["symbols"] == ["AAPL"]


def test_earnings_trigger_skips_a_row_that_cannot_make_a_valid_event(fleet: Fleet) -> None:
    fleet.table("earningsCalendar").put_item(Item=calendar_row("not a ticker", "2026-11-02"))
    fleet.table("earningsCalendar").put_item(Item=calendar_row("MSFT", "2026-11-02", fiscalDateEnding=None))
    fleet.table("earningsCalendar").put_item(Item=calendar_row("AAPL", "2026-11-02"))
    assert fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))["symbols"] == ["AAPL"]


def test_scheduler_input_uses_exactly_the_scheduler_context_attributes() -> None:
    attributes = set(re.findall(r"<aws\.scheduler\.[a-z-]+>", scheduler_input_json()))
    assert attributes == {
        "<aws.scheduler.execution-id>",
        "<aws.scheduler.scheduled-time>",
        "<aws.scheduler.schedule-arn>",
        "<aws.scheduler.attempt-number>",
    }
    resolved = scheduled_event("2026-11-02T12:00:00Z")
    assert ScheduledInvocation.parse(resolved).moment() == datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_scheduled_handler_correlation_id_is_the_scheduler_execution_id(fleet: Fleet, log_lines: io.StringIO) -> None:
    event = scheduled_event(MONDAY_EVENING_NY)
    fleet.invoke("TriggerEarningsPollenation", event)
    lines = json_lines(log_lines)
    assert lines and {line["correlation_id"] for line in lines} == {event["id"]}


def test_new_york_fallback_rule_matches_the_tz_database_hour_by_hour() -> None:
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hour in range(0, 3 * 366 * 24):
        moment = start + timedelta(hours=hour)
        assert new_york_offset(moment) == moment.astimezone(new_york).utcoffset(), moment


def test_market_date_without_a_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "MARKET_TIMEZONE", None)
    assert clock.market_date(MONDAY_EVENING_NY) == date(2026, 11, 2)
    assert clock.market_date(datetime(2026, 7, 4, 3, 59, tzinfo=UTC)) == date(2026, 7, 3)
    assert clock.market_date(datetime(2026, 7, 4, 4, 0, tzinfo=UTC)) == date(2026, 7, 4)


def test_report_out_times_without_a_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    days = [date(2026, 3, 6), date(2026, 3, 9), date(2026, 10, 30), date(2026, 11, 2), date(2026, 7, 1)]
    when = ("pre-market", "post-market", None)
    expected = {(d, w): earnings_calendar.report_out_at(d, w) for d in days for w in when}
    assert expected[(date(2026, 11, 2), "pre-market")] == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)  # 09:30 EST
    assert expected[(date(2026, 7, 1), None)] == datetime(2026, 7, 1, 20, 0, tzinfo=UTC)  # 16:00 EDT
    monkeypatch.setattr(clock, "MARKET_TIMEZONE", None)
    assert {(d, w): earnings_calendar.report_out_at(d, w) for d in days for w in when} == expected


def test_scheduled_invocation_defaults_to_now_without_a_time() -> None:
    before = datetime.now(UTC)
    assert ScheduledInvocation.parse({}).moment() >= before


# --- PollenateAsset ---------------------------------------------------------------------


def test_pollenate_records_a_new_row_and_retires_the_previous_one_from_the_indexes(fleet: Fleet) -> None:
    fleet.table("assets").put_item(Item={**asset("AAPL", "2026-10-01T20:00:00.000Z"), "name": "Apple Inc."})

    result = fleet.invoke("PollenateAsset", pollenation_event())

    assert (result["symbol"], result["recorded"], result["collection"], result["emitted"]) == (
        "AAPL",
        True,
        "collected",
        0,
    )
    rows = sorted(fleet.rows("assets"), key=lambda r: r["lastPollenationDate"])
    assert [r["lastPollenationDate"] for r in rows] == ["2026-10-01T20:00:00.000Z", "2026-11-02T20:00:00.000Z"]
    previous, latest = rows
    assert "status" not in previous and previous["supersededAt"] == "2026-11-02T20:00:00.000Z"
    assert latest["status"] == "active" and latest["name"] == "Apple Inc." and latest["pollenationReason"] == "regular"
    active = fleet.table("assets").query(IndexName="status-index", KeyConditionExpression=Key("status").eq("active"))
    assert [r["lastPollenationDate"] for r in active["Items"]] == ["2026-11-02T20:00:00.000Z"]
    assert fleet.delivered() == []  # reason regular emits nothing


# The AlphaVantage fake's clock (tests/fixtures.py) is 2026-11-02 20:00 UTC: AAPL's EARNINGS
# then holds years of quarters up to 2026, never the one ending 2026-12-31.
HELD_QUARTER, MISSING_QUARTER = "2026-03-31", "2026-12-31"


def test_pollenate_for_earnings_emits_earnings_processed_when_earnings_holds_the_quarter(fleet: Fleet) -> None:
    fleet.table("assets").put_item(Item=asset("AAPL", "2026-10-01T20:00:00.000Z"))
    result = fleet.invoke("PollenateAsset", earnings_pollenation("2026-11-02", HELD_QUARTER))
    (processed,) = details(fleet.delivered(), "earningsProcessed")
    done = EarningsProcessed.model_validate(processed)
    assert (done.symbol, done.earningsDate.isoformat(), done.fiscalDateEnding.isoformat()) == (
        "AAPL",
        "2026-11-02",
        HELD_QUARTER,
    )
    assert done.outcome == "processed" and result["earnings"] == "processed"


def test_pollenate_without_the_quarter_emits_nothing_so_the_next_run_retries(fleet: Fleet) -> None:
    fleet.table("assets").put_item(Item=asset("AAPL", "2026-10-01T20:00:00.000Z"))
    result = fleet.invoke("PollenateAsset", earnings_pollenation("2026-11-02", MISSING_QUARTER))
    assert result["earnings"] == "notYetPublished" and result["emitted"] == 0
    assert result["recorded"] is True and result["collection"] == "collected"  # the data was still refreshed
    assert details(fleet.delivered(), "earningsProcessed") == []


def test_pollenate_without_the_quarter_after_five_days_concludes_unpublished(fleet: Fleet) -> None:
    # Requested on 2 November (New York) for a report of 28 October: the last day of the window.
    result = fleet.invoke("PollenateAsset", earnings_pollenation("2026-10-28", MISSING_QUARTER))
    (event,) = details(fleet.delivered(), "earningsProcessed")
    assert result["earnings"] == "unpublished" and EarningsProcessed.model_validate(event).outcome == "unpublished"
    on_day_four = earnings_pollenation("2026-10-29", MISSING_QUARTER, at="2026-11-02T20:00:01Z")
    assert fleet.invoke("PollenateAsset", on_day_four)["earnings"] == "notYetPublished"


def test_pollenate_redelivery_records_nothing_new(fleet: Fleet) -> None:
    fleet.table("assets").put_item(Item=asset("AAPL", "2026-10-01T20:00:00.000Z"))
    event = pollenation_event()
    assert fleet.invoke("PollenateAsset", event)["recorded"] is True
    before = fleet.rows("assets")
    assert fleet.invoke("PollenateAsset", event)["recorded"] is False
    assert fleet.rows("assets") == before


def test_pollenate_unknown_symbol_records_a_row_outside_the_active_index(fleet: Fleet) -> None:
    fleet.invoke("PollenateAsset", pollenation_event(symbol="NEWCO"))
    (row,) = fleet.rows("assets")
    assert row["symbol"] == "NEWCO" and "status" not in row


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (pollenation_event(reason="earnings"), "earningsDate is required"),
        (pollenation_event(reason="earnings", earningsDate="2026-11-02"), "fiscalDateEnding is required"),
        (pollenation_event(fiscalDateEnding="2026-09-30"), "fiscalDateEnding is only allowed"),
        (pollenation_event(symbol="aapl; drop"), "symbol"),
        (pollenation_event(reason="sometimes"), "reason"),
        (pollenation_event(unexpected="field"), "unexpected"),
        (eventbridge_event("pollenationNeeded", {"symbol": "AAPL"}), "requestedAt"),
        (eventbridge_event("pollenationNeeded", pollenation_event()["detail"], source="aws.events"), "source"),
        (processed_event(), "expected detail-type 'pollenationNeeded'"),
        ({"detail": "not an event"}, "detail-type"),
    ],
)
def test_pollenate_rejects_malformed_events_and_writes_nothing(fleet: Fleet, event: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fleet.invoke("PollenateAsset", event)
    assert fleet.rows("assets") == []
    assert fleet.delivered() == []


# --- MarkEarningsProcessed --------------------------------------------------------------


def test_warm_invocations_write_nothing_but_json_lines(fleet: Fleet) -> None:
    # A warning is a non-JSON line on stderr. Powertools warns when a dimension changes value;
    # a warm execution environment keeps its stage, so re-binding it each invocation says nothing.
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "AAPL", "earnings_date": "2026-11-02"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            fleet.invoke("MarkEarningsProcessed", processed_event())
    assert [str(w.message) for w in caught] == []


def test_mark_processed_is_idempotent(fleet: Fleet) -> None:
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "AAPL", "earnings_date": "2026-11-02"})
    assert fleet.invoke("MarkEarningsProcessed", processed_event())["changed"] is True
    first = fleet.rows("earningsCalendar")
    assert first == [
        {
            "asset_symbol": "AAPL",
            "earnings_date": "2026-11-02",
            "processed": True,
            "processedAt": "2026-11-03T12:00:00.000Z",
        }
    ]
    assert fleet.invoke("MarkEarningsProcessed", processed_event(outcome="unpublished"))["changed"] is False
    assert fleet.rows("earningsCalendar") == first
    later = processed_event()
    later["detail"]["processedAt"] = "2026-11-04T12:00:00Z"
    assert fleet.invoke("MarkEarningsProcessed", later)["changed"] is False
    assert fleet.rows("earningsCalendar") == first


def test_mark_unpublished_sets_unpublished_at_logs_and_counts_and_the_trigger_stops(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, log_lines: io.StringIO
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(mark_handler, "count", lambda name, value=1: counted.append(name))
    fleet.table("earningsCalendar").put_item(Item=calendar_row("AAPL", "2026-11-02"))
    assert fleet.invoke("MarkEarningsProcessed", processed_event(outcome="unpublished"))["changed"] is True
    (row,) = fleet.rows("earningsCalendar")
    assert row[UNPUBLISHED_AT] == "2026-11-03T12:00:00.000Z" and "processed" not in row
    assert counted == [MetricName.EARNINGS_UNPUBLISHED]
    assert any(line["message"] == "earnings never published within the window" for line in json_lines(log_lines))
    assert fleet.invoke("MarkEarningsProcessed", processed_event(outcome="unpublished"))["changed"] is False
    assert fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))["symbols"] == []


def test_mark_processed_refuses_to_create_a_missing_row(fleet: Fleet) -> None:
    with pytest.raises(LookupError, match="earningsCalendar has no row for AAPL on 2026-11-02"):
        fleet.invoke("MarkEarningsProcessed", processed_event())
    assert fleet.rows("earningsCalendar") == []


@pytest.mark.parametrize(
    "event",
    [
        processed_event(earnings_date="2026-13-45"),
        eventbridge_event("earningsProcessed", {"symbol": "AAPL", "earningsDate": "2026-11-02"}),
        eventbridge_event("earningsProcessed", {**processed_event()["detail"], "outcome": "maybe"}),
        eventbridge_event("earningsProcessed", {**processed_event()["detail"], "processedAt": "2026-11-03T12:00:00"}),
        pollenation_event(),
    ],
)
def test_mark_processed_rejects_malformed_events_and_writes_nothing(fleet: Fleet, event: dict[str, Any]) -> None:
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "AAPL", "earnings_date": "2026-11-02"})
    with pytest.raises(ValueError, match=r"validation error|expected detail-type"):
        fleet.invoke("MarkEarningsProcessed", event)
    assert fleet.rows("earningsCalendar") == [{"asset_symbol": "AAPL", "earnings_date": "2026-11-02"}]


# --- the whole earnings loop ------------------------------------------------------------


def test_earnings_loop_trigger_pollenate_mark_then_nothing_left(fleet: Fleet) -> None:
    """Events captured from the bus are fed to their consumers, as the rules would."""
    for symbol in ("AAPL", "MSFT"):
        fleet.table("earningsCalendar").put_item(Item=calendar_row(symbol, "2026-11-02", fiscalDateEnding=HELD_QUARTER))
    fleet.table("earningsCalendar").put_item(Item=calendar_row("IBM", "2026-11-02", fiscalDateEnding=MISSING_QUARTER))
    assert sorted(fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))["symbols"]) == [
        "AAPL",
        "IBM",
        "MSFT",
    ]
    for event in fleet.delivered():
        fleet.invoke(catalog.function("PollenateAsset").name, event)
    for event in fleet.delivered():
        assert event["detail-type"] == "earningsProcessed"
        assert fleet.invoke("MarkEarningsProcessed", event)["changed"] is True
    # IBM's quarter is not in its EARNINGS yet: the next run asks again.
    again = TUESDAY_0700_NY + timedelta(days=1)
    assert fleet.invoke("TriggerEarningsPollenation", scheduled_event(again))["symbols"] == ["IBM"]


# --- Sync* secrets ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SYNC_FUNCTIONS)
def test_sync_fails_fast_on_a_placeholder_secret(fleet: Fleet, name: str, log_lines: io.StringIO) -> None:
    secret = catalog.function(name).secret or ""
    fleet.put_secret(secret, dict.fromkeys(SECRET_VALUES[secret], PLACEHOLDER))
    with pytest.raises(SecretNotSetError) as raised:
        fleet.invoke(name, {})
    message = str(raised.value)
    assert f"secret {secret!r}" in message and "PLACEHOLDER" in message
    assert f"pulumi config set --secret --path signal9:secrets.{secret}." in message
    assert "<value> -s dev" in message and "`pulumi up -s dev`" in message
    assert PLACEHOLDER not in message and PLACEHOLDER not in log_lines.getvalue()


# --- credentials helper -----------------------------------------------------------------


def test_secret_retrieved_through_the_helper_and_cached(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    shared_aws.secretsmanager().meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue",
        lambda **kwargs: calls.append(kwargs["params"]["SecretId"]),
    )
    monkeypatch.setenv(secret_variable("alpaca"), fleet.secret_arns["alpaca"])
    first = load_credentials(AlpacaCredentials)
    second = load_credentials(AlpacaCredentials)
    assert first == second
    assert first.keyId.get_secret_value() == SECRET_VALUES["alpaca"]["keyId"]
    assert str(first.baseUrl).startswith("https://paper-api.alpaca.markets")
    assert SECRET_VALUES["alpaca"]["secretKey"] not in repr(first)
    assert calls == [fleet.secret_arns["alpaca"]]
    # A whole handler run (another invocation, same execution environment) is served from the cache too;
    # collection itself (tests/test_sync_assets.py) is stubbed: no call may leave the machine.
    monkeypatch.setattr(sync_assets_handler, "sync", lambda *args, **kwargs: sync_assets_handler.Summary())
    fleet.invoke("SyncAssets", {})
    fleet.invoke("SyncAssets", {})
    assert len(calls) == 1


def test_a_table_handle_lives_as_long_as_the_execution_environment(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Table()`` builds a resource class per call: each table's handle is made once per environment,
    per physical table (a stage's variables name it), and a new environment (reset_clients) makes it again."""
    monkeypatch.setenv(table_variable("assets"), fleet.tables["assets"])
    first = dynamo.table("assets")
    assert dynamo.table("assets") is first and first.name == fleet.tables["assets"]
    monkeypatch.setenv(table_variable("assets"), "signal9-staging-assets")
    assert dynamo.table("assets").name == "signal9-staging-assets"
    monkeypatch.setenv(table_variable("assets"), fleet.tables["assets"])
    assert dynamo.table("assets") is first
    shared_aws.reset_clients()
    assert dynamo.table("assets") is not first


def test_secret_cache_expires_after_max_age(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    shared_aws.secretsmanager().meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue", lambda **kwargs: calls.append("call")
    )
    monkeypatch.setenv(secret_variable("alphavantage"), fleet.secret_arns["alphavantage"])
    monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "0")
    load_credentials(AlphaVantageCredentials)
    load_credentials(AlphaVantageCredentials)
    assert len(calls) == 2


def test_placeholder_in_one_field_names_only_that_field(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet.put_secret("alpaca", {**SECRET_VALUES["alpaca"], "secretKey": PLACEHOLDER})
    monkeypatch.setenv(secret_variable("alpaca"), fleet.secret_arns["alpaca"])
    with pytest.raises(SecretNotSetError, match=r"signal9:secrets\.alpaca\.secretKey <value>") as raised:
        load_credentials(AlpacaCredentials)
    assert "keyId" not in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({**SECRET_VALUES["alpaca"], "baseUrl": "test-secret-not-a-url"}, "baseUrl"),
        ({"keyId": "test-secret-only-id"}, "secretKey: Field required"),
    ],
)
def test_malformed_secret_error_never_shows_a_value(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, value: dict[str, str], problem: str
) -> None:
    fleet.put_secret("alpaca", value)
    monkeypatch.setenv(secret_variable("alpaca"), fleet.secret_arns["alpaca"])
    with pytest.raises(SecretInvalidError, match=problem) as raised:
        load_credentials(AlpacaCredentials)
    assert "test-secret" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_non_json_secret_is_a_clear_error(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = fleet.secretsmanager.put_secret_value(SecretId="signal9/dev/alphavantage", SecretString="plain text")["ARN"]
    monkeypatch.setenv(secret_variable("alphavantage"), arn)
    with pytest.raises(SecretInvalidError, match=r"'alphavantage'.*is not valid JSON"):
        load_credentials(AlphaVantageCredentials)


def test_missing_secret_variable_names_the_variable(aws: None) -> None:
    with pytest.raises(RuntimeError, match="SIGNAL9_SECRET_ALPHAVANTAGE_ARN is not set"):
        load_credentials(AlphaVantageCredentials)


# --- events publisher -------------------------------------------------------------------


def regular(symbol: str) -> PollenationNeeded:
    return PollenationNeeded(symbol=symbol, reason="regular", requestedAt=MONDAY_EVENING_NY)


SYMBOLS = [f"SYM{i}" for i in range(23)]


def test_publish_batches_at_most_ten_entries(fleet: Fleet) -> None:
    sizes: list[int] = []
    shared_aws.events().meta.events.register(
        "before-parameter-build.events.PutEvents", lambda **kwargs: sizes.append(len(kwargs["params"]["Entries"]))
    )
    assert publish([regular(s) for s in SYMBOLS], event_bus_name=BUS) == 23
    assert sizes == [MAX_ENTRIES_PER_CALL, MAX_ENTRIES_PER_CALL, 3]
    assert sorted(d["symbol"] for d in details(fleet.delivered(), "pollenationNeeded")) == sorted(SYMBOLS)


class FlakyPutEvents:
    """Reports the entries at ``failing`` positions as failed on the first ``times`` calls; sends the rest."""

    def __init__(self, real: Any, failing: set[int], times: int) -> None:
        self.real, self.failing, self.times = real, failing, times
        self.calls: list[list[str]] = []

    def __call__(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's keyword
        self.calls.append([json.loads(e["Detail"])["symbol"] for e in Entries])
        if len(self.calls) > self.times:
            return dict(self.real(Entries=Entries))
        sent = [e for i, e in enumerate(Entries) if i not in self.failing]
        accepted = iter(self.real(Entries=sent)["Entries"]) if sent else iter([])
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if i in self.failing else next(accepted)
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": len(self.failing & set(range(len(Entries)))), "Entries": results}


def test_publish_retries_only_the_failed_entries(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    client = shared_aws.events()
    flaky = FlakyPutEvents(client.put_events, failing={1, 3}, times=1)
    monkeypatch.setattr(client, "put_events", flaky)
    for row in (asset(s, f"2026-10-0{i + 1}T00:00:00.000Z") for i, s in enumerate(["AAPL", "MSFT", "NVDA", "AMZN"])):
        fleet.table("assets").put_item(Item=row)
    monkeypatch.setattr(
        fleet,
        "environment",
        lambda function, environment=fleet.environment: {
            **environment(function),
            "SIGNAL9_REGULAR_POLLENATION_BATCH_SIZE": "4",
        },
    )

    assert fleet.invoke("TriggerRegularPollenation", {})["published"] == 4

    assert flaky.calls == [["AAPL", "MSFT", "NVDA", "AMZN"], ["MSFT", "AMZN"]]
    assert sorted(d["symbol"] for d in details(fleet.delivered(), "pollenationNeeded")) == [
        "AAPL",
        "AMZN",
        "MSFT",
        "NVDA",
    ]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1.0


def test_publish_gives_up_after_three_retries(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    client = shared_aws.events()
    flaky = FlakyPutEvents(client.put_events, failing={0}, times=99)
    monkeypatch.setattr(client, "put_events", flaky)
    with pytest.raises(PublishError, match=r"1 of 2 events .* after 3 retries \(error codes: InternalFailure\)"):
        publish([regular("AAPL"), regular("MSFT")], event_bus_name=BUS, jitter=lambda ceiling: ceiling)
    assert flaky.calls == [["AAPL", "MSFT"], ["AAPL"], ["AAPL"], ["AAPL"]]
    assert sleeps == [1.0, 2.0, 4.0]
    assert [d["symbol"] for d in details(fleet.delivered(), "pollenationNeeded")] == ["MSFT"]


# --- retry helper -----------------------------------------------------------------------


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls}")
        return "ok"


def test_retry_waits_exponentially_from_a_one_second_base_and_stops_after_three_retries() -> None:
    slept: list[float] = []
    always = Flaky(failures=10)
    with pytest.raises(ConnectionError, match="attempt 4"):
        retry_call(always, retry_on=(ConnectionError,), sleep=slept.append, jitter=lambda ceiling: ceiling)
    assert always.calls == 4
    assert slept == [1.0, 2.0, 4.0]


def test_retry_returns_once_the_call_succeeds() -> None:
    slept: list[float] = []
    twice = Flaky(failures=2)
    assert retry_call(twice, retry_on=(ConnectionError,), sleep=slept.append) == "ok"
    assert twice.calls == 3 and len(slept) == 2
    assert 0 <= slept[0] <= 1.0 and 0 <= slept[1] <= 2.0  # full jitter under each ceiling


def test_retry_does_not_retry_other_errors() -> None:
    def broken() -> None:
        raise KeyError("bug")

    slept: list[float] = []
    with pytest.raises(KeyError):
        retry_call(broken, retry_on=(ConnectionError,), sleep=slept.append)
    assert slept == []


def test_backoff_is_capped_and_bounded() -> None:
    assert [Backoff(base_seconds=2.0, cap_seconds=5.0).ceiling(n) for n in range(3)] == [2.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="max_retries <= 3"):
        Backoff(max_retries=4)


# --- structured logs --------------------------------------------------------------------

LOG_FIELDS = set(DOCUMENTED_LOG_FIELDS)


def test_handler_log_lines_are_json_with_the_documented_fields(
    fleet: Fleet, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    fleet.table("earningsCalendar").put_item(Item={"asset_symbol": "AAPL", "earnings_date": "2026-11-02"})
    event = processed_event()
    fleet.invoke("MarkEarningsProcessed", event)

    lines = json_lines(log_lines)
    assert lines, "the handler logged nothing"
    for line in lines:
        assert set(line) >= LOG_FIELDS, LOG_FIELDS - set(line)
        assert line["service"] == "MarkEarningsProcessed"
        assert line["stage"] == "dev"
        assert line["correlation_id"] == event["id"]
        assert line["function_name"] == "signal9-dev-MarkEarningsProcessed"
        assert line["function_memory_size"] == catalog.function("MarkEarningsProcessed").memory_mb
        assert line["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
        assert datetime.fromisoformat(line["timestamp"]).utcoffset() is not None
    marked = next(line for line in lines if line["message"] == "earnings row marked processed")
    assert marked["symbol"] == "AAPL" and marked["level"] == "INFO"


def test_failed_invocation_logs_an_error_line_and_keys_do_not_leak_between_invocations(
    fleet: Fleet, log_lines: io.StringIO
) -> None:
    with pytest.raises(LookupError):
        fleet.invoke("MarkEarningsProcessed", processed_event())
    fleet.invoke("TriggerRegularPollenation", {})
    lines = json_lines(log_lines)
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["exception_name"] == "EarningsRowNotFoundError" and error["symbol"] == "AAPL"
    trigger_lines = [line for line in lines if line["service"] == "TriggerRegularPollenation"]
    assert trigger_lines and all("symbol" not in line for line in trigger_lines)
    # A schedule input without an id still gets a correlation id: the request id.
    assert {line["correlation_id"] for line in trigger_lines} == {trigger_lines[0]["function_request_id"]}


def test_regular_trigger_reports_its_plan_and_what_it_requested(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    gauges = record_gauges(monkeypatch)
    fleet.table("assets").put_item(Item=asset("AAPL", "2026-10-30T20:00:00.000Z"))
    fleet.invoke("TriggerRegularPollenation", scheduled_event(MONDAY_EVENING_NY))
    # One active asset against a batch of two: the day's pollenations fall short of the plan.
    assert gauges == [(FreshnessMetric.POLLENATIONS_PLANNED, BATCH_SIZE), (FreshnessMetric.POLLENATIONS_REQUESTED, 1)]


def test_earnings_trigger_reports_rows_waiting_and_the_oldest_reports_age(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_calendar(fleet)
    gauges = record_gauges(monkeypatch)
    fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))
    # AMZN, GOOG, META, MSFT wait; META's report (27 October) is 7 days old on Tuesday 3 November.
    assert gauges == [
        (FreshnessMetric.EARNINGS_ROWS_WAITING, 4),
        (FreshnessMetric.OLDEST_UNPROCESSED_REPORT_DAYS, 7),
        (FreshnessMetric.POLLENATIONS_REQUESTED, 4),
    ]


def test_earnings_trigger_with_nothing_waiting_reports_zero(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    gauges = record_gauges(monkeypatch)
    fleet.invoke("TriggerEarningsPollenation", scheduled_event(TUESDAY_0700_NY))
    assert dict(gauges) == {
        FreshnessMetric.EARNINGS_ROWS_WAITING: 0,
        FreshnessMetric.OLDEST_UNPROCESSED_REPORT_DAYS: 0,
        FreshnessMetric.POLLENATIONS_REQUESTED: 0,
    }
