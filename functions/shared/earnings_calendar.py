"""The earningsCalendar attributes the collector, the trigger and MarkEarningsProcessed agree on.

``movedAt`` (ISO-8601 UTC) marks a future row that SyncEarningsCalendar no longer found in
AlphaVantage's calendar: the report moved (its new date is a new row) or was withdrawn.
The row is kept, not deleted, and no longer triggers a pollenation; should the calendar
list that date again, the next sync removes the mark.
"""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr, ConditionBase

MOVED_AT = "movedAt"
PROCESSED = "processed"


def pollenation_pending() -> ConditionBase:
    """The rows TriggerEarningsPollenation still owes a pollenation: not processed, not moved."""
    return (Attr(PROCESSED).not_exists() | Attr(PROCESSED).eq(False)) & Attr(MOVED_AT).not_exists()
