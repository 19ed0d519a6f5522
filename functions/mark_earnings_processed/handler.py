"""MarkEarningsProcessed (rule on earningsProcessed): conclude an earnings calendar row.

Outcome ``processed`` sets ``processed = true`` and ``processedAt``; outcome ``unpublished``
(the quarter never reached EARNINGS within the publication window) sets ``unpublishedAt``,
logs a warning and counts ``EarningsUnpublished``. Either is a conditional UpdateItem on the
existing row ``(asset_symbol, earnings_date)``: idempotent (a row already concluded either
way changes nothing, its first timestamp stays) and never an upsert: a missing row is an
error, because it means the event and the calendar disagree. This is the only writer of
these marks; the trigger stops asking for a concluded row.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.shared.clock import iso_utc
from functions.shared.dynamo import table
from functions.shared.earnings_calendar import PROCESSED, UNPUBLISHED_AT
from functions.shared.events import EarningsProcessed
from functions.shared.observability import count, instrumented, logger
from functions.shared.telemetry import MetricName


class EarningsRowNotFoundError(LookupError):
    """earningsProcessed names a calendar row that does not exist."""


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    done = EarningsProcessed.from_event(event)
    logger.append_keys(symbol=done.symbol, earnings_date=done.earningsDate.isoformat(), outcome=done.outcome)
    key = {"asset_symbol": done.symbol, "earnings_date": done.earningsDate.isoformat()}
    values: dict[str, Any] = {":false": False, ":at": iso_utc(done.processedAt)}
    if done.outcome == "processed":
        update, values[":true"] = "SET #processed = :true, processedAt = :at", True
    else:
        update = "SET #unpublished = :at"
    calendar = table("earningsCalendar")
    try:
        calendar.update_item(
            Key=key,
            UpdateExpression=update,
            ConditionExpression="attribute_exists(asset_symbol) AND "
            "(attribute_not_exists(#processed) OR #processed = :false) AND attribute_not_exists(#unpublished)",
            ExpressionAttributeNames={"#processed": PROCESSED, "#unpublished": UNPUBLISHED_AT},
            ExpressionAttributeValues=values,
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
        logger.info("earnings row was already concluded; nothing changed")
        count(MetricName.EARNINGS_ALREADY_PROCESSED)
        return {"changed": False, **key}
    if done.outcome == "processed":
        logger.info("earnings row marked processed")
        count(MetricName.EARNINGS_MARKED_PROCESSED)
    else:
        logger.warning(
            "earnings never published within the window",
            extra={"fiscal_date": done.fiscalDateEnding.isoformat()},
        )
        count(MetricName.EARNINGS_UNPUBLISHED)
    return {"changed": True, **key}
