"""TriggerEarningsPollenation (schedule trigger-earnings-pollenation): the earnings half of pollination.

Queries ``earningsCalendar`` ``upcoming-earnings-index`` for today's and yesterday's
``earnings_date`` and emits one ``pollenationNeeded`` (reason ``earnings``, with
``earningsDate``) per row not yet marked ``processed`` by MarkEarningsProcessed and not
marked ``movedAt`` by SyncEarningsCalendar (a report the calendar no longer lists).

"Today" is the New York calendar date (US exchanges report in New York time) of the
schedule's ``time`` when the input carries one, else of now. The scheduled time, not the
delivery time, keeps a late or retried delivery on the intended day; yesterday is
included so after-close reporters are picked up the next morning.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from boto3.dynamodb.conditions import Key

from functions.shared.clock import market_today_and_yesterday
from functions.shared.dynamo import Item, query, table
from functions.shared.earnings_calendar import pollenation_pending
from functions.shared.events import PollenationNeeded
from functions.shared.observability import instrumented, logger
from functions.shared.publisher import publish
from functions.shared.scheduled import ScheduledInvocation
from functions.shared.triggers import pollenation_requests


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    requested_at = ScheduledInvocation.parse(event).moment()
    dates = market_today_and_yesterday(requested_at)
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
    ]

    def request(row: Item) -> PollenationNeeded:
        return PollenationNeeded(
            symbol=row["asset_symbol"], reason="earnings", requestedAt=requested_at, earningsDate=row["earnings_date"]
        )

    requests = pollenation_requests(rows, request)
    published = publish(requests)
    logger.info(
        "earnings pollenation requested", extra={"dates": [d.isoformat() for d in dates], "published": published}
    )
    return {"published": published, "dates": [d.isoformat() for d in dates], "symbols": [r.symbol for r in requests]}
