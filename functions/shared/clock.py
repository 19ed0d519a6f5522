"""Time conventions shared by the handlers.

Stored timestamps are ISO-8601 UTC with millisecond precision and a ``Z`` suffix, fixed
width, so they sort lexicographically in DynamoDB sort keys. Market dates (earnings dates)
are calendar dates in New York, where US exchanges report, whatever the stack's schedule
timezone is.

New York time comes from the IANA database (``zoneinfo``). Should the run time lack it
(no system tzdata and no ``tzdata`` package; only Powertools, pydantic and boto3 are
guaranteed), :func:`new_york_offset` applies the US rule in force since 2007 (EDT from
the second Sunday of March to the first Sunday of November, 02:00 local) instead of
failing every run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EST = timedelta(hours=-5)
EDT = timedelta(hours=-4)


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def new_york_offset(moment: datetime) -> timedelta:
    """New York's UTC offset at ``moment`` by the 2007 US DST rule (no tz database needed)."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    starts = datetime.combine(_nth_sunday(utc.year, 3, 2), datetime.min.time()) + timedelta(hours=2) - EST
    ends = datetime.combine(_nth_sunday(utc.year, 11, 1), datetime.min.time()) + timedelta(hours=2) - EDT
    return EDT if starts <= utc < ends else EST


def _market_timezone() -> tzinfo | None:
    try:
        return ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:
        return None


MARKET_TIMEZONE = _market_timezone()


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """``2026-11-02T20:00:00.000Z``; ``moment`` must be timezone-aware."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: Signal9 stores only timezone-aware moments")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def market_date(moment: datetime) -> date:
    """The New York calendar date of ``moment``."""
    if MARKET_TIMEZONE is not None:
        return moment.astimezone(MARKET_TIMEZONE).date()
    return (moment.astimezone(UTC) + new_york_offset(moment)).date()


def market_moment(day: date, wall: time) -> datetime:
    """The UTC moment of New York wall time ``wall`` on ``day`` (the inverse of :func:`market_date`)."""
    if MARKET_TIMEZONE is not None:
        return datetime.combine(day, wall, tzinfo=MARKET_TIMEZONE).astimezone(UTC)
    # Without a tz database: the offset at New York noon of that day (DST switches at 02:00).
    noon = datetime.combine(day, time(17, 0), tzinfo=UTC)
    return datetime.combine(day, wall, tzinfo=UTC) - new_york_offset(noon)
