"""TriggerRegularPollenation (schedule trigger-regular-pollenation): the regular half of pollination.

Queries ``assets`` ``status-index`` for ``status = "active"`` in ascending
``lastPollenationDate`` (least recently pollenated first), at most
``SIGNAL9_REGULAR_POLLENATION_BATCH_SIZE`` rows, and emits one ``pollenationNeeded``
(reason ``regular``) per asset. ``requestedAt`` is the scheduled time, so a retried
delivery of the same schedule run asks for the same pollenations (PollenateAsset
de-duplicates on it). Only the latest row of a symbol carries ``status`` (see
PollenateAsset), so each asset appears once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key

from functions.shared.dynamo import Item, query, table
from functions.shared.env import require, setting_variable
from functions.shared.events import PollenationNeeded
from functions.shared.observability import gauge, instrumented, logger
from functions.shared.publisher import publish
from functions.shared.scheduled import ScheduledInvocation
from functions.shared.telemetry import FreshnessMetric
from functions.shared.triggers import pollenation_requests

BATCH_SIZE_VARIABLE = setting_variable("regularPollenationBatchSize")
ACTIVE = "active"


def batch_size() -> int:
    raw = require(BATCH_SIZE_VARIABLE)
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise RuntimeError(f"environment variable {BATCH_SIZE_VARIABLE} must be a positive integer, got {raw!r}")
    return size


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    requested_at = ScheduledInvocation.parse(event).moment()
    size = batch_size()
    rows = query(
        table("assets"),
        limit=size,
        IndexName="status-index",
        KeyConditionExpression=Key("status").eq(ACTIVE),
        ScanIndexForward=True,  # oldest lastPollenationDate first
    )

    def request(row: Item) -> PollenationNeeded:
        return PollenationNeeded(symbol=row["symbol"], reason="regular", requestedAt=requested_at)

    requests = pollenation_requests(rows, request)
    published = publish(requests)
    gauge(FreshnessMetric.POLLENATIONS_PLANNED, size)
    gauge(FreshnessMetric.POLLENATIONS_REQUESTED, published)
    logger.info("regular pollenation requested", extra={"batch_size": size, "published": published})
    return {"published": published, "symbols": [r.symbol for r in requests]}
