"""Share classes: Alpaca's ``BRK.B`` is AlphaVantage's ``BRK-B`` (apis.md B11), mapped in one place.

Signal9 stores Alpaca's form; every AlphaVantage request is sent in the hyphen form and every
symbol AlphaVantage returns is read back in Alpaca's form, whichever form it arrives in. The
AlphaVantage fake spells share classes its own way (hyphen) and does not know the dot form.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from functions.pollenate_asset import handler as pollenate
from functions.shared import aws as shared_aws
from functions.shared.alphavantage import SymbolNotFoundError
from functions.shared.symbols import from_alphavantage, to_alphavantage
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.server import FakeRequest, FakeServer, serving
from tests.av_support import ManualClock, client_for
from tests.handler_support import Fleet, WriteCounter, eventbridge_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.mark.parametrize(
    ("alpaca", "alphavantage"),
    [("BRK.B", "BRK-B"), ("BF.B", "BF-B"), ("GRP.U", "GRP-U"), ("AAPL", "AAPL"), ("IBM", "IBM")],
)
def test_both_directions(alpaca: str, alphavantage: str) -> None:
    assert to_alphavantage(alpaca) == alphavantage
    assert from_alphavantage(alphavantage) == alpaca
    assert from_alphavantage(alpaca) == alpaca  # AlphaVantage may return either form: both are read
    assert to_alphavantage(alphavantage) == alphavantage  # sending is idempotent


def test_tickers_that_are_not_share_classes_pass_through() -> None:
    for ticker in ("CRYPTO:BTC", "FOREX:USD", "TCEHY"):
        assert from_alphavantage(ticker) == ticker and to_alphavantage(ticker) == ticker


def test_the_client_sends_the_hyphen_form() -> None:
    clock = ManualClock.at(datetime(2026, 11, 2, 20, 0, tzinfo=UTC))
    fake = AlphaVantageFake(12, clock=clock)
    # The fake, like AlphaVantage, does not know the dot form: {} when it is sent as is.
    assert fake.functions["OVERVIEW"](FakeRequest("GET", "/query", {"symbol": "BRK.B"}, {}), fake).body == b"{}"
    with serving(fake) as server:
        client = client_for(server, clock)
        assert client.json("OVERVIEW", symbol="BRK.B")["Name"] == "Berkshire Hathaway Inc. Class B"
        assert client.json("EARNINGS", symbol="GRP.U")["symbol"] == "GRP-U"
        assert [r.query["symbol"] for r in server.requests] == ["BRK-B", "GRP-U"]
        with pytest.raises(SymbolNotFoundError):
            client.json("OVERVIEW", symbol="NOSUCH")


@pytest.fixture
def fleet(shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, alphavantage: FakeServer) -> Fleet:
    monkeypatch.setattr(pollenate, "utc_now", lambda: datetime(2026, 11, 3, 1, 0, tzinfo=UTC))
    return Fleet(shared_tables, monkeypatch, alphavantage_url=alphavantage.url)


@pytest.mark.parametrize("symbol", ["BRK.B", "GRP.U", "BF.B"])
def test_pollenate_asset_collects_a_share_class_under_alpacas_symbol(
    fleet: Fleet, alphavantage: FakeServer, symbol: str
) -> None:
    writes: Counter[str] = WriteCounter.on(shared_aws.dynamodb().meta.client).by_table
    event: dict[str, Any] = eventbridge_event(
        "pollenationNeeded", {"symbol": symbol, "reason": "regular", "requestedAt": "2026-11-02T20:00:00Z"}
    )
    result = fleet.invoke("PollenateAsset", event)
    assert result["collection"] == "collected", result
    sent = {r.query["symbol"] for r in alphavantage.requests if "symbol" in r.query}
    assert sent == {to_alphavantage(symbol)} and "." not in to_alphavantage(symbol)
    # Stored under Alpaca's symbol, in every table.
    overview = fleet.table("companyOverview").get_item(Key={"symbol": symbol, "last_updated": "2026-11-02"})
    assert overview["Item"]["Symbol"] == symbol  # the API's own field too
    for name in ("earnings", "incomeStatement", "balanceSheet", "cashFlow"):
        rows = fleet.table(name).query(KeyConditionExpression=Key("symbol").eq(symbol))["Items"]
        assert rows and writes[fleet.tables[name]] == len(rows)
