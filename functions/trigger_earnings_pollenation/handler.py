"""TriggerEarningsPollenation (schedule trigger-earnings-pollenation): the earnings half of pollination.

Emits one ``pollenationNeeded`` (reason ``earnings``, with the row's ``earningsDate`` and
``fiscalDateEnding``) per ``earningsCalendar`` row whose report is out and that is still
unconcluded (``functions.shared.earnings_calendar``): not ``processed``, not
``unpublishedAt``, not ``movedAt``. A report is out from 09:30 New York on its date for a
``pre-market`` reporter, from 16:00 for any other; with the default 07:00 schedule that is
the next morning's run for both. Rows are read with one ``upcoming-earnings-index`` Query per
date of the look-back (today and ``LOOKBACK_DAYS`` before), so a row not yet published is
asked for again each run until PollenateAsset concludes it.

"Now" is the schedule's ``time`` when the input carries one, else the current time: the
scheduled time, not the delivery time, keeps a late or retried delivery on the intended run.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key

from functions.shared.clock import market_date
from functions.shared.dynamo import Item, query, table
from functions.shared.earnings_calendar import (
    FISCAL_DATE_ENDING,
    LOOKBACK_DAYS,
    TIME_OF_THE_DAY,
    pollenation_pending,
    report_out_at,
)
from functions.shared.events import PollenationNeeded
from functions.shared.observability import gauge, instrumented, logger
from functions.shared.publisher import publish
from functions.shared.scheduled import ScheduledInvocation
from functions.shared.telemetry import FreshnessMetric
from functions.shared.triggers import pollenation_requests


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    requested_at = ScheduledInvocation.parse(event).moment()
    today = market_date(requested_at)
    dates = [today - timedelta(days=back) for back in range(LOOKBACK_DAYS + 1)]
    calendar = table("earningsCalendar")
    rows = [
        row
        for day in dates
        for row in query(
            calendar,
            IndexName="upcoming-earnings-index",
            KeyConditionExpression=Key("earnings_date").eq(day.isoformat()),
            FilterExpression=pollenation_pending(),
        )
        if report_out_at(day, row.get(TIME_OF_THE_DAY)) <= requested_at
    ]

    def request(row: Item) -> PollenationNeeded:
        return PollenationNeeded(
            symbol=row["asset_symbol"],
            reason="earnings",
            requestedAt=requested_at,
            earningsDate=row["earnings_date"],
            fiscalDateEnding=row.get(FISCAL_DATE_ENDING),
        )

    requests = pollenation_requests(rows, request)
    published = publish(requests)
    oldest = min((date.fromisoformat(row["earnings_date"]) for row in rows), default=today)
    gauge(FreshnessMetric.EARNINGS_ROWS_WAITING, len(rows))
    gauge(FreshnessMetric.OLDEST_UNPROCESSED_REPORT_DAYS, (today - oldest).days)
    gauge(FreshnessMetric.POLLENATIONS_REQUESTED, published)
    logger.info(
        "earnings pollenation requested", extra={"dates": [d.isoformat() for d in dates], "published": published}
    )
    return {"published": published, "dates": [d.isoformat() for d in dates], "symbols": [r.symbol for r in requests]}
