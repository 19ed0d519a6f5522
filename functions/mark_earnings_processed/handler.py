"""MarkEarningsProcessed (rule on earningsProcessed): mark an earnings calendar row processed.

A conditional UpdateItem sets ``processed = true`` and ``processedAt`` on the existing row
``(asset_symbol, earnings_date)``. The condition makes it idempotent (a repeat changes
nothing, the first ``processedAt`` stays) and refuses to upsert: a missing row is an
error, because it means the event and the calendar disagree.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.shared.clock import iso_utc
from functions.shared.dynamo import table
from functions.shared.events import EarningsProcessed
from functions.shared.observability import count, instrumented, logger
from functions.shared.telemetry import MetricName


class EarningsRowNotFoundError(LookupError):
    """earningsProcessed names a calendar row that does not exist."""


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    done = EarningsProcessed.from_event(event)
    logger.append_keys(symbol=done.symbol, earnings_date=done.earningsDate.isoformat())
    key = {"asset_symbol": done.symbol, "earnings_date": done.earningsDate.isoformat()}
    calendar = table("earningsCalendar")
    try:
        calendar.update_item(
            Key=key,
            UpdateExpression="SET #processed = :true, processedAt = :at",
            ConditionExpression="attribute_exists(asset_symbol) AND "
            "(attribute_not_exists(#processed) OR #processed = :false)",
            ExpressionAttributeNames={"#processed": "processed"},
            ExpressionAttributeValues={":true": True, ":false": False, ":at": iso_utc(done.processedAt)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        if not error.response.get("Item"):
            raise EarningsRowNotFoundError(
                f"earningsCalendar has no row for {done.symbol} on {done.earningsDate.isoformat()}; "
                "nothing was marked (rows are created by SyncEarningsCalendar, never by this handler)"
            ) from None
        logger.info("earnings row was already processed; nothing changed")
        count(MetricName.EARNINGS_ALREADY_PROCESSED)
        return {"changed": False, **key}
    logger.info("earnings row marked processed")
    count(MetricName.EARNINGS_MARKED_PROCESSED)
    return {"changed": True, **key}
