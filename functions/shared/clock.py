"""Time conventions shared by the handlers.

Stored timestamps are ISO-8601 UTC with millisecond precision and a ``Z`` suffix, fixed
width, so they sort lexicographically in DynamoDB sort keys. Market dates (earnings dates)
are calendar dates in New York, where US exchanges report, whatever the stack's schedule
timezone is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MARKET_TIMEZONE = ZoneInfo("America/New_York")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """``2026-11-02T20:00:00.000Z``; ``moment`` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Signal9 stores only timezone-aware moments")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def market_date(moment: datetime) -> date:
    """The New York calendar date of ``moment``."""
    return moment.astimezone(MARKET_TIMEZONE).date()


def market_today_and_yesterday(moment: datetime) -> tuple[date, date]:
    today = market_date(moment)
    return today, today - timedelta(days=1)
