"""PollenateAsset (rule on pollenationNeeded): refresh one asset's foundational data.

Order: validate the event (a malformed one raises before anything is written), collect
(:func:`collect_foundational_data`), record the pollenation in ``assets``, and for reason
``earnings`` conclude the calendar row, so that event always follows the written data:
``earningsProcessed`` (outcome ``processed``) only when the collected ``EARNINGS`` holds the
row's quarter (a ``quarterlyEarnings`` report for ``fiscalDateEnding`` with a reported EPS).
Without it, nothing is emitted (``EarningsNotYetPublished``) and the next trigger run asks
again; once the publication window is over (``functions.shared.earnings_calendar``,
New York date of ``requestedAt``), ``earningsProcessed`` with outcome ``unpublished``.

Collection calls AlphaVantage ``OVERVIEW``, ``EARNINGS``, ``INCOME_STATEMENT``,
``BALANCE_SHEET`` and ``CASH_FLOW`` for the symbol, paced under the plan's rate
(``functions.shared.pacing``), validates all five responses and only then writes
(``fundamentals.py``: every field kept, numbers as numbers, sort key
``fiscal_date_ending = "<date>#<annual|quarterly>"`` so both periods of a fiscal date are
kept). Statement rows are compared with what the table holds (one Query per table) and only
new or changed rows are written; ``companyOverview`` gets one row per collection day
(``last_updated``, the New York date). An unknown symbol (``{}`` on ``OVERVIEW``) or a
refused one (``Error Message``) writes no data and is recorded on the pollenation row
(``collection``/``collectionError``), not retried. The same answer from a symbol the API
knows (a later dataset, after ``OVERVIEW`` answered with data, or any dataset of a symbol
collected before) cannot be told apart from a fault: it fails the invocation
(:class:`IncompleteCollectionError`), as persistent throttling or a malformed response
does, before any write; Lambda's async retries follow and end in the DLQ.

``assets`` schema (key ``symbol`` + ``lastPollenationDate``): one row per pollenation,
kept forever as history. The newest row of a symbol is its current state; recording a
pollenation writes a new row with ``lastPollenationDate = requestedAt`` (ISO-8601 UTC, ms)
that copies the asset attributes of the previous newest row (``status``, ``avgVolume``,
...) and, in the same transaction, removes ``status`` from that previous row. Only the
newest row therefore appears in the sparse ``status-index`` / ``volume-index``, so
"active assets least recently pollenated" lists each asset once. A symbol with no row yet
gets a row without ``status`` (SyncAssets owns the asset catalog). The transaction also
checks that the row copied is still as read (or, for a symbol without rows, that SyncAssets
has not listed it meanwhile); when SyncAssets changed it, the newest row is read again and
the recording repeated (``AssetWriteConflicts``), so the new row never copies stale
attributes and ``status`` always ends on the newest row. A transaction cancelled for any
other reason (throttling, a conflicting transaction in flight) is retried with backoff; one
that still fails, or a row that kept changing, fails the invocation (:class:`RecordingError`)
so that Lambda retries it: a pollenation is never left unrecorded by a successful run.

Idempotent: an event whose ``requestedAt`` is not newer than the symbol's newest row (a
redelivery, or overtaken by a later pollenation) records nothing; collection and the
earnings event still run, so a retry after a partial failure completes the work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.pollenate_asset.fundamentals import DATASETS, EARNINGS, OVERVIEW, Dataset, changed, validate
from functions.shared.alphavantage import AlphaVantageClient, BadRequestError, SymbolNotFoundError
from functions.shared.assets import KEY, NEVER_POLLENATED, SYNCED_AT
from functions.shared.clock import iso_utc, market_date, utc_now
from functions.shared.credentials import AlphaVantageCredentials, load_credentials
from functions.shared.dynamo import Item, query, table
from functions.shared.earnings_calendar import publication_overdue
from functions.shared.events import EarningsProcessed, PollenationNeeded
from functions.shared.observability import count, instrumented, logger
from functions.shared.pacing import environment_pacer
from functions.shared.publisher import publish
from functions.shared.retry import DEFAULT_BACKOFF, resolve_sleep
from functions.shared.telemetry import MetricName

# Reads of the newest row per recording: SyncAssets changes a symbol's row at most a few times a run.
RECORD_ATTEMPTS = 3
BOOKKEEPING = ("pollenationReason", "earningsDate", "recordedAt", "supersededAt", "collection", "collectionError")
STATEMENT_SORT_KEY = "fiscal_date_ending"


class IncompleteCollectionError(RuntimeError):
    """AlphaVantage refused or had no data for a symbol it knows: more likely a fault than an answer."""


class RecordingError(RuntimeError):
    """The pollenation could not be recorded (its transaction kept failing): Lambda must retry it."""


@dataclass(frozen=True)
class Collection:
    """What collecting one symbol did: ``collected``, ``symbolNotFound`` or ``badSymbol``; rows written per table."""

    status: str
    written: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    reported_quarters: frozenset[str] = frozenset()
    """Fiscal dates of the collected quarterly EARNINGS reports that carry a reported EPS."""

    def attributes(self) -> Item:
        """What the pollenation row records about it."""
        return {"collection": self.status} | ({"collectionError": self.error} if self.error else {})


def collect_foundational_data(symbol: str) -> Collection:
    """Fetch and validate all five datasets of ``symbol``, then write the new and changed rows."""
    client = AlphaVantageClient(load_credentials(AlphaVantageCredentials), pacer=environment_pacer())
    collected_on = market_date(utc_now()).isoformat()
    fetched: list[tuple[Dataset, list[Item]]] = []
    for dataset in DATASETS:
        try:
            document = client.json(dataset.function, symbol=symbol)
        except (SymbolNotFoundError, BadRequestError) as error:
            if fetched or collected_before(symbol):
                raise IncompleteCollectionError(
                    f"{error}, although AlphaVantage "
                    + ("answered OVERVIEW with data" if fetched else f"has given data for {symbol} before")
                    + ": more likely a fault than an unknown symbol; nothing was written"
                ) from None
            # Permanent for a symbol never seen: retrying would only spend the plan's requests.
            status = "symbolNotFound" if isinstance(error, SymbolNotFoundError) else "badSymbol"
            logger.warning("symbol not collected", extra={"collection": status, "function": dataset.function})
            count(MetricName.SYMBOLS_NOT_COLLECTED)
            return Collection(status, error=str(error))
        fetched.append((dataset, validate(dataset, symbol, document, collected_on)))
    written = {dataset.table: _write(dataset, symbol, rows) for dataset, rows in fetched}
    count(MetricName.FOUNDATIONAL_ROWS_WRITTEN, sum(written.values()))
    reported = frozenset(
        str(row["fiscalDateEnding"])
        for dataset, rows in fetched
        if dataset.function == EARNINGS
        for row in rows
        if row["period"] == "quarterly" and row.get("reportedEPS") is not None
    )
    return Collection("collected", written, reported_quarters=reported)


def collected_before(symbol: str) -> bool:
    """Whether ``companyOverview`` holds a row of ``symbol`` (AlphaVantage had data for it once)."""
    return (
        next(query(table(OVERVIEW.table), limit=1, KeyConditionExpression=Key("symbol").eq(symbol)), None) is not None
    )


def _write(dataset: Dataset, symbol: str, rows: list[Item]) -> int:
    """Write ``rows`` that differ from the stored ones (all of them for the overview); how many."""
    handle = table(dataset.table)
    if dataset.statements:
        stored = query(handle, KeyConditionExpression=Key("symbol").eq(symbol))
        rows = changed(rows, stored, STATEMENT_SORT_KEY)
    with handle.batch_writer() as batch:  # BatchWriteItem, unprocessed items re-sent
        for row in rows:
            batch.put_item(Item=row)
    return len(rows)


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = PollenationNeeded.from_event(event)
    logger.append_keys(symbol=request.symbol, reason=request.reason)
    collection = collect_foundational_data(request.symbol)
    recorded = record_pollenation(request, collection.attributes())
    earnings = conclude_earnings(request, collection)
    emitted = publish([earnings]) if isinstance(earnings, EarningsProcessed) else 0
    outcome = earnings.outcome if isinstance(earnings, EarningsProcessed) else earnings
    logger.info(
        "pollenation finished",
        extra={
            "recorded": recorded,
            "collection": collection.status,
            "written": collection.written,
            "earnings": outcome,
        },
    )
    return {
        "symbol": request.symbol,
        "recorded": recorded,
        "collection": collection.status,
        "written": collection.written,
        "earnings": outcome,
        "emitted": emitted,
    }


def conclude_earnings(request: PollenationNeeded, collection: Collection) -> EarningsProcessed | str | None:
    """The earningsProcessed an earnings pollenation owes, or ``notYetPublished`` (None for reason regular)."""
    if request.earningsDate is None or request.fiscalDateEnding is None:
        return None
    quarter = request.fiscalDateEnding.isoformat()
    outcome: Literal["processed", "unpublished"]
    if quarter in collection.reported_quarters:
        outcome = "processed"
    elif publication_overdue(request.earningsDate, market_date(request.requestedAt)):
        outcome = "unpublished"
        logger.warning("earnings quarter still not published; the window is over", extra={"fiscal_date": quarter})
    else:
        logger.info("earnings quarter not published yet; the next run asks again", extra={"fiscal_date": quarter})
        count(MetricName.EARNINGS_NOT_YET_PUBLISHED)
        return "notYetPublished"
    return EarningsProcessed(
        symbol=request.symbol,
        earningsDate=request.earningsDate,
        fiscalDateEnding=request.fiscalDateEnding,
        outcome=outcome,
        processedAt=utc_now(),
    )


def record_pollenation(request: PollenationNeeded, outcome: Item | None = None) -> bool:
    """Write the new pollenation row (see the module docstring), with ``outcome`` attributes; False when nothing was written.

    The transaction also holds the row it copied to what was read: had SyncAssets changed it
    in between (attributes, ``status``, or a first row for the symbol), the transaction is
    cancelled and the newest row read again, so the new row never copies stale attributes
    and ``status`` always ends on the newest row. Cancelled for another reason, it is retried
    with backoff. A recording that cannot be made raises :class:`RecordingError`.
    """
    assets = table("assets")
    pollenated_at = iso_utc(request.requestedAt)
    delays = DEFAULT_BACKOFF.delays()
    conflicts = 0
    while True:
        latest = next(
            query(assets, limit=1, KeyConditionExpression=Key("symbol").eq(request.symbol), ScanIndexForward=False),
            None,
        )
        if latest is not None and str(latest["lastPollenationDate"]) >= pollenated_at:
            return _skipped("already recorded or superseded", latest)
        row: Item = {k: v for k, v in (latest or {}).items() if k not in (*KEY, *BOOKKEEPING)}
        row |= {"symbol": request.symbol, "lastPollenationDate": pollenated_at, "pollenationReason": request.reason}
        row |= {"recordedAt": iso_utc(utc_now())} | (outcome or {})
        if request.earningsDate is not None:
            row["earningsDate"] = request.earningsDate.isoformat()
        if latest is None:
            logger.warning("symbol has no assets row yet; recording without status")
        new_row: dict[str, Any] = {
            "Put": {"TableName": assets.name, "Item": row, "ConditionExpression": "attribute_not_exists(symbol)"}
        }
        held = _as_read(assets.name, request.symbol, latest, pollenated_at)
        try:
            # The resource's client serialises plain Python values, as Table methods do.
            assets.meta.client.transact_write_items(TransactItems=[new_row, held])  # type: ignore[list-item]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            # One reason per item, in order: the new row's key taken, or the row read changed.
            reasons = [str(reason.get("Code")) for reason in error.response.get("CancellationReasons", [])]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return _skipped("a concurrent delivery recorded it first", latest)
            if reasons[1:2] == ["ConditionalCheckFailed"]:  # SyncAssets changed the row that was read
                count(MetricName.ASSET_WRITE_CONFLICTS)
                conflicts += 1
                if conflicts < RECORD_ATTEMPTS:
                    continue
                raise RecordingError(
                    f"the newest assets row of {request.symbol} changed during {RECORD_ATTEMPTS} attempts to record "
                    "its pollenation"
                ) from None
            delay = next(delays, None)  # throttled, or another transaction in flight: transient
            if delay is None:
                raise RecordingError(
                    f"the pollenation of {request.symbol} was not recorded: its transaction was cancelled "
                    f"({', '.join(reasons) or 'no reasons given'}) through {DEFAULT_BACKOFF.max_retries} retries"
                ) from None
            logger.warning("pollenation transaction cancelled; retrying", extra={"reasons": reasons, "delay": delay})
            resolve_sleep(None)(delay)
            continue
        count(MetricName.POLLENATIONS_RECORDED)
        return True


def _as_read(table_name: str, symbol: str, latest: Item | None, pollenated_at: str) -> dict[str, Any]:
    """The transaction item that holds the row read to its state, with the writes the access matrix grants.

    No ``ConditionCheck``: it needs ``dynamodb:ConditionCheckItem``, outside the access matrix
    (writes are PutItem, UpdateItem, DeleteItem, BatchWriteItem). A conditional ``Delete`` of
    an absent item and a ``REMOVE`` of an absent attribute check the same and change nothing.
    """
    if latest is None:
        # No row yet: SyncAssets must not have listed the symbol meanwhile. The delete finds
        # nothing to delete; it only fails when the never-pollenated row exists.
        key = {"symbol": symbol, "lastPollenationDate": NEVER_POLLENATED}
        return {"Delete": {"TableName": table_name, "Key": key, "ConditionExpression": "attribute_not_exists(symbol)"}}
    names = {"#status": "status", "#synced": SYNCED_AT}
    unchanged = (
        "attribute_exists(#status)"
        if "status" in latest
        else "attribute_exists(symbol) AND attribute_not_exists(#status)"
    )
    values: dict[str, Any] = {}
    if SYNCED_AT in latest:
        unchanged += " AND #synced = :synced"
        values[":synced"] = latest[SYNCED_AT]
    else:
        unchanged += " AND attribute_not_exists(#synced)"
    if "status" in latest:  # retire it: status moves to the new row
        update, values = "REMOVE #status SET supersededAt = :at", values | {":at": pollenated_at}
    else:  # already without status: removing it again changes nothing
        update = "REMOVE #status"
    held: dict[str, Any] = {
        "TableName": table_name,
        "Key": {k: latest[k] for k in KEY},
        "UpdateExpression": update,
        "ConditionExpression": unchanged,
        "ExpressionAttributeNames": names,
    }
    return {"Update": held | ({"ExpressionAttributeValues": values} if values else {})}


def _skipped(why: str, latest: Item | None) -> bool:
    logger.info(f"pollenation not recorded: {why}", extra={"latest": latest and latest["lastPollenationDate"]})
    count(MetricName.POLLENATIONS_SKIPPED)
    return False
