"""SyncEarningsCalendar (schedule sync-earnings-calendar): AlphaVantage's 3-month earnings calendar.

One ``EARNINGS_CALENDAR`` call (CSV, ``horizon=3month``, the whole market), every row
validated, then reconciled with ``earningsCalendar`` (one row per ``asset_symbol`` and
``earnings_date``):

- a new (symbol, report date) is put with ``name``, ``fiscalDateEnding``, ``estimate``
  (a number; absent when the calendar has none), ``currency`` and ``timeOfTheDay``;
- a known row whose fields changed is updated in place (UpdateItem, so ``processed`` /
  ``processedAt`` written by MarkEarningsProcessed survive); an unchanged row costs no write;
- a row dated after today (New York) that the calendar no longer lists is marked
  ``movedAt`` (``functions.shared.earnings_calendar``) and TriggerEarningsPollenation skips
  it. Today's and past rows are never marked: the calendar drops a report once it is out.

Rows' symbols are stored as Alpaca spells them: AlphaVantage lists a share class as ``BRK-B``
(``functions.shared.symbols.from_alphavantage``, which takes either form), so the row meets
the asset ``BRK.B`` and a later sync recognises it as listed.

Existing rows are read with one Query of ``upcoming-earnings-index`` per date in the
horizon (about 92), never a Scan. A row that fails validation is logged, counted and
skipped; its raw key still counts as listed, so a bad estimate never marks a report moved.
A body without the columns the rows need fails the run before anything is written.

A calendar that cannot be told apart from a fault fails the run before any write
(:class:`SuspiciousCalendarError`), so the schedule's retries and the DLQ take over: one with
no rows (a whole market without reports in three months is an outage), or one that would
mark more than :data:`MAX_MOVED_SHARE` of the stored upcoming rows moved (and more than
:data:`MAX_MOVED_ALWAYS`): a file cut short at a line boundary still parses, and lists only
its first reports. ``{"allowMassMove": true}`` in the invocation input lets one run through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from functions.shared.alphavantage import AlphaVantageClient, CsvRows, UnexpectedResponseError
from functions.shared.clock import iso_utc, market_date
from functions.shared.credentials import AlphaVantageCredentials, load_credentials
from functions.shared.dynamo import Item, query, table
from functions.shared.earnings_calendar import MOVED_AT
from functions.shared.events import SYMBOL_PATTERN
from functions.shared.observability import count, gauge, instrumented, logger
from functions.shared.scheduled import ScheduledInvocation
from functions.shared.symbols import from_alphavantage
from functions.shared.tally import Tally
from functions.shared.telemetry import FreshnessMetric, MetricName
from functions.shared.validation import problems
from functions.shared.values import is_empty, to_decimal

FUNCTION = "EARNINGS_CALENDAR"
HORIZON = "3month"
# Dates queried for rows to mark moved: the longest 3-month window, with a few days to spare.
HORIZON_DAYS = 95
REQUIRED_COLUMNS = frozenset({"symbol", "reportDate"})
CALENDAR_FIELDS = ("name", "fiscalDateEnding", "estimate", "currency", "timeOfTheDay")
INDEX = "upcoming-earnings-index"
# A run may mark at most this share of the stored upcoming rows moved (and always this many): a
# handful move in a week, so more is likelier a calendar cut short. Input key to override.
MAX_MOVED_SHARE, MAX_MOVED_ALWAYS = 0.05, 5
ALLOW_MASS_MOVE = "allowMassMove"


class SuspiciousCalendarError(RuntimeError):
    """The calendar lists no rows, or too few of the stored upcoming ones: more likely a fault than news."""


class CalendarRow(BaseModel):
    """One CSV row (apis.md B1); the 6-column form without ``timeOfTheDay`` is accepted."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    name: str | None = None
    reportDate: date
    fiscalDateEnding: date | None = None
    estimate: Decimal | None = None
    currency: str | None = None
    timeOfTheDay: str | None = None

    @field_validator("symbol", mode="before")
    @classmethod
    def _alpaca_form(cls, value: Any) -> Any:
        return from_alphavantage(value) if isinstance(value, str) else value

    @field_validator("name", "fiscalDateEnding", "currency", "timeOfTheDay", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        return None if is_empty(value) else value

    @field_validator("estimate", mode="before")
    @classmethod
    def _estimate(cls, value: Any) -> Decimal | None:
        return to_decimal(value)

    @property
    def key(self) -> tuple[str, str]:
        return self.symbol, self.reportDate.isoformat()

    def attributes(self) -> dict[str, Any]:
        """The calendar fields as stored: dates as ISO strings, absent values left out."""
        values = self.model_dump(include=set(CALENDAR_FIELDS), exclude_none=True)
        if self.fiscalDateEnding is not None:
            values["fiscalDateEnding"] = self.fiscalDateEnding.isoformat()
        return values


@dataclass
class Outcome(Tally):
    added: int = 0
    updated: int = 0
    moved: int = 0

    def meter(self) -> None:
        super().meter()
        count(MetricName.EARNINGS_MARKED_MOVED, self.moved)


def validated(rows: CsvRows, outcome: Outcome) -> dict[tuple[str, str], CalendarRow]:
    """The rows that validate, by key (a repeated key keeps its last row); the others logged and skipped."""
    missing = REQUIRED_COLUMNS - set(rows.header)
    if missing:
        raise UnexpectedResponseError(FUNCTION, f"CSV header {list(rows.header)} lacks {sorted(missing)}")
    valid: dict[tuple[str, str], CalendarRow] = {}
    for number, raw in enumerate(rows, start=2):  # line 1 is the header
        try:
            row = CalendarRow.model_validate(raw)
        except ValidationError as error:
            logger.warning(
                "calendar row skipped", extra={"line": number, "symbol": raw.get("symbol"), "error": problems(error)}
            )
            outcome.skipped += 1
            continue
        valid[row.key] = row
    return valid


def stored_rows(dates: list[date]) -> dict[tuple[str, str], Item]:
    """Every earningsCalendar row on ``dates``, by key (one index Query per date)."""
    calendar = table("earningsCalendar")
    return {
        (item["asset_symbol"], item["earnings_date"]): item
        for day in dates
        for item in query(calendar, IndexName=INDEX, KeyConditionExpression=Key("earnings_date").eq(day.isoformat()))
    }


def changed_fields(stored: Item, wanted: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What an UpdateItem must SET and REMOVE to bring ``stored`` to ``wanted`` (plus clearing ``movedAt``)."""
    to_set = {k: v for k, v in wanted.items() if stored.get(k) != v}
    to_remove = [k for k in (*CALENDAR_FIELDS, MOVED_AT) if k in stored and k not in wanted]
    return to_set, to_remove


def update(keys: tuple[str, str], to_set: dict[str, Any], to_remove: list[str]) -> None:
    names = {f"#f{i}": name for i, name in enumerate([*to_set, *to_remove])}
    aliases = {name: alias for alias, name in names.items()}
    clauses = []
    if to_set:
        clauses.append("SET " + ", ".join(f"{aliases[k]} = :v{i}" for i, k in enumerate(to_set)))
    if to_remove:
        clauses.append("REMOVE " + ", ".join(aliases[k] for k in to_remove))
    request: dict[str, Any] = {
        "Key": {"asset_symbol": keys[0], "earnings_date": keys[1]},
        "UpdateExpression": " ".join(clauses),
        "ExpressionAttributeNames": names,
        # Update, never create: a row deleted meanwhile stays deleted.
        "ConditionExpression": "attribute_exists(asset_symbol)",
    }
    if to_set:
        request["ExpressionAttributeValues"] = {f":v{i}": v for i, v in enumerate(to_set.values())}
    table("earningsCalendar").update_item(**request)


def reconcile(rows: CsvRows, today: date, moved_at: str, *, allow_mass_move: bool = False) -> Outcome:
    outcome = Outcome(fetched=len(rows))
    wanted = validated(rows, outcome)
    listed = {(from_alphavantage(raw.get("symbol") or ""), raw.get("reportDate")) for raw in rows}
    horizon_end = max([today + timedelta(days=HORIZON_DAYS), *(row.reportDate for row in wanted.values())])
    dates = sorted(
        {today + timedelta(days=n) for n in range(1, (horizon_end - today).days + 1)}
        | {row.reportDate for row in wanted.values()}
    )
    stored = stored_rows(dates)
    upcoming = {key: item for key, item in stored.items() if date.fromisoformat(key[1]) > today}
    unlisted = [key for key, item in upcoming.items() if key not in listed and MOVED_AT not in item]
    refuse_suspicious(len(rows), len(unlisted), len(upcoming), allow=allow_mass_move)
    with table("earningsCalendar").batch_writer() as batch:
        for key, row in wanted.items():
            attributes = row.attributes()
            if key not in stored:
                batch.put_item(Item={"asset_symbol": key[0], "earnings_date": key[1], **attributes})
                outcome.added += 1
                outcome.written += 1
                continue
            to_set, to_remove = changed_fields(stored[key], attributes)
            if to_set or to_remove:
                update(key, to_set, to_remove)
                outcome.updated += 1
                outcome.written += 1
            else:
                outcome.unchanged += 1
    outcome.unchanged += sum(1 for key, item in upcoming.items() if key not in listed and MOVED_AT in item)
    for key in unlisted:
        update(key, {MOVED_AT: moved_at}, [])
        outcome.moved += 1
        outcome.written += 1
        logger.info("report no longer listed; marked moved", extra={"symbol": key[0], "earnings_date": key[1]})
    return outcome


def refuse_suspicious(listed: int, unlisted: int, upcoming: int, *, allow: bool) -> None:
    """Fail before any write on a calendar more likely cut short than real (see the module docstring)."""
    limit = max(MAX_MOVED_ALWAYS, int(MAX_MOVED_SHARE * upcoming))
    if allow or (listed and unlisted <= limit):
        return
    found = "no rows" if not listed else f"{listed} rows, leaving {unlisted} of the {upcoming} stored upcoming reports"
    raise SuspiciousCalendarError(
        f"{FUNCTION} listed {found} (at most {limit} may be marked moved in one run). Nothing was written. "
        f'If the calendar is right, invoke SyncEarningsCalendar once with {{"{ALLOW_MASS_MOVE}": true}}.'
    )


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    invocation = ScheduledInvocation.parse(event)
    moment = invocation.moment()
    client = AlphaVantageClient(load_credentials(AlphaVantageCredentials))
    rows = client.csv(FUNCTION, horizon=HORIZON)
    allow = (invocation.model_extra or {}).get(ALLOW_MASS_MOVE) is True
    outcome = reconcile(rows, market_date(moment), iso_utc(moment), allow_mass_move=allow)
    outcome.meter()
    gauge(FreshnessMetric.EARNINGS_CALENDAR_SYNCED, 1)  # only a completed sync gets here
    report = outcome.report()
    logger.info("earnings calendar synced", extra=report)
    return report
