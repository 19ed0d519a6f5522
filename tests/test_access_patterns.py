"""Every access pattern in SPEC.md served by Query or GetItem, never Scan.

The tables are created in moto from the very inputs the program registered
(``shared_tables``), loaded with sample rows, then queried the way the handlers will.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

Tables = dict[str, Any]


@pytest.fixture
def tables(shared_tables: dict[str, str]) -> Tables:
    """Sample rows in every table; Scan is made to fail so no pattern can rely on it."""
    resource = boto3.resource("dynamodb")
    handles = {name: resource.Table(physical) for name, physical in shared_tables.items()}
    rows: dict[str, list[dict[str, Any]]] = {
        "assets": [
            {
                "symbol": "AAPL",
                "lastPollenationDate": "2026-11-20",
                "status": "active",
                "avgVolume": Decimal(50_000_000),
            },
            {
                "symbol": "AAPL",
                "lastPollenationDate": "2026-11-27",
                "status": "active",
                "avgVolume": Decimal(52_000_000),
            },
            {
                "symbol": "MSFT",
                "lastPollenationDate": "2026-11-10",
                "status": "active",
                "avgVolume": Decimal(20_000_000),
            },
            {
                "symbol": "TSLA",
                "lastPollenationDate": "2026-11-25",
                "status": "active",
                "avgVolume": Decimal(90_000_000),
            },
            {"symbol": "OLD", "lastPollenationDate": "2020-01-01", "status": "inactive", "avgVolume": Decimal(1)},
        ],
        "earningsCalendar": [
            {"asset_symbol": "AAPL", "earnings_date": "2026-10-30"},
            {"asset_symbol": "AAPL", "earnings_date": "2027-01-29"},
            {"asset_symbol": "AAPL", "earnings_date": "2027-04-30"},
            {"asset_symbol": "MSFT", "earnings_date": "2027-01-29"},
            {"asset_symbol": "TSLA", "earnings_date": "2027-01-22"},
        ],
        "newsSentiment": [
            {
                "news_id": "n1",
                "time_published": "20261127T090000",
                "asset_symbol": "AAPL",
                "sentiment_score": Decimal("0.8"),
            },
            {
                "news_id": "n2",
                "time_published": "20261128T090000",
                "asset_symbol": "AAPL",
                "sentiment_score": Decimal("-0.6"),
            },
            {
                "news_id": "n3",
                "time_published": "20261126T090000",
                "asset_symbol": "AAPL",
                "sentiment_score": Decimal("0.1"),
            },
            {
                "news_id": "n4",
                "time_published": "20261128T100000",
                "asset_symbol": "MSFT",
                "sentiment_score": Decimal("0.9"),
            },
        ],
        "companyOverview": [
            {"symbol": "AAPL", "last_updated": "2026-11-01", "name": "Apple v1"},
            {"symbol": "AAPL", "last_updated": "2026-11-28", "name": "Apple v2"},
        ],
    }
    for statement in ("earnings", "cashFlow", "balanceSheet", "incomeStatement"):
        rows[statement] = [
            {"symbol": "AAPL", "fiscal_date_ending": date} for date in ("2026-03-31", "2026-06-30", "2026-09-30")
        ] + [{"symbol": "MSFT", "fiscal_date_ending": "2026-09-30"}]
    for name, items in rows.items():
        with handles[name].batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)

    def no_scan(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("access patterns must use Query or GetItem, never Scan")

    for handle in handles.values():
        handle.scan = no_scan  # type: ignore[method-assign, assignment]
    return handles


def symbols(items: list[dict[str, Any]], field: str = "symbol") -> list[str]:
    return [item[field] for item in items]


def test_latest_pollenation_row_of_a_symbol(tables: Tables) -> None:
    result = tables["assets"].query(KeyConditionExpression=Key("symbol").eq("AAPL"), ScanIndexForward=False, Limit=1)
    assert [(i["symbol"], i["lastPollenationDate"]) for i in result["Items"]] == [("AAPL", "2026-11-27")]


def test_active_assets_least_recently_pollenated_first(tables: Tables) -> None:
    result = tables["assets"].query(IndexName="status-index", KeyConditionExpression=Key("status").eq("active"))
    assert [i["lastPollenationDate"] for i in result["Items"]] == [
        "2026-11-10",
        "2026-11-20",
        "2026-11-25",
        "2026-11-27",
    ]
    assert symbols(result["Items"])[0] == "MSFT"


def test_active_assets_by_volume_highest_first(tables: Tables) -> None:
    result = tables["assets"].query(
        IndexName="volume-index", KeyConditionExpression=Key("status").eq("active"), ScanIndexForward=False
    )
    assert [int(i["avgVolume"]) for i in result["Items"]] == [90_000_000, 52_000_000, 50_000_000, 20_000_000]
    assert "OLD" not in symbols(result["Items"])


def test_a_symbols_next_earnings(tables: Tables) -> None:
    result = tables["earningsCalendar"].query(
        KeyConditionExpression=Key("asset_symbol").eq("AAPL") & Key("earnings_date").gte("2026-11-29"), Limit=1
    )
    assert [i["earnings_date"] for i in result["Items"]] == ["2027-01-29"]


def test_everyone_reporting_on_a_date(tables: Tables) -> None:
    result = tables["earningsCalendar"].query(
        IndexName="upcoming-earnings-index", KeyConditionExpression=Key("earnings_date").eq("2027-01-29")
    )
    assert symbols(result["Items"], "asset_symbol") == ["AAPL", "MSFT"]


def test_newest_news_of_a_symbol(tables: Tables) -> None:
    result = tables["newsSentiment"].query(
        IndexName="asset-news-index", KeyConditionExpression=Key("asset_symbol").eq("AAPL"), ScanIndexForward=False
    )
    assert symbols(result["Items"], "news_id") == ["n2", "n1", "n3"]


@pytest.mark.parametrize(("most_positive", "expected"), [(True, "n1"), (False, "n2")], ids=["positive", "negative"])
def test_a_symbols_most_positive_and_most_negative_news(tables: Tables, most_positive: bool, expected: str) -> None:
    result = tables["newsSentiment"].query(
        IndexName="sentiment-score-index",
        KeyConditionExpression=Key("asset_symbol").eq("AAPL"),
        ScanIndexForward=not most_positive,
        Limit=1,
    )
    assert symbols(result["Items"], "news_id") == [expected]


def test_a_symbols_latest_overview(tables: Tables) -> None:
    result = tables["companyOverview"].query(
        KeyConditionExpression=Key("symbol").eq("AAPL"), ScanIndexForward=False, Limit=1
    )
    assert [i["name"] for i in result["Items"]] == ["Apple v2"]


@pytest.mark.parametrize("statement", ["earnings", "cashFlow", "balanceSheet", "incomeStatement"])
def test_a_symbols_statements_newest_first(tables: Tables, statement: str) -> None:
    result = tables[statement].query(KeyConditionExpression=Key("symbol").eq("AAPL"), ScanIndexForward=False)
    assert [i["fiscal_date_ending"] for i in result["Items"]] == ["2026-09-30", "2026-06-30", "2026-03-31"]
    one = tables[statement].get_item(Key={"symbol": "AAPL", "fiscal_date_ending": "2026-06-30"})
    assert one["Item"]["symbol"] == "AAPL"


def test_moto_accepted_the_programs_table_inputs(shared_tables: dict[str, str]) -> None:
    client = boto3.client("dynamodb")
    for physical in shared_tables.values():
        description = client.describe_table(TableName=physical)["Table"]
        assert description["TableStatus"] == "ACTIVE"
        assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        backups = client.describe_continuous_backups(TableName=physical)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
