"""SyncNewsSentiment (schedule sync-news-sentiment, hourly): AlphaVantage news sentiment of Signal9's assets.

What it reads: the market-wide ``NEWS_SENTIMENT`` feed (no ``tickers``: the API ANDs a
ticker list, so it cannot be widened), oldest first, 1000 articles per call, from the
watermark to the scheduled time. What it writes: one ``newsSentiment`` item per
(article, ticker) for every ticker in the article's ``ticker_sentiment`` that is an active
Signal9 asset (Query ``status-index``; a ticker the read lacks is checked against its
newest ``assets`` row, :class:`ActiveSymbols`), carrying that ticker's score, relevance and label
plus the article's fields (docs/collectors.md). Tickers are read in Alpaca's
spelling (``BRK-B`` is the asset ``BRK.B``: ``functions.shared.symbols``).

Keys: ``news_id`` = ``<sha256(url)[:32]>#<SYMBOL>`` (deterministic, one per article and
asset; ``article_id`` holds the url hash alone), ``time_published`` = ISO-8601 UTC.
Before writing, a BatchGetItem finds the items already stored: re-reading an article writes
nothing.

AlphaVantage's clock: ``time_published``, ``time_from`` and ``time_to`` carry no zone and
AlphaVantage documents none (apis.md B2); UTC and US/Eastern are both plausible. So the
watermark and the paging stay in the API's own clock, taken from the articles it returned,
and never depend on the zone. Only :data:`API_ZONE` converts between the two clocks, for the
stored ``time_published``, the first run's ``time_from`` and every ``time_to``: it assumes
UTC. Were the API's clock US/Eastern, stored times would be 4-5 hours off, ``time_to`` would
lie in the API's future (it then answers up to its now) and the first run would look back
4-5 hours less; no article would be lost.

The lag gauge (``NewsWatermarkLagMinutes``: how much older the newest article held is than the
run) holds under either clock. When the watermark moves, its article's instant is read under
both zones and the latest reading not after the run (plus :data:`LATE_READ_ALLOWANCE`) is kept
with it (``newestPublishedAt``): read in the wrong zone, a UTC article would lie 4-5 hours
after the run that read it, which cannot be, and a US/Eastern one 4-5 hours too early. That
holds while the newest article read is under 3 hours old, as in a feed that publishes every
few minutes; the lag then grows with the runs' own clock while the watermark stays.

Watermark: the item ``news_id = "#watermark"``, ``time_published = "NEWS_SENTIMENT"`` in
``newsSentiment`` itself (no index attribute, so it is in no index) holds ``newestPublished``:
the ``time_published`` of the newest article read so far, as the API wrote it (and
``newestPublishedAt``, its instant for the lag gauge, above). Every page
is written before the watermark moves to its newest article, so it never passes an article
not yet stored, whatever the run's scheduled time says; a run that fails leaves it where the
last complete page put it. Each run reads from the watermark's minute minus
:data:`REREAD_OVERLAP` (articles AlphaVantage indexes late; re-read ones cost no write). The
first run ever (or a watermark of the older ``coveredUntil`` kind) reads the last
:data:`FIRST_RUN_LOOKBACK`.

Paging: ``time_from``/``time_to`` are whole minutes. A page of 1000 articles means there may
be more: the next call starts at the minute of the page's newest article (that minute is
read twice; the duplicates cost no write). More than 1000 articles inside one minute cannot
be paged through; the run logs it, counts it and moves on a minute. A run that nears its
timeout stops between pages; the next run continues from the watermark.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from functions.shared.alphavantage import AlphaVantageClient
from functions.shared.assets import newest_row
from functions.shared.clock import iso_utc, market_moment
from functions.shared.credentials import AlphaVantageCredentials, load_credentials
from functions.shared.dynamo import Item, existing_keys, query, table
from functions.shared.events import SYMBOL_PATTERN
from functions.shared.observability import gauge, instrumented, logger
from functions.shared.scheduled import ScheduledInvocation
from functions.shared.symbols import from_alphavantage
from functions.shared.tally import Tally
from functions.shared.telemetry import FreshnessMetric
from functions.shared.validation import problems

FUNCTION = "NEWS_SENTIMENT"
PAGE_LIMIT = 1000  # the API's maximum (apis.md B2)
FIRST_RUN_LOOKBACK = timedelta(hours=24)
REREAD_OVERLAP = timedelta(minutes=15)
MINUTE = timedelta(minutes=1)
API_MINUTE_FORMAT = "%Y%m%dT%H%M"
PUBLISHED_FORMAT = "%Y%m%dT%H%M%S"
# PUBLISHED_FORMAT as the API writes it (zero-padded): read without strptime, a quarter of its cost per article.
PUBLISHED_PADDED = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})")
# The zone assumed for AlphaVantage's clock (apis.md B2: not documented, "probably UTC").
# The only conversions between it and UTC are api_time and in_utc.
API_ZONE = UTC
WATERMARK_KEY = {"news_id": "#watermark", "time_published": FUNCTION}
NEWEST_PUBLISHED = "newestPublished"
NEWEST_PUBLISHED_AT = "newestPublishedAt"  # ISO-8601 UTC: the instant the lag gauge measures from
# How much later than its run's scheduled time an article may be read as published: a run delivered
# late reads newer articles. Well under the 4-5 hours between the two clocks AlphaVantage may keep.
LATE_READ_ALLOWANCE = timedelta(hours=1)
# Stop starting pages when less than this is left of the invocation's timeout.
TIME_MARGIN_MS = 30_000


class TickerSentiment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ticker: str = Field(min_length=1)
    relevance_score: Decimal
    ticker_sentiment_score: Decimal
    ticker_sentiment_label: str


class Topic(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: str
    relevance_score: Decimal


def api_time(moment: datetime) -> datetime:
    """``moment`` on AlphaVantage's clock (naive, as the API writes times), assuming :data:`API_ZONE`."""
    return moment.astimezone(API_ZONE).replace(tzinfo=None)


def in_utc(api_moment: datetime) -> datetime:
    """A naive time on AlphaVantage's clock as a UTC moment, assuming :data:`API_ZONE`."""
    return api_moment.replace(tzinfo=API_ZONE).astimezone(UTC)


def published_instant(api_moment: datetime, end: datetime) -> datetime:
    """The instant of a time on AlphaVantage's clock, for a run scheduled at ``end`` that read it.

    Its reading as UTC or as New York time (the clocks apis.md B2 leaves open), whichever is
    later but not after ``end`` + LATE_READ_ALLOWANCE (an article cannot postdate its reading).
    """
    readings = (api_moment.replace(tzinfo=UTC), market_moment(api_moment.date(), api_moment.time()))
    possible = [reading for reading in readings if reading <= end + LATE_READ_ALLOWANCE]
    return max(possible) if possible else min(readings)


def parse_published(value: Any) -> datetime:
    """``YYYYMMDDTHHMMSS`` on AlphaVantage's clock, naive (its zone is not stated).

    Any other text is read (or refused) as ``strptime`` reads PUBLISHED_FORMAT.
    """
    text = str(value)
    padded = PUBLISHED_PADDED.fullmatch(text)
    if padded is None:
        return datetime.strptime(text, PUBLISHED_FORMAT)
    year, month, day, hour, minute, second = map(int, padded.groups())
    return datetime(year, month, day, hour, minute, second)


class Article(BaseModel):
    """One ``feed[]`` element (apis.md B2): scores arrive as strings, ``overall_sentiment_score`` as a number.

    ``time_published`` stays on AlphaVantage's clock (naive); the stored item carries it in UTC.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str
    url: str = Field(min_length=1)
    time_published: datetime
    authors: list[str] = []
    summary: str = ""
    banner_image: str | None = None
    source: str
    category_within_source: str | None = None
    source_domain: str | None = None
    topics: list[Topic] = []
    overall_sentiment_score: Decimal
    overall_sentiment_label: str
    ticker_sentiment: list[TickerSentiment] = []

    @field_validator("time_published", mode="before")
    @classmethod
    def _published(cls, value: Any) -> datetime:
        return parse_published(value)

    @field_validator("overall_sentiment_score", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        # A JSON number arrives as a float: go through its shortest repr, not its binary value.
        return str(value) if isinstance(value, float) else value

    @property
    def article_id(self) -> str:
        return hashlib.sha256(self.url.encode()).hexdigest()[:32]

    def items(self, symbols: Container[str]) -> list[Item]:
        """One item per ticker of this article that is an active Signal9 asset."""
        shared: Item = {
            "article_id": self.article_id,
            "time_published": iso_utc(in_utc(self.time_published)),
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "summary": self.summary,
            "authors": self.authors,
            "topics": [topic.model_dump() for topic in self.topics],
            "overall_sentiment_score": self.overall_sentiment_score,
            "overall_sentiment_label": self.overall_sentiment_label,
        }
        for optional in ("banner_image", "category_within_source", "source_domain"):
            value = getattr(self, optional)
            if value:
                shared[optional] = value
        # One item per asset, however often (or in whichever spelling) the article names it.
        entries = {from_alphavantage(e.ticker): e for e in self.ticker_sentiment}
        return [
            {
                **shared,
                "news_id": f"{self.article_id}#{symbol}",
                "asset_symbol": symbol,
                "sentiment_score": entry.ticker_sentiment_score,
                "relevance_score": entry.relevance_score,
                "sentiment_label": entry.ticker_sentiment_label,
            }
            for symbol, entry in entries.items()
            if symbol in symbols
        ]


class Feed(BaseModel):
    """The envelope; articles are validated one by one so one bad article does not sink a page."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: int = 0
    feed: list[dict[str, Any]] = []


@dataclass
class Outcome(Tally):
    calls: int = 0
    unpaged_minutes: int = 0
    newest_published: str = ""
    complete: bool = False


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class ActiveSymbols(Container[str]):
    """The active Signal9 assets: the ``status-index`` read, and for a ticker it lacks, the ticker's newest row.

    The index read is eventually consistent: while a pollenation moves ``status`` to a new row
    it can miss the symbol, and an article is read once (the overlap re-reads 15 minutes), so
    taking the miss at its word would drop that symbol's news for good. A ticker the read lacks
    that could be an asset is settled by one strongly consistent Query (once per run).
    """

    def __init__(self) -> None:
        self.indexed = frozenset(
            item["symbol"]
            for item in query(
                table("assets"),
                IndexName="status-index",
                KeyConditionExpression=Key("status").eq("active"),
                ProjectionExpression="#symbol",
                ExpressionAttributeNames={"#symbol": "symbol"},
            )
        )
        self._settled: dict[str, bool] = {}

    def __contains__(self, symbol: object) -> bool:
        if symbol in self.indexed:
            return True
        if not isinstance(symbol, str) or not re.fullmatch(SYMBOL_PATTERN, symbol):
            return False  # CRYPTO:BTC, FOREX:USD: never an asset
        if symbol not in self._settled:
            newest = newest_row(symbol)
            self._settled[symbol] = newest is not None and "status" in newest
            if self._settled[symbol]:
                logger.warning("active asset missing from the status-index read", extra={"symbol": symbol})
        return self._settled[symbol]


def watermark_item() -> Item:
    return table("newsSentiment").get_item(Key=WATERMARK_KEY).get("Item") or {}


def read_watermark() -> datetime | None:
    """The newest ``time_published`` read so far, on AlphaVantage's clock; None before the first run."""
    item = watermark_item()
    return parse_published(item[NEWEST_PUBLISHED]) if NEWEST_PUBLISHED in item else None


def write_watermark(newest: datetime, end: datetime) -> None:
    """Move the watermark to ``newest`` (API clock), read by the run scheduled at ``end``."""
    table("newsSentiment").put_item(
        Item={
            **WATERMARK_KEY,
            NEWEST_PUBLISHED: newest.strftime(PUBLISHED_FORMAT),
            NEWEST_PUBLISHED_AT: iso_utc(published_instant(newest, end)),
        }
    )


def validated_articles(document: dict[str, Any], outcome: Outcome) -> list[Article]:
    envelope = Feed.model_validate(document)
    articles: list[Article] = []
    for number, raw in enumerate(envelope.feed):
        try:
            articles.append(Article.model_validate(raw))
        except ValidationError as error:
            logger.warning(
                "article skipped", extra={"position": number, "url": raw.get("url"), "error": problems(error)}
            )
            outcome.skipped += 1
    outcome.fetched += len(envelope.feed)
    return articles


def store(articles: list[Article], symbols: Container[str], outcome: Outcome) -> None:
    """Write the items not yet stored (a BatchGetItem first: re-reading an article writes nothing)."""
    news = table("newsSentiment")
    items = {item["news_id"]: item for article in articles for item in article.items(symbols)}
    keys = [{"news_id": i["news_id"], "time_published": i["time_published"]} for i in items.values()]
    stored = {key["news_id"] for key in existing_keys(news, keys)}
    with news.batch_writer() as batch:
        for news_id, item in items.items():
            if news_id not in stored:
                batch.put_item(Item=item)
    outcome.written += len(items) - len(stored)
    outcome.unchanged += len(stored)


def next_start(articles: list[Article], start: datetime, outcome: Outcome) -> datetime:
    """After a full page: the minute of its newest article (API clock), or the next minute if that is ``start``."""
    newest = floor_minute(max(a.time_published for a in articles)) if articles else start
    if newest > start:
        return newest
    # 1000 articles inside one minute: the API cannot page within a minute.
    logger.warning("more than 1000 articles in one minute; moving on", extra={"minute": start.isoformat()})
    outcome.unpaged_minutes += 1
    return start + MINUTE


def collect(client: AlphaVantageClient, end: datetime, context: LambdaContext) -> Outcome:
    """Read the feed from the watermark (API clock) up to ``end`` (the scheduled time, UTC)."""
    outcome = Outcome()
    symbols = ActiveSymbols()
    newest = read_watermark()
    start = floor_minute(newest) - REREAD_OVERLAP if newest else api_time(end - FIRST_RUN_LOOKBACK)
    until = api_time(end)
    while start < until:
        if context.get_remaining_time_in_millis() < TIME_MARGIN_MS:
            logger.warning("stopping before the timeout; the next run continues", extra={"at": start.isoformat()})
            return outcome
        document = client.json(
            FUNCTION,
            time_from=start.strftime(API_MINUTE_FORMAT),
            time_to=until.strftime(API_MINUTE_FORMAT),
            sort="EARLIEST",
            limit=str(PAGE_LIMIT),
        )
        outcome.calls += 1
        fetched_before = outcome.fetched
        articles = validated_articles(document, outcome)
        store(articles, symbols, outcome)
        page_newest = max((a.time_published for a in articles), default=None)
        if page_newest is not None and (newest is None or page_newest > newest):
            # Only after the page is stored, and only as far as an article actually read.
            newest = page_newest
            write_watermark(newest, end)
            outcome.newest_published = newest.strftime(PUBLISHED_FORMAT)
        if outcome.fetched - fetched_before < PAGE_LIMIT:
            break  # the last page
        start = next_start(articles, start, outcome)
    outcome.complete = True
    return outcome


def watermark_lag_minutes(end: datetime) -> float | None:
    """Minutes from the newest article held (the watermark's instant) to ``end``; None before any article."""
    item = watermark_item()
    if NEWEST_PUBLISHED_AT in item:
        newest = datetime.fromisoformat(str(item[NEWEST_PUBLISHED_AT]))
    elif NEWEST_PUBLISHED in item:  # a watermark written before the instant was kept with it
        newest = published_instant(parse_published(item[NEWEST_PUBLISHED]), end)
    else:
        return None
    return (end - newest).total_seconds() / 60


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    end = floor_minute(ScheduledInvocation.parse(event).moment())
    client = AlphaVantageClient(load_credentials(AlphaVantageCredentials))
    outcome = collect(client, end, context)
    outcome.meter()
    lag = watermark_lag_minutes(end)
    if lag is not None:
        gauge(FreshnessMetric.NEWS_WATERMARK_LAG_MINUTES, lag)
    report = outcome.report()
    logger.info("news sentiment synced", extra={**report, "watermark_lag_minutes": lag})
    return report
