"""The AlphaVantage fake itself: the shapes, encodings and filters apis.md Part C asks of it (over real HTTP)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import urllib3

from signal9_tools.fakes.alphavantage import FAKE_API_KEY, AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault, error_body
from signal9_tools.fakes.news import OTHER_TICKERS, RELEVANCE_DEFINITION, SENTIMENT_DEFINITION
from signal9_tools.fakes.server import FakeServer, serving
from tests.av_support import ManualClock

NOW = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)


@pytest.fixture
def fake() -> AlphaVantageFake:
    return AlphaVantageFake(20, clock=ManualClock.at(NOW), articles_per_hour=30)


@pytest.fixture
def server(fake: AlphaVantageFake) -> Iterator[FakeServer]:
    with serving(fake) as running:
        yield running


def get(server: FakeServer, **query: str) -> urllib3.BaseHTTPResponse:
    return urllib3.request("GET", f"{server.url}/query", fields={"apikey": FAKE_API_KEY, **query})


def news(server: FakeServer, **query: str) -> dict[str, Any]:
    response = get(server, function="NEWS_SENTIMENT", **query)
    assert response.status == 200 and response.headers["Content-Type"].startswith("application/json")
    document: dict[str, Any] = json.loads(response.data)
    return document


def test_news_shape_and_encodings(server: FakeServer) -> None:
    document = news(server, limit="5")
    assert set(document) == {"items", "sentiment_score_definition", "relevance_score_definition", "feed"}
    assert document["items"] == "5" and len(document["feed"]) == 5
    assert document["sentiment_score_definition"] == SENTIMENT_DEFINITION and "Somewhat_Bullish" in SENTIMENT_DEFINITION
    assert document["relevance_score_definition"] == RELEVANCE_DEFINITION
    for article in document["feed"]:
        assert isinstance(article["overall_sentiment_score"], float)
        datetime.strptime(article["time_published"], "%Y%m%dT%H%M%S")
        assert all(isinstance(t["relevance_score"], str) for t in article["topics"])
        for entry in article["ticker_sentiment"]:
            assert all(isinstance(entry[k], str) for k in ("ticker", "relevance_score", "ticker_sentiment_score"))
            assert entry["ticker_sentiment_label"] in {
                "Bearish",
                "Somewhat-Bearish",
                "Neutral",
                "Somewhat-Bullish",
                "Bullish",
            }


def test_news_latest_first_by_default_and_earliest_on_request(server: FakeServer) -> None:
    latest = [a["time_published"] for a in news(server, limit="50")["feed"]]
    earliest = [a["time_published"] for a in news(server, limit="50", sort="EARLIEST")["feed"]]
    assert latest == sorted(latest, reverse=True) and earliest == sorted(earliest)
    assert latest[0] <= NOW.strftime("%Y%m%dT%H%M%S")  # nothing from the future
    assert earliest[-1] < latest[-1]


def test_news_time_window_and_the_1000_article_cap(server: FakeServer) -> None:
    window = news(server, time_from="20261101T0000", time_to="20261101T2359", limit="1000", sort="EARLIEST")
    assert window["items"] == str(24 * 30) and all(a["time_published"].startswith("20261101") for a in window["feed"])
    capped = news(server, time_from="20261020T0000", limit="5000")
    assert capped["items"] == "1000"


def test_news_tickers_are_an_and_filter(server: FakeServer) -> None:
    feed = news(server, limit="1000", time_from="20261025T0000")["feed"]
    pair = next([e["ticker"] for e in a["ticker_sentiment"][:2]] for a in feed if len(a["ticker_sentiment"]) >= 2)
    both = news(server, tickers=",".join(pair), limit="1000", time_from="20261025T0000")["feed"]
    one = news(server, tickers=pair[0], limit="1000", time_from="20261025T0000")["feed"]
    assert both and len(both) < len(one)
    assert all(set(pair) <= {e["ticker"] for e in a["ticker_sentiment"]} for a in both)


def test_news_mentions_tickers_outside_the_universe(fake: AlphaVantageFake, server: FakeServer) -> None:
    feed = news(server, limit="1000")["feed"]
    mentioned = {e["ticker"] for a in feed for e in a["ticker_sentiment"]}
    assert set(OTHER_TICKERS) <= mentioned
    assert mentioned - set(OTHER_TICKERS) <= {c.symbol for c in fake.companies}


def test_news_spells_share_classes_with_a_hyphen(fake: AlphaVantageFake, server: FakeServer) -> None:
    # apis.md B11: AlphaVantage writes BRK-B where Alpaca writes BRK.B; the dot form is unknown to it.
    feed = news(server, limit="1000", time_from="20261020T0000")["feed"]
    mentioned = {e["ticker"] for a in feed for e in a["ticker_sentiment"]}
    assert {"BRK-B", "GRP-U", "BF-B"} <= mentioned and not any("." in t for t in mentioned)
    assert news(server, tickers="BRK-B", limit="5")["feed"]
    assert news(server, tickers="BRK.B") == error_body(Fault.INVALID_INPUTS, function="", api_key="")
    assert fake.listed_symbols["BRK-B"] == "BRK.B" and fake.listed_symbols["AAPL"] == "AAPL"


def test_news_clock_zone_is_the_zone_of_every_time_the_feed_reads_and_writes() -> None:
    """``clock_zone="America/New_York"``: the same articles, timed in New York wall time, windows read there too."""
    feeds = {}
    # 1 November 2026 is the day New York leaves daylight saving: 25 hours of news there.
    for zone, hours in (("UTC", 24), ("America/New_York", 25)):
        with serving(AlphaVantageFake(20, clock=ManualClock.at(NOW), articles_per_hour=30, clock_zone=zone)) as server:
            window = news(server, time_from="20261101T0000", time_to="20261101T2359", limit="1000", sort="EARLIEST")
            assert window["items"] == str(hours * 30)
            assert all(a["time_published"].startswith("20261101") for a in window["feed"])
            feeds[zone] = {a["url"]: a["time_published"] for a in news(server, limit="1000")["feed"]}
    assert feeds["UTC"].keys() == feeds["America/New_York"].keys()
    for url, utc in feeds["UTC"].items():  # 2 November 2026: New York is on EST, UTC-5
        new_york = datetime.strptime(feeds["America/New_York"][url], "%Y%m%dT%H%M%S")
        assert datetime.strptime(utc, "%Y%m%dT%H%M%S") - new_york == timedelta(hours=5)


@pytest.mark.parametrize(
    "query",
    [{"tickers": "NOSUCH"}, {"time_from": "2026-11-01"}, {"sort": "RANDOM"}, {"limit": "many"}, {"topics": "sports"}],
)
def test_news_invalid_inputs(server: FakeServer, query: dict[str, str]) -> None:
    assert news(server, **query) == error_body(Fault.INVALID_INPUTS, function="", api_key="")


def test_news_nothing_in_the_window(server: FakeServer) -> None:
    future = (NOW + timedelta(hours=2)).strftime("%Y%m%dT%H%M")
    assert news(server, time_from=future)["Information"].startswith("No articles found.")


def test_unknown_parameters_are_ignored_and_the_key_is_required(server: FakeServer) -> None:
    assert news(server, limit="3", source="alphavantagemcp", entitlement="delayed")["items"] == "3"
    response = urllib3.request("GET", f"{server.url}/query", fields={"function": "NEWS_SENTIMENT"})
    assert response.status == 200 and "apikey is invalid or missing" in json.loads(response.data)["Error Message"]
    assert all("apikey" not in r.query for r in server.requests)


def test_calendar_horizon_and_moved_reports(fake: AlphaVantageFake, server: FakeServer) -> None:
    def dates(horizon: str, symbol: str) -> list[str]:
        body = get(server, function="EARNINGS_CALENDAR", horizon=horizon, symbol=symbol).data.decode()
        return [row["reportDate"] for row in csv.DictReader(io.StringIO(body, newline=""))]

    three, twelve = dates("3month", "AAPL"), dates("12month", "AAPL")
    assert len(three) == 1 and len(twelve) == 4 and three[0] == twelve[0]
    fake.move_report("AAPL", 7)
    assert dates("3month", "AAPL") != three
    assert "Invalid API call" in get(server, function="EARNINGS_CALENDAR", horizon="3months").data.decode()
    # A report arranged on a given day (the local smoke arranges reporters on its trigger's run day).
    today = fake.now().date()
    for days_ahead in (0, 1, 45, 89):
        fake.report_on("MSFT", today + timedelta(days=days_ahead))
        assert dates("3month", "MSFT")[0] == (today + timedelta(days=days_ahead)).isoformat()


@pytest.mark.parametrize(
    ("when", "published"),
    [("pre-market", (8, 0)), ("post-market", (16, 30)), ("", (16, 30))],  # no time given: after the close
)
def test_earnings_holds_a_reported_quarter_only_from_its_report_time(
    fake: AlphaVantageFake, server: FakeServer, when: str, published: tuple[int, int]
) -> None:
    clock = fake.clock
    assert isinstance(clock, ManualClock)
    day = NOW.date() + timedelta(days=3)
    fake.report_on("AAPL", day, when)
    body = get(server, function="EARNINGS_CALENDAR", symbol="AAPL").data.decode()
    (row,) = [r for r in csv.DictReader(io.StringIO(body, newline="")) if r["reportDate"] == day.isoformat()]
    assert row["timeOfTheDay"] == when
    out = datetime.combine(day, time(*published), tzinfo=ZoneInfo("America/New_York"))

    def head() -> dict[str, str]:
        quarters: list[dict[str, str]] = json.loads(get(server, function="EARNINGS", symbol="AAPL").data)[
            "quarterlyEarnings"
        ]
        return quarters[0]

    clock.now = out.timestamp() - 1
    assert head()["fiscalDateEnding"] < row["fiscalDateEnding"]
    clock.now = out.timestamp()
    assert head()["fiscalDateEnding"] == row["fiscalDateEnding"]
    assert (head()["reportedDate"], head()["reportTime"]) == (day.isoformat(), when or "post-market")
    statement = json.loads(get(server, function="INCOME_STATEMENT", symbol="AAPL").data)
    assert statement["quarterlyReports"][0]["fiscalDateEnding"] == row["fiscalDateEnding"]
    fake.delay_publication("AAPL", timedelta(days=2))  # a late publication: out of EARNINGS again until then
    assert head()["fiscalDateEnding"] < row["fiscalDateEnding"]
    clock.now = (out + timedelta(days=2)).timestamp()
    assert head()["fiscalDateEnding"] == row["fiscalDateEnding"]


def test_the_fake_is_deterministic() -> None:
    documents = []
    for _ in range(2):
        fake = AlphaVantageFake(20, clock=ManualClock.at(NOW))
        with serving(fake) as server:
            documents.append((news(server, limit="20"), get(server, function="EARNINGS_CALENDAR").data))
    assert documents[0] == documents[1]
