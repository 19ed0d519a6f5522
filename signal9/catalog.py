"""The Signal9 catalog: every table, function, trigger, grant, event and secret, once.

Everything else (components, IAM policies, environment variables, dashboards, alarms,
docs tables and tests) is derived from these entries. Adding a function is one entry in
``FUNCTIONS``; adding a table is one entry in ``TABLES``. docs/contract.md is the contract, generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from functions.shared import events, pacing
from functions.shared.secret_fields import ALPACA_DATA_URL, ALPACA_TRADING_URL, ALPHAVANTAGE_URL

PROJECT = "signal9"
DEFAULT_TIMEZONE = "America/New_York"
STACKS = ("dev", "staging", "prod")
# Stacks whose data must be encrypted with their own customer managed KMS key (signal9:encryption).
CUSTOMER_MANAGED_KEY_STACKS = ("staging", "prod")

AttributeType = Literal["S", "N"]


@dataclass(frozen=True)
class Key:
    """A DynamoDB key attribute: name and scalar type."""

    name: str
    type: AttributeType


@dataclass(frozen=True)
class Index:
    """A global secondary index. Every Signal9 GSI projects ALL attributes."""

    name: str
    partition: Key
    sort: Key


@dataclass(frozen=True)
class Table:
    """One physical DynamoDB table, named ``signal9-<stack>-<name>``."""

    name: str
    group: str
    partition: Key
    sort: Key
    indexes: tuple[Index, ...] = ()

    @property
    def attributes(self) -> tuple[Key, ...]:
        """Key attributes of the table and its indexes, each once (AWS allows no others)."""
        seen: dict[str, Key] = {}
        for key in (self.partition, self.sort, *(k for i in self.indexes for k in (i.partition, i.sort))):
            seen.setdefault(key.name, key)
        return tuple(seen.values())


def _statement_table(name: str) -> Table:
    return Table(name, "foundationalData", Key("symbol", "S"), Key("fiscal_date_ending", "S"))


TABLES: tuple[Table, ...] = (
    Table(
        "assets",
        "assets",
        Key("symbol", "S"),
        Key("lastPollenationDate", "S"),
        (
            Index("status-index", Key("status", "S"), Key("lastPollenationDate", "S")),
            Index("volume-index", Key("status", "S"), Key("avgVolume", "N")),
        ),
    ),
    Table(
        "earningsCalendar",
        "earningsCalendar",
        Key("asset_symbol", "S"),
        Key("earnings_date", "S"),
        (Index("upcoming-earnings-index", Key("earnings_date", "S"), Key("asset_symbol", "S")),),
    ),
    Table(
        "newsSentiment",
        "newsSentiment",
        Key("news_id", "S"),
        Key("time_published", "S"),
        (
            Index("asset-news-index", Key("asset_symbol", "S"), Key("time_published", "S")),
            Index("sentiment-score-index", Key("asset_symbol", "S"), Key("sentiment_score", "N")),
        ),
    ),
    Table("companyOverview", "foundationalData", Key("symbol", "S"), Key("last_updated", "S")),
    _statement_table("earnings"),
    _statement_table("cashFlow"),
    _statement_table("balanceSheet"),
    _statement_table("incomeStatement"),
)

FOUNDATIONAL_TABLES: tuple[str, ...] = tuple(t.name for t in TABLES if t.group == "foundationalData")


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret ``signal9/<stack>/<name>`` holding a JSON object of ``fields``."""

    name: str
    fields: tuple[str, ...]
    description: str
    # Fields stored with this value when the stack sets none (endpoints, not credentials).
    defaults: tuple[tuple[str, str], ...] = ()


SECRETS: tuple[Secret, ...] = (
    Secret(
        "alphavantage", ("apiKey", "baseUrl"), "AlphaVantage API key and base URL", (("baseUrl", ALPHAVANTAGE_URL),)
    ),
    Secret(
        "alpaca",
        ("keyId", "secretKey", "baseUrl", "dataUrl"),
        "Alpaca API key pair, trading and market-data base URLs",
        (("baseUrl", ALPACA_TRADING_URL), ("dataUrl", ALPACA_DATA_URL)),
    ),
)


@dataclass(frozen=True)
class Event:
    """A custom event on the Signal9 bus (source ``signal9.pollenation``)."""

    detail_type: str
    consumer: str


EVENT_SOURCE = events.SOURCE


@dataclass(frozen=True)
class ScheduleTrigger:
    """An EventBridge Scheduler schedule, Monday-Saturday in the stack's timezone."""

    schedule: str
    expression: str


@dataclass(frozen=True)
class EventTrigger:
    """A rule on the Signal9 bus matching one custom event's detail-type."""

    detail_type: str


Trigger = ScheduleTrigger | EventTrigger


@dataclass(frozen=True)
class Function:
    """One Lambda function, its trigger and exactly the access it is granted.

    ``reads`` grant GetItem/BatchGetItem/Query on the table and its indexes; ``writes``
    grant PutItem/UpdateItem/DeleteItem/BatchWriteItem on the table.
    """

    name: str
    description: str
    trigger: Trigger
    memory_mb: int
    timeout_seconds: int
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    secret: str | None = None
    emits: tuple[str, ...] = ()
    # StackConfig attributes handed to the handler as environment variables
    # (functions/shared/env.py ``setting_variable``), e.g. a batch size an operator tunes.
    settings: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        """The handler package under ``functions/``, e.g. ``sync_assets`` for SyncAssets."""
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in self.name).lstrip("_")

    @property
    def paced(self) -> bool:
        """Calls AlphaVantage under the plan's pacing: reserved concurrency + the pacing interval setting."""
        return pacing.INTERVAL_SETTING in self.settings

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the function touches, reads first, each once."""
        return tuple(dict.fromkeys((*self.reads, *self.writes)))


# Every function's asynchronous invocation config (FunctionFleet sets it; `signal9 local up`
# checks the deployed values against these). Lambda's own async retries (0-2): two ride out a
# transient throttle or AWS hiccup; anything still failing after three attempts is a bug or an
# outage: the DLQ holds it.
ASYNC_MAXIMUM_RETRY_ATTEMPTS = 2
# Default is 6 hours. An hour covers the retries with Lambda's backoff and a burst of
# throttling, while a scheduled job older than that overlaps its next run (news syncs hourly)
# and a pollenation request should not be acted on half a day late: it goes to the DLQ instead,
# where `signal9 dlq replay` can re-deliver it deliberately.
ASYNC_MAXIMUM_EVENT_AGE_SECONDS = 3600

POLLENATION_NEEDED = "pollenationNeeded"
EARNINGS_PROCESSED = "earningsProcessed"

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "SyncAssets",
        "Syncs Alpaca's active asset catalog into the assets table",
        ScheduleTrigger("sync-assets", "cron(30 5 ? * MON-SAT *)"),
        512,
        300,
        reads=("assets",),
        writes=("assets",),
        secret="alpaca",
    ),
    Function(
        "SyncEarningsCalendar",
        "Syncs AlphaVantage's earnings calendar",
        ScheduleTrigger("sync-earnings-calendar", "cron(0 6 ? * MON-SAT *)"),
        256,
        120,
        reads=("earningsCalendar",),
        writes=("earningsCalendar",),
        secret="alphavantage",
    ),
    Function(
        "TriggerEarningsPollenation",
        "Emits pollenationNeeded for assets reporting earnings today or yesterday",
        ScheduleTrigger("trigger-earnings-pollenation", "cron(0 7 ? * MON-SAT *)"),
        256,
        60,
        reads=("earningsCalendar", "assets"),
        emits=(POLLENATION_NEEDED,),
    ),
    Function(
        "TriggerRegularPollenation",
        "Emits pollenationNeeded for the active assets least recently pollenated",
        ScheduleTrigger("trigger-regular-pollenation", "cron(0 20 ? * MON-SAT *)"),
        256,
        120,
        reads=("assets",),
        emits=(POLLENATION_NEEDED,),
        settings=("regularPollenationBatchSize",),
    ),
    Function(
        "SyncNewsSentiment",
        "Syncs AlphaVantage news sentiment for active assets",
        ScheduleTrigger("sync-news-sentiment", "cron(0 * ? * MON-SAT *)"),
        512,
        300,
        reads=("assets", "newsSentiment"),
        writes=("newsSentiment",),
        secret="alphavantage",
    ),
    Function(
        "PollenateAsset",
        "Refreshes one asset's foundational data and records the pollenation",
        EventTrigger(POLLENATION_NEEDED),
        1024,
        600,
        reads=("assets", *FOUNDATIONAL_TABLES),
        writes=("assets", *FOUNDATIONAL_TABLES),
        secret="alphavantage",
        emits=(EARNINGS_PROCESSED,),
        # Paced under the AlphaVantage plan: reserved concurrency + this interval (signal9:alphaVantage).
        settings=(pacing.INTERVAL_SETTING,),
    ),
    Function(
        "MarkEarningsProcessed",
        "Marks an earnings calendar row as processed",
        EventTrigger(EARNINGS_PROCESSED),
        128,
        30,
        reads=("earningsCalendar",),
        writes=("earningsCalendar",),
    ),
)

EVENTS: tuple[Event, ...] = tuple(
    Event(f.trigger.detail_type, f.name) for f in FUNCTIONS if isinstance(f.trigger, EventTrigger)
)


def scheduled_functions() -> tuple[Function, ...]:
    """Functions started by an EventBridge Scheduler schedule, in catalog order."""
    return tuple(f for f in FUNCTIONS if isinstance(f.trigger, ScheduleTrigger))


def schedule_trigger(function: Function) -> ScheduleTrigger:
    """The schedule of a scheduled function (a TypeError for an event-driven one)."""
    if not isinstance(function.trigger, ScheduleTrigger):
        raise TypeError(f"{function.name} is not scheduled")
    return function.trigger


SCHEDULE_NAMES: tuple[str, ...] = tuple(schedule_trigger(f).schedule for f in scheduled_functions())
FUNCTION_NAMES: tuple[str, ...] = tuple(f.name for f in FUNCTIONS)
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)
SECRET_NAMES: tuple[str, ...] = tuple(s.name for s in SECRETS)


def function(name: str) -> Function:
    """Look a function up by its catalog name."""
    return next(f for f in FUNCTIONS if f.name == name)


def table(name: str) -> Table:
    """Look a table up by its catalog name."""
    return next(t for t in TABLES if t.name == name)
