"""SyncNewsSentiment on moto against the AlphaVantage fake over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from functions.shared.alphavantage import DailyQuotaError, InvalidApiKeyError
from functions.shared.scheduled import scheduler_input_json
from functions.shared.telemetry import FreshnessMetric
from functions.sync_news_sentiment import handler as news_handler
from functions.sync_news_sentiment.handler import FIRST_RUN_LOOKBACK, REREAD_OVERLAP, WATERMARK_KEY
from signal9.cron import next_fire
from signal9_tools.emulator.schedule_checks import scheduler_delivery
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.server import FakeServer
from signal9_tools.fakes.universe import universe
from tests import handler_support
from tests.av_support import ManualClock, collector_fleet, count_writes
from tests.handler_support import Fleet, record_gauges, scheduled_event

# Powertools warns when a failed invocation added no custom metric; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# Monday 2 November 2026, 10:00 UTC: an hourly run.
RUN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
UNIVERSE = 25
SIGNAL9 = 15  # the first 15 fake companies are active Signal9 assets; the other 10 are not


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock.at(RUN)


@pytest.fixture
def clock_zone() -> str:
    """The zone of AlphaVantage's news clock (undocumented, apis.md B2); tests parametrize it."""
    return "UTC"


@pytest.fixture
def fake(clock: ManualClock, clock_zone: str) -> AlphaVantageFake:
    return AlphaVantageFake(UNIVERSE, clock=clock, articles_per_hour=8, clock_zone=clock_zone)


# Signal9's assets as Alpaca lists them (BRK.B, GRP.U, BF.B among them); the fake spells them its own way.
ASSETS = [company.symbol for company in universe(UNIVERSE)]


@pytest.fixture
def env(
    shared_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, fake: AlphaVantageFake
) -> Iterator[tuple[Fleet, FakeServer]]:
    with collector_fleet(shared_tables, monkeypatch, fake) as (fleet, server):
        with fleet.table("assets").batch_writer() as assets:  # one BatchWriteItem, not 17 PutItem calls
            for symbol in ASSETS[:SIGNAL9]:
                assets.put_item(
                    Item={
                        "symbol": symbol,
                        "lastPollenationDate": "2026-10-01T20:00:00.000Z",
                        "status": "active",
                        "avgVolume": Decimal(1000),
                    }
                )
            # An older pollenation row of an active asset, and an inactive asset: neither is in status-index.
            assets.put_item(Item={"symbol": ASSETS[0], "lastPollenationDate": "2026-09-01"})
            assets.put_item(Item={"symbol": ASSETS[SIGNAL9], "lastPollenationDate": "2026-10-01"})
        yield fleet, server


def run(fleet: Fleet, clock: ManualClock, when: datetime) -> dict[str, Any]:
    clock.now = when.timestamp()
    result: dict[str, Any] = fleet.invoke("SyncNewsSentiment", scheduled_event(when))
    return result


def news_items(fleet: Fleet) -> list[dict[str, Any]]:
    """Every stored item but the watermark (a paged Scan: Fleet.rows reads one 1 MB page only)."""
    news = fleet.table("newsSentiment")
    page = news.scan()
    rows = page["Items"]
    while "LastEvaluatedKey" in page:
        page = news.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        rows.extend(page["Items"])
    return [row for row in rows if row["news_id"] != WATERMARK_KEY["news_id"]]


def expected_items(fake: AlphaVantageFake, start: datetime, end: datetime) -> set[tuple[str, str]]:
    """(url, Alpaca symbol) of every Signal9 mention the fake published in [start, end] (end = the fake's now)."""
    signal9 = set(ASSETS[:SIGNAL9])
    hours = range(int(start.timestamp()) // 3600, int(end.timestamp()) // 3600 + 1)
    return {
        (a.document["url"], symbol)
        for h in hours
        for a in fake.articles(h)
        if start <= a.published <= end
        for symbol in (fake.listed_symbols.get(ticker) for ticker in a.tickers)
        if symbol in signal9
    }


def test_first_run_stores_one_item_per_signal9_ticker_of_each_article(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, server = env
    result = run(fleet, clock, RUN)
    items = news_items(fleet)
    assert {(i["url"], i["asset_symbol"]) for i in items} == expected_items(fake, RUN - FIRST_RUN_LOOKBACK, RUN)
    assert result["written"] == len(items) and result["complete"] is True and result["calls"] == 1
    assert {i["asset_symbol"] for i in items} <= set(ASSETS[:SIGNAL9])
    # Market-wide, oldest first, from the last 24 hours (the API ANDs a tickers list, so none is sent).
    (request,) = [r.query for r in server.requests]
    assert "tickers" not in request and request["sort"] == "EARLIEST" and request["limit"] == "1000"
    assert request["time_from"] == "20261101T1000" and request["time_to"] == "20261102T1000"


def test_items_carry_the_tickers_own_score_and_the_articles_fields(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, _ = env
    run(fleet, clock, RUN)
    item = news_items(fleet)[0]
    article = next(
        a
        for h in range(int(RUN.timestamp()) // 3600 - 25, int(RUN.timestamp()) // 3600 + 1)
        for a in fake.articles(h)
        if a.document["url"] == item["url"]
    )
    document = article.document
    entry = next(
        e for e in document["ticker_sentiment"] if fake.listed_symbols.get(e["ticker"]) == item["asset_symbol"]
    )
    assert item["sentiment_score"] == Decimal(entry["ticker_sentiment_score"])
    assert item["relevance_score"] == Decimal(entry["relevance_score"])
    assert item["sentiment_label"] == entry["ticker_sentiment_label"]
    assert item["overall_sentiment_score"] == Decimal(str(document["overall_sentiment_score"]))
    assert item["time_published"] == article.published.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert item["news_id"] == f"{item['article_id']}#{item['asset_symbol']}" and len(item["article_id"]) == 32
    for name in ("title", "source", "summary", "authors", "overall_sentiment_label"):
        assert item[name] == document[name]
    assert item["topics"] == [
        {"topic": t["topic"], "relevance_score": Decimal(t["relevance_score"])} for t in document["topics"]
    ]


def test_share_classes_are_stored_as_alpaca_spells_them(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    """The feed's tickers are BRK-B, GRP-U, BF-B (apis.md B11); the assets are BRK.B, GRP.U, BF.B."""
    fleet, _ = env
    run(fleet, clock, RUN)
    stored = {i["asset_symbol"] for i in news_items(fleet)}
    assert {"BRK.B", "GRP.U", "BF.B"} <= stored and not any("-" in symbol for symbol in stored)


def test_rereading_writes_nothing_and_the_next_hour_adds_only_new_articles(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, _ = env
    run(fleet, clock, RUN)
    before = news_items(fleet)
    writes = count_writes(fleet)
    again = run(fleet, clock, RUN)
    assert again["written"] == 0 and again["unchanged"] > 0 and news_items(fleet) == before
    assert writes == []  # not even the watermark: no article newer than it
    later = run(fleet, clock, RUN + timedelta(hours=1))
    expected = expected_items(fake, RUN - FIRST_RUN_LOOKBACK, RUN + timedelta(hours=1))
    assert {(i["url"], i["asset_symbol"]) for i in news_items(fleet)} == expected
    assert later["written"] == len(expected) - len(before)


def test_a_failed_run_loses_no_article_once_a_later_run_succeeds(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, _ = env
    run(fleet, clock, RUN)
    fake.inject(Fault.DAILY_QUOTA)
    with pytest.raises(DailyQuotaError):
        run(fleet, clock, RUN + timedelta(hours=1))
    fake.inject(Fault.INVALID_INPUTS)  # and the 12:00 run fails too
    with pytest.raises(Exception, match="Invalid inputs"):
        run(fleet, clock, RUN + timedelta(hours=2))
    # A day and more of failures: the next success still starts from the watermark, not 24 hours back.
    later = RUN + FIRST_RUN_LOOKBACK + timedelta(hours=6)
    run(fleet, clock, later)
    expected = expected_items(fake, RUN - FIRST_RUN_LOOKBACK, later)
    assert {(i["url"], i["asset_symbol"]) for i in news_items(fleet)} == expected


def test_more_than_1000_articles_are_paged_through_time_windows(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, server = env
    fake.articles_per_hour = 50  # 1,200 articles in the first run's 24 hours
    result = run(fleet, clock, RUN)
    assert result["fetched"] > 1200 and result["calls"] == server.count("/query") >= 2
    windows = [r.query["time_from"] for r in server.requests]
    assert windows == sorted(windows) and len(set(windows)) == len(windows)
    expected = expected_items(fake, RUN - FIRST_RUN_LOOKBACK, RUN)
    assert {(i["url"], i["asset_symbol"]) for i in news_items(fleet)} == expected
    assert len(expected) > 1000


def test_a_run_near_its_timeout_stops_between_pages_and_the_next_run_continues(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, server = env
    fake.articles_per_hour = 50

    class ShortOnTime:
        """The Lambda context, with time for one page only."""

        def __init__(self, context: Any) -> None:
            self._context = context
            self.pages = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._context, name)

        def get_remaining_time_in_millis(self) -> int:
            self.pages += 1
            return 120_000 if self.pages == 1 else 1_000

    normal = handler_support.context_for
    monkeypatch.setattr(handler_support, "context_for", lambda function: ShortOnTime(normal(function)))
    first = run(fleet, clock, RUN)
    assert first["calls"] == 1 and first["complete"] is False
    monkeypatch.setattr(handler_support, "context_for", normal)
    second = run(fleet, clock, RUN)
    assert second["complete"] is True
    # The second run started where the first stopped (less the re-read overlap), not 24 hours back.
    assert server.requests[1].query["time_from"] > server.requests[0].query["time_from"]
    expected = expected_items(fake, RUN - FIRST_RUN_LOOKBACK, RUN)
    assert {(i["url"], i["asset_symbol"]) for i in news_items(fleet)} == expected


def newest_published(fake: AlphaVantageFake, until: datetime) -> datetime:
    """The newest article the fake published by ``until``."""
    hour = int(until.timestamp()) // 3600
    return max(a.published for h in (hour - 1, hour) for a in fake.articles(h) if a.published <= until)


def test_the_watermark_is_the_newest_article_read_and_resumes_with_the_overlap(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, server = env
    run(fleet, clock, RUN)
    first = newest_published(fake, RUN)
    run(fleet, clock, RUN + timedelta(hours=1))
    resumed = first.replace(second=0) - REREAD_OVERLAP
    assert server.requests[-1].query["time_from"] == resumed.strftime("%Y%m%dT%H%M")
    (mark,) = [r for r in fleet.rows("newsSentiment") if r["news_id"] == WATERMARK_KEY["news_id"]]
    newest = newest_published(fake, RUN + timedelta(hours=1))
    assert mark["newestPublished"] == newest.strftime("%Y%m%dT%H%M%S") and "asset_symbol" not in mark


def test_no_articles_in_the_window_is_a_clean_run(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, _ = env
    fake.inject(Fault.NO_ARTICLES)
    result = run(fleet, clock, RUN)
    assert result["fetched"] == result["written"] == 0 and result["complete"] is True


def test_an_invalid_article_is_skipped_and_the_rest_stored(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, _ = env
    original = fake.functions["NEWS_SENTIMENT"]

    def one_broken(request: Any, fake: AlphaVantageFake) -> Any:
        import json

        from signal9_tools.fakes.server import json_response

        document = json.loads(original(request, fake).body)
        document["feed"][0]["time_published"] = "yesterday"
        return json_response(200, document)

    fake.functions["NEWS_SENTIMENT"] = one_broken
    result = run(fleet, clock, RUN)
    assert result["skipped"] == 1 and result["written"] > 0


def test_invalid_key_fails_and_writes_nothing(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    fleet, _ = env
    fake.inject(Fault.INVALID_KEY)
    with pytest.raises(InvalidApiKeyError):
        run(fleet, clock, RUN)
    assert fleet.rows("newsSentiment") == []


def test_unpageable_minute_is_counted_and_skipped() -> None:
    outcome = news_handler.Outcome()
    start = RUN.replace(tzinfo=None)  # the API's clock: no zone
    assert news_handler.next_start([], start, outcome) == start + timedelta(minutes=1)
    assert outcome.unpaged_minutes == 1


@pytest.mark.parametrize("clock_zone", ["UTC", "America/New_York"])
def test_hourly_runs_lose_no_article_and_write_none_twice_whatever_the_apis_clock(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock, clock_zone: str
) -> None:
    """AlphaVantage's news times carry no zone (apis.md B2): a US/Eastern clock must lose nothing either."""
    fleet, _ = env
    written = 0
    last = RUN + timedelta(hours=5)
    for hour in range(6):
        written += run(fleet, clock, RUN + timedelta(hours=hour))["written"]
    stored = {(i["url"], i["asset_symbol"]) for i in news_items(fleet)}
    # Everything published from the first run on, up to the last run, and nothing older than the lookback.
    assert expected_items(fake, RUN, last) <= stored <= expected_items(fake, RUN - FIRST_RUN_LOOKBACK, last)
    assert written == len(stored)  # no item written twice
    if clock_zone == "UTC":
        assert stored == expected_items(fake, RUN - FIRST_RUN_LOOKBACK, last)


NEW_YORK = ZoneInfo("America/New_York")
NEWS_SCHEDULE = {
    "Arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/signal9-dev/sync-news-sentiment",
    "Target": {"Input": scheduler_input_json()},
}


@pytest.mark.parametrize(
    ("fire", "delivered"),
    [
        (datetime(2026, 1, 12, 10, 0, tzinfo=NEW_YORK), "2026-01-12T15:00:00Z"),  # EST, UTC-5
        (datetime(2026, 7, 13, 10, 0, tzinfo=NEW_YORK), "2026-07-13T14:00:00Z"),  # EDT, UTC-4
    ],
)
def test_the_emulator_delivers_the_scheduled_time_in_utc(fire: datetime, delivered: str) -> None:
    assert scheduler_delivery(NEWS_SCHEDULE, fire)["time"] == delivered


def test_a_run_the_emulator_delivers_collects_the_news_up_to_its_fire_time(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock
) -> None:
    """The fake runs on its own clock, set to the fire instant, not to what the handler is told."""
    fleet, _ = env
    fire = next_fire("cron(0 * ? * MON-SAT *)", "America/New_York", RUN - timedelta(minutes=30))
    clock.now = fire.timestamp()
    fleet.invoke("SyncNewsSentiment", scheduler_delivery(NEWS_SCHEDULE, fire))
    last_hour = expected_items(fake, fire - timedelta(hours=1), fire)
    assert last_hour and last_hour <= {(i["url"], i["asset_symbol"]) for i in news_items(fleet)}


# AlphaVantage's news clock is undocumented (apis.md B2): the lag must be the true one under either.
EITHER_CLOCK = pytest.mark.parametrize("clock_zone", ["UTC", "America/New_York"])


@EITHER_CLOCK
def test_each_run_reports_the_watermarks_lag_behind_its_scheduled_time(
    env: tuple[Fleet, FakeServer], fake: AlphaVantageFake, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Then a feed gone quiet for seven hours (over the news-lag alarm's six, and more than New York is
    behind UTC): the watermark stays, each hour's lag grows by the hour."""
    fleet, _ = env
    gauges = record_gauges(monkeypatch)
    run(fleet, clock, RUN)
    lag = (RUN - newest_published(fake, RUN)).total_seconds() / 60
    for hours in range(1, 8):
        fake.inject(Fault.NO_ARTICLES)
        run(fleet, clock, RUN + timedelta(hours=hours))
    assert {name for name, _ in gauges} == {FreshnessMetric.NEWS_WATERMARK_LAG_MINUTES}
    assert [value for _, value in gauges] == pytest.approx([lag + 60 * hours for hours in range(8)])


@pytest.mark.parametrize(
    "published",
    [
        "20220619T124703",  # apis.md B2's recorded article
        "20240229T000000",
        "\uff12\uff10\uff12\uff120619T124703",  # full-width digits, which strptime reads too
        "2022619T124703",  # unpadded: strptime still reads it
        "20220229T000000",
        "20221231T235960",
        "20220619T240000",
        "20221301T000000",
        "00000619T124703",
        "2022-06-19T12:47:03",
        "",
    ],
)
def test_time_published_is_read_as_strptime_reads_the_documented_format(published: str) -> None:
    def read(parse: Any) -> datetime | str:
        try:
            return parse(published)  # type: ignore[no-any-return]
        except ValueError:
            return "refused"

    assert read(news_handler.parse_published) == read(
        lambda text: datetime.strptime(text, news_handler.PUBLISHED_FORMAT)
    )
