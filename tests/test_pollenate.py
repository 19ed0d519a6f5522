"""PollenateAsset collects the five AlphaVantage datasets: on moto, against the AlphaVantage fake over real HTTP.

moto stands in for DynamoDB, EventBridge and Secrets Manager; ``signal9_tools.fakes.alphavantage``
(with ``signal9_tools.fakes.fundamentals``) stands in for AlphaVantage on 127.0.0.1.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.conditions import Key

from functions.pollenate_asset import handler as pollenate
from functions.pollenate_asset.fundamentals import BALANCE_SHEET_FIELDS, DATASETS, LEGACY_SPELLINGS
from functions.shared import aws as shared_aws
from functions.shared.alphavantage import ThrottledError
from functions.shared.publisher import publish
from signal9.config import parse
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.fundamentals import ANNUAL_REPORTS, QUARTERLY_REPORTS, knobs
from signal9_tools.fakes.server import FakeRequest, FakeResponse, FakeServer, json_response
from tests.av_support import ManualClock
from tests.handler_support import Fleet, WriteCounter, eventbridge_event, scheduled_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

STATEMENT_TABLES = ("earnings", "incomeStatement", "balanceSheet", "cashFlow")
COLLECTED_AT = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)
# An earnings pollenation for a quarter IBM's EARNINGS holds on the fake's clock (2026-11-02).
HELD = {"earningsDate": "2026-11-02", "fiscalDateEnding": "2026-03-31"}


@pytest.fixture
def fleet(shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, alphavantage: FakeServer) -> Fleet:
    # 01:00 UTC on 3 November is still 2 November in New York: the overview's collection day.
    monkeypatch.setattr(pollenate, "utc_now", lambda: COLLECTED_AT)
    return Fleet(shared_tables, monkeypatch, alphavantage_url=alphavantage.url)


@pytest.fixture
def fake(alphavantage: FakeServer) -> AlphaVantageFake:
    service = alphavantage.service
    assert isinstance(service, AlphaVantageFake)
    return service


@pytest.fixture
def writes() -> Counter[str]:
    """DynamoDB write items the handler sends, by table (PutItem, BatchWriteItem and transaction items)."""
    return WriteCounter.on(shared_aws.dynamodb().meta.client).by_table


def pollenation(symbol: str = "IBM", at: str = "2026-11-02T20:00:00Z", **detail: Any) -> dict[str, Any]:
    return eventbridge_event("pollenationNeeded", {"symbol": symbol, "reason": "regular", "requestedAt": at, **detail})


def symbol_rows(fleet: Fleet, table: str, symbol: str = "IBM") -> list[dict[str, Any]]:
    """A symbol's rows, newest first, with the one Query the access pattern promises."""
    response = fleet.table(table).query(KeyConditionExpression=Key("symbol").eq(symbol), ScanIndexForward=False)
    assert "LastEvaluatedKey" not in response
    return list(response["Items"])


def counts(writes: Counter[str], fleet: Fleet) -> dict[str, int]:
    """Writes by catalog table name."""
    physical = {v: k for k, v in fleet.tables.items()}
    return {physical[name]: n for name, n in writes.items()}


def test_first_pollenation_fills_the_five_tables_with_every_field_typed(
    fleet: Fleet, fake: AlphaVantageFake, alphavantage: FakeServer, writes: Counter[str]
) -> None:
    result = fleet.invoke("PollenateAsset", pollenation())

    statements = ANNUAL_REPORTS + QUARTERLY_REPORTS
    expected = {"companyOverview": 1, **dict.fromkeys(STATEMENT_TABLES, statements)}
    assert result["collection"] == "collected" and result["written"] == expected
    # assets: the new row, and (IBM has no row yet) a conditional delete of the never-pollenated
    # key, which finds nothing and proves SyncAssets has not listed the symbol meanwhile.
    assert counts(writes, fleet) == {**expected, "assets": 2}
    assert {t: len(symbol_rows(fleet, t)) for t in expected} == expected
    assert alphavantage.count("/query", symbol="IBM") == len(DATASETS)

    (overview,) = symbol_rows(fleet, "companyOverview")
    assert overview["last_updated"] == "2026-11-02" and overview["Symbol"] == "IBM"
    assert isinstance(overview["MarketCapitalization"], Decimal) or "MarketCapitalization" not in overview
    assert all(value not in ("None", "-", "") for value in overview.values())

    income = symbol_rows(fleet, "incomeStatement")
    keys = [row["fiscal_date_ending"] for row in income]
    assert keys == sorted(keys, reverse=True)  # newest first, one Query
    # The fiscal year end is also a quarter end: both reports are kept, side by side.
    annual = next(row for row in income if row["period"] == "annual")
    quarterly = next(row for row in income if row["fiscal_date_ending"] == f"{annual['fiscalDateEnding']}#quarterly")
    assert annual["fiscal_date_ending"] == f"{annual['fiscalDateEnding']}#annual" and annual != quarterly
    text = {"symbol", "fiscal_date_ending", "period", "fiscalDateEnding", "reportedCurrency"}
    for row in income:
        assert all(isinstance(value, Decimal) for field, value in row.items() if field not in text), row
    # "None" values are left out, not stored as strings.
    document = fake.functions["INCOME_STATEMENT"](
        FakeRequest("GET", "/query", {"function": "INCOME_STATEMENT", "symbol": "IBM"}, {}), fake
    )
    raw = json.loads(document.body)["quarterlyReports"]
    missing = {(r["fiscalDateEnding"], k) for r in raw for k, v in r.items() if v == "None"}
    assert missing, "the fake should leave some statement values empty"
    stored = {row["fiscalDateEnding"]: row for row in income if row["period"] == "quarterly"}
    assert all(field not in stored[day] for day, field in missing)

    earnings = symbol_rows(fleet, "earnings")
    assert {row["reportTime"] for row in earnings if row["period"] == "quarterly"} <= {"pre-market", "post-market"}

    (row,) = [r for r in fleet.rows("assets") if r["symbol"] == "IBM"]
    assert row["collection"] == "collected" and "collectionError" not in row


def test_repeat_pollenation_writes_only_the_overview_and_the_pollenation_row(
    fleet: Fleet, writes: Counter[str]
) -> None:
    # IBM is an active asset (SyncAssets wrote its row), so each pollenation also retires the previous row.
    active = {"symbol": "IBM", "lastPollenationDate": "2026-10-01T20:00:00.000Z", "status": "active", "avgVolume": 1}
    fleet.table("assets").put_item(Item=active)
    fleet.invoke("PollenateAsset", pollenation(at="2026-11-02T20:00:00Z"))
    before = {t: symbol_rows(fleet, t) for t in STATEMENT_TABLES}
    writes.clear()

    result = fleet.invoke("PollenateAsset", pollenation(at="2026-11-03T01:00:00Z"))

    assert result["recorded"] is True
    assert result["written"] == {"companyOverview": 1, **dict.fromkeys(STATEMENT_TABLES, 0)}
    assert counts(writes, fleet) == {"companyOverview": 1, "assets": 2}  # new row + the previous one retired
    assert {t: symbol_rows(fleet, t) for t in STATEMENT_TABLES} == before


def test_a_newly_reported_quarter_writes_only_the_new_reports(
    fleet: Fleet, fake: AlphaVantageFake, writes: Counter[str]
) -> None:
    fleet.invoke("PollenateAsset", pollenation(at="2026-11-02T20:00:00Z"))
    knobs(fake).new_quarters["IBM"] = 1
    writes.clear()

    result = fleet.invoke("PollenateAsset", pollenation(at="2026-11-03T01:00:00Z"))

    written = result["written"]
    assert written["companyOverview"] == 1
    # One new quarterly report per table (plus an annual one when the new quarter closes IBM's fiscal year).
    for table in STATEMENT_TABLES:
        assert 1 <= written[table] <= 2, (table, written)
    assert len(symbol_rows(fleet, "cashFlow")) == ANNUAL_REPORTS + QUARTERLY_REPORTS + written["cashFlow"]


@pytest.mark.parametrize(
    ("configure", "status", "error"),
    [
        (lambda fake: None, "symbolNotFound", "not_found"),
        (lambda fake: knobs(fake).bad_symbols.add("NEWCO"), "badSymbol", "Invalid API call"),
    ],
)
def test_unknown_or_bad_symbol_is_recorded_on_the_pollenation_row_and_not_retried(
    fleet: Fleet,
    fake: AlphaVantageFake,
    alphavantage: FakeServer,
    sleeps: list[float],
    configure: Any,
    status: str,
    error: str,
) -> None:
    configure(fake)
    result = fleet.invoke("PollenateAsset", pollenation(symbol="NEWCO"))

    assert (result["collection"], result["written"], result["recorded"]) == (status, {}, True)
    assert alphavantage.count("/query", symbol="NEWCO") == 1  # stopped at OVERVIEW, no retry
    assert sleeps == []
    (row,) = fleet.rows("assets")
    assert row["collection"] == status and error in row["collectionError"]
    assert "test-av-key-0000" not in row["collectionError"]
    for table in ("companyOverview", *STATEMENT_TABLES):
        assert fleet.rows(table) == []


def always_throttled(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
    return fake.error(Fault.PREMIUM_RATE, request.query["function"])


def test_persistent_throttling_fails_the_invocation_with_nothing_written(
    fleet: Fleet, fake: AlphaVantageFake, alphavantage: FakeServer, sleeps: list[float]
) -> None:
    # OVERVIEW and EARNINGS answer; INCOME_STATEMENT stays throttled through every retry.
    fake.functions["INCOME_STATEMENT"] = always_throttled

    with pytest.raises(ThrottledError, match="INCOME_STATEMENT"):
        fleet.invoke("PollenateAsset", pollenation(reason="earnings", **HELD))

    assert alphavantage.count("/query", function="INCOME_STATEMENT") == 4  # the call and 3 retries
    assert len(sleeps) == 3  # backoff between them
    for table in ("assets", "companyOverview", *STATEMENT_TABLES):
        assert fleet.rows(table) == [], table
    assert fleet.delivered() == []  # no earningsProcessed for data that was not written


def test_a_malformed_response_fails_before_any_write(fleet: Fleet, fake: AlphaVantageFake) -> None:
    def garbled(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
        report = {"fiscalDateEnding": "2026-09-30", "reportedEPS": "about three"}
        return json_response(200, {"symbol": "IBM", "annualEarnings": [report], "quarterlyEarnings": []})

    fake.functions["EARNINGS"] = garbled
    with pytest.raises(ValueError, match=r"EARNINGS for IBM: annualEarnings\[0\]: reportedEPS"):
        fleet.invoke("PollenateAsset", pollenation())
    for table in ("assets", "companyOverview", *STATEMENT_TABLES):
        assert fleet.rows(table) == [], table


def test_earnings_pollenation_emits_earnings_processed_only_after_the_data_is_written(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, int]] = []

    def observed(events: Any) -> int:
        seen.append({t: len(fleet.rows(t)) for t in ("assets", "companyOverview", *STATEMENT_TABLES)})
        return publish(events)

    monkeypatch.setattr(pollenate, "publish", observed)
    result = fleet.invoke("PollenateAsset", pollenation(reason="earnings", **HELD))

    assert result["emitted"] == 1
    (at_publish,) = seen
    assert at_publish["assets"] == 1 and all(at_publish[t] > 0 for t in ("companyOverview", *STATEMENT_TABLES))
    (event,) = fleet.delivered()
    assert event["detail-type"] == "earningsProcessed" and event["detail"]["symbol"] == "IBM"


def test_legacy_balance_sheet_spelling_is_stored_as_the_current_one(fleet: Fleet, fake: AlphaVantageFake) -> None:
    knobs(fake).legacy_balance_sheet_spelling = True
    fleet.invoke("PollenateAsset", pollenation())
    (legacy,) = LEGACY_SPELLINGS
    rows = symbol_rows(fleet, "balanceSheet")
    assert not any(legacy in row for row in rows)
    assert sum("otherNonCurrentAssets" in row for row in rows) > len(rows) // 2  # present unless "None"
    assert set().union(*rows) <= {*BALANCE_SHEET_FIELDS, "symbol", "fiscal_date_ending", "period"}


def test_requests_are_paced_by_the_configured_interval(fleet: Fleet, fake: AlphaVantageFake) -> None:
    clock = fake.clock
    assert isinstance(clock, ManualClock)
    fleet.invoke("PollenateAsset", pollenation())
    interval = parse({}, "Pulumi.test.yaml").alphaVantage.interval_seconds
    # Five requests: the first goes at once, each later one waits out the interval (the clock only
    # moves when something sleeps on it, so each wait is the whole interval).
    assert clock.slept == pytest.approx([interval] * (len(DATASETS) - 1))


def test_pollenation_rejects_a_symbol_before_calling_alphavantage(fleet: Fleet, alphavantage: FakeServer) -> None:
    with pytest.raises(ValueError, match="symbol"):
        fleet.invoke("PollenateAsset", pollenation(symbol="ibm; drop"))
    assert alphavantage.count() == 0


def fake_document(fake: AlphaVantageFake, function: str, symbol: str = "IBM") -> Any:
    request = FakeRequest("GET", "/query", {"function": function, "symbol": symbol}, {})
    return json.loads(fake.functions[function](request, fake).body)


def test_fake_fundamentals_are_stable_string_valued_and_shaped_as_apis_md(fake: AlphaVantageFake) -> None:
    overview = fake_document(fake, "OVERVIEW")
    assert len(overview) == 55 and all(isinstance(v, str) for v in overview.values())
    for function, keys in (("INCOME_STATEMENT", 26), ("BALANCE_SHEET", 38), ("CASH_FLOW", 29)):
        document = fake_document(fake, function)
        assert document == fake_document(fake, function)  # the same answer every call
        annual, quarterly = document["annualReports"], document["quarterlyReports"]
        assert {len(r) for r in annual + quarterly} == {keys}
        assert all(isinstance(v, str) for r in annual + quarterly for v in r.values())
        dates = [r["fiscalDateEnding"] for r in quarterly]
        assert dates == sorted(dates, reverse=True)  # newest first
        assert {r["fiscalDateEnding"] for r in annual} <= set(dates)  # annual and quarterly share dates
    earnings = fake_document(fake, "EARNINGS")
    assert {"reportTime", "surprisePercentage"} <= set(earnings["quarterlyEarnings"][0])
    assert fake_document(fake, "OVERVIEW", "NOPE") == {}


# --- when an earnings pollenation concludes its row, through the fake over HTTP --------------
# The calendar rows come from SyncEarningsCalendar reading the fake; the fake publishes a
# report's quarter in EARNINGS at its report time on its own clock, moved here to each run.

REPORT_DAY = date(2026, 11, 10)  # a Tuesday
NEW_YORK = ZoneInfo("America/New_York")


def new_york(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NEW_YORK).astimezone(UTC)


def run_earnings_chain(fleet: Fleet, fake: AlphaVantageFake, at: datetime, symbol: str) -> str | None:
    """One earnings trigger run at ``at`` with the API as of then, its events fed to their consumers.

    Returns what happened to ``symbol``: None (not asked for), or PollenateAsset's ``earnings``.
    """
    clock = fake.clock
    assert isinstance(clock, ManualClock)
    clock.now = at.timestamp()
    fleet.invoke("TriggerEarningsPollenation", scheduled_event(at))
    outcome = None
    for event in fleet.delivered():
        if event["detail"]["symbol"] == symbol:
            outcome = fleet.invoke("PollenateAsset", event)["earnings"]
    for event in fleet.delivered():
        fleet.invoke("MarkEarningsProcessed", event)
    return outcome


def reporting(fleet: Fleet, fake: AlphaVantageFake, symbol: str, when: str) -> dict[str, Any]:
    """``symbol`` reports on REPORT_DAY at ``when``; the calendar row as synced the morning before."""
    fake.report_on(symbol, REPORT_DAY, when)
    clock = fake.clock
    assert isinstance(clock, ManualClock)
    clock.now = new_york(REPORT_DAY - timedelta(days=1), 6).timestamp()
    fleet.invoke("SyncEarningsCalendar", scheduled_event(datetime.fromtimestamp(clock.now, UTC)))
    (row,) = [r for r in fleet.rows("earningsCalendar") if r["asset_symbol"] == symbol]
    assert (row["earnings_date"], row["timeOfTheDay"]) == (REPORT_DAY.isoformat(), when)
    return row


def calendar_row(fleet: Fleet, symbol: str) -> dict[str, Any]:
    (row,) = [r for r in fleet.rows("earningsCalendar") if r["asset_symbol"] == symbol]
    return row


def test_a_post_market_reporter_is_collected_the_next_morning_and_then_marked(
    fleet: Fleet, fake: AlphaVantageFake
) -> None:
    reporting(fleet, fake, "IBM", "post-market")
    assert run_earnings_chain(fleet, fake, new_york(REPORT_DAY, 7), "IBM") is None  # not out yet
    assert run_earnings_chain(fleet, fake, new_york(REPORT_DAY + timedelta(days=1), 7), "IBM") == "processed"
    row = calendar_row(fleet, "IBM")
    assert row["processed"] is True and "unpublishedAt" not in row
    (quarter,) = [
        r for r in symbol_rows(fleet, "earnings") if r["fiscal_date_ending"] == f"{row['fiscalDateEnding']}#quarterly"
    ]
    assert quarter["reportedDate"] == REPORT_DAY.isoformat() and quarter["reportTime"] == "post-market"
    assert run_earnings_chain(fleet, fake, new_york(REPORT_DAY + timedelta(days=2), 7), "IBM") is None


def test_a_pre_market_reporter_is_collected_from_the_open(fleet: Fleet, fake: AlphaVantageFake) -> None:
    reporting(fleet, fake, "IBM", "pre-market")
    assert run_earnings_chain(fleet, fake, new_york(REPORT_DAY, 7), "IBM") is None
    assert run_earnings_chain(fleet, fake, new_york(REPORT_DAY, 9, 30), "IBM") == "processed"
    assert calendar_row(fleet, "IBM")["processed"] is True


def test_a_late_publication_is_retried_by_later_runs_until_earnings_holds_it(
    fleet: Fleet, fake: AlphaVantageFake
) -> None:
    reporting(fleet, fake, "IBM", "post-market")
    fake.delay_publication("IBM", timedelta(days=2))  # in EARNINGS on the 12th at 16:30
    outcomes = [run_earnings_chain(fleet, fake, new_york(REPORT_DAY + timedelta(days=d), 7), "IBM") for d in (1, 2, 3)]
    assert outcomes == ["notYetPublished", "notYetPublished", "processed"]
    assert calendar_row(fleet, "IBM")["processed"] is True


def test_a_quarter_never_published_within_five_days_is_marked_unpublished(fleet: Fleet, fake: AlphaVantageFake) -> None:
    reporting(fleet, fake, "IBM", "post-market")
    fake.delay_publication("IBM", timedelta(days=30))
    days = range(1, 7)
    outcomes = [run_earnings_chain(fleet, fake, new_york(REPORT_DAY + timedelta(days=d), 7), "IBM") for d in days]
    # Days 1-4 retry, day 5 concludes, day 6 no longer asks.
    assert outcomes == ["notYetPublished"] * 4 + ["unpublished", None]
    row = calendar_row(fleet, "IBM")
    assert "processed" not in row and row["unpublishedAt"] == "2026-11-03T01:00:00.000Z"  # PollenateAsset's now
