"""The earningsCalendar attributes and rules the collector, the trigger, PollenateAsset and MarkEarningsProcessed agree on.

``movedAt`` (ISO-8601 UTC) marks a future row that SyncEarningsCalendar no longer found in
AlphaVantage's calendar: the report moved (its new date is a new row) or was withdrawn.
The row is kept, not deleted, and no longer triggers a pollenation; should the calendar
list that date again, the next sync removes the mark.

When a report is out (docs/collectors.md, "When an earnings pollenation runs"): a ``pre-market`` reporter
from 09:30 New York on its report date (the open), any other (``post-market``, empty or an
unknown value) from 16:00 New York (the close). A row is pollenated by every earnings
trigger run after that until the collected ``EARNINGS`` holds the quarter it announces
(``processed``), for at most :data:`PUBLICATION_DAYS` calendar days after the report date;
a pollenation on or after that last day that still misses the quarter marks the row
``unpublishedAt`` (ISO-8601 UTC) instead. Neither mark is pollenated again.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from boto3.dynamodb.conditions import Attr, ConditionBase

from functions.shared.clock import market_moment
from functions.shared.publication import PUBLICATION_DAYS

MOVED_AT = "movedAt"
PROCESSED = "processed"
UNPUBLISHED_AT = "unpublishedAt"
TIME_OF_THE_DAY = "timeOfTheDay"
FISCAL_DATE_ENDING = "fiscalDateEnding"

# Days back the trigger looks: the publication window plus two, so that a row whose last day
# had no run (no Sunday run; a failed day) still gets its concluding pollenation.
LOOKBACK_DAYS = PUBLICATION_DAYS + 2
MARKET_OPEN = time(9, 30)
MARKET_CLOSE = time(16, 0)
PRE_MARKET = "pre-market"


def pollenation_pending() -> ConditionBase:
    """The rows TriggerEarningsPollenation may still owe a pollenation: not processed, unpublished or moved."""
    return (
        (Attr(PROCESSED).not_exists() | Attr(PROCESSED).eq(False))
        & Attr(MOVED_AT).not_exists()
        & Attr(UNPUBLISHED_AT).not_exists()
    )


def report_out_at(earnings_date: date, time_of_the_day: object) -> datetime:
    """The moment (UTC) a report counts as out: the open for ``pre-market``, else the close (New York time).

    ``time_of_the_day`` is the row's stored ``timeOfTheDay``: absent, empty or unknown counts as after the close.
    """
    return market_moment(earnings_date, MARKET_OPEN if time_of_the_day == PRE_MARKET else MARKET_CLOSE)


def publication_overdue(earnings_date: date, today: date) -> bool:
    """Whether a pollenation on New York date ``today`` is the last one owed: the window has ended."""
    return today >= earnings_date + timedelta(days=PUBLICATION_DAYS)
