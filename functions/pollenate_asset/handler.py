"""PollenateAsset (rule on pollenationNeeded): refresh one asset's foundational data.

Order: validate the event (a malformed one raises before anything is written), collect
(the Phase 2 seam :func:`collect_foundational_data`), record the pollenation in
``assets``, and for reason ``earnings`` emit ``earningsProcessed``.

``assets`` schema (key ``symbol`` + ``lastPollenationDate``): one row per pollenation,
kept forever as history. The newest row of a symbol is its current state; recording a
pollenation writes a new row with ``lastPollenationDate = requestedAt`` (ISO-8601 UTC, ms)
that copies the asset attributes of the previous newest row (``status``, ``avgVolume``,
...) and, in the same transaction, removes ``status`` from that previous row. Only the
newest row therefore appears in the sparse ``status-index`` / ``volume-index``, so
"active assets least recently pollenated" lists each asset once. A symbol with no row yet
gets a row without ``status`` (SyncAssets owns the asset catalog).

Idempotent: an event whose ``requestedAt`` is not newer than the symbol's newest row (a
redelivery, or overtaken by a later pollenation) records nothing; collection and the
earnings event still run, so a retry after a partial failure completes the work.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.shared.clock import iso_utc, utc_now
from functions.shared.dynamo import Item, query, table
from functions.shared.events import EarningsProcessed, PollenationNeeded
from functions.shared.observability import MetricName, count, instrumented, logger, phase2_placeholder
from functions.shared.publisher import publish

KEY = ("symbol", "lastPollenationDate")
BOOKKEEPING = ("pollenationReason", "earningsDate", "recordedAt", "supersededAt")


def collect_foundational_data(symbol: str) -> list[str]:
    """PHASE 2 SEAM: fetch overview, earnings and the three statements for ``symbol``.

    Phase 2 plugs the AlphaVantage collector in here (credentials via
    ``load_credentials(AlphaVantageCredentials)``, calls via ``retry_call``, writes to the
    five foundational tables) and returns the tables it refreshed. Phase 1 collects nothing.
    """
    phase2_placeholder("collecting foundational data (overview, earnings, statements)", symbol=symbol)
    return []


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    request = PollenationNeeded.from_event(event)
    logger.append_keys(symbol=request.symbol, reason=request.reason)
    collected = collect_foundational_data(request.symbol)
    recorded = record_pollenation(request)
    emitted = 0
    if request.reason == "earnings" and request.earningsDate is not None:
        emitted = publish(
            [EarningsProcessed(symbol=request.symbol, earningsDate=request.earningsDate, processedAt=utc_now())]
        )
    logger.info("pollenation finished", extra={"recorded": recorded, "collected": collected})
    return {"symbol": request.symbol, "recorded": recorded, "collected": collected, "emitted": emitted}


def record_pollenation(request: PollenationNeeded) -> bool:
    """Write the new pollenation row (see the module docstring); False when nothing was written."""
    assets = table("assets")
    pollenated_at = iso_utc(request.requestedAt)
    latest = next(
        query(assets, limit=1, KeyConditionExpression=Key("symbol").eq(request.symbol), ScanIndexForward=False), None
    )
    if latest is not None and str(latest["lastPollenationDate"]) >= pollenated_at:
        return _skipped("already recorded or superseded", latest)
    row: Item = {k: v for k, v in (latest or {}).items() if k not in (*KEY, *BOOKKEEPING)}
    row |= {"symbol": request.symbol, "lastPollenationDate": pollenated_at, "pollenationReason": request.reason}
    row |= {"recordedAt": iso_utc(utc_now())}
    if request.earningsDate is not None:
        row["earningsDate"] = request.earningsDate.isoformat()
    if latest is None:
        logger.warning("symbol has no assets row yet; recording without status")
    writes: list[dict[str, Any]] = [
        {"Put": {"TableName": assets.name, "Item": row, "ConditionExpression": "attribute_not_exists(symbol)"}}
    ]
    if latest is not None and "status" in latest:
        writes.append(
            {
                "Update": {
                    "TableName": assets.name,
                    "Key": {k: latest[k] for k in KEY},
                    "UpdateExpression": "REMOVE #status SET supersededAt = :at",
                    "ConditionExpression": "attribute_exists(#status)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":at": pollenated_at},
                }
            }
        )
    try:
        # The resource's client serialises plain Python values, as Table methods do.
        assets.meta.client.transact_write_items(TransactItems=writes)  # type: ignore[arg-type]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        return _skipped("a concurrent delivery recorded it first", latest)
    count(MetricName.POLLENATIONS_RECORDED)
    return True


def _skipped(why: str, latest: Item | None) -> bool:
    logger.info(f"pollenation not recorded: {why}", extra={"latest": latest and latest["lastPollenationDate"]})
    count(MetricName.POLLENATIONS_SKIPPED)
    return False
