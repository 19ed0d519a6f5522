"""EventBridge Scheduler expressions and the Sunday maintenance window.

Signal9 runs Monday to Saturday; Sunday (all day, in the schedule's timezone) is the
maintenance window. Scheduler evaluates ``cron(...)`` and ``at(...)`` in the schedule's
own timezone, so a day-of-week field without SUN never fires on a local Sunday, across
daylight-saving changes. ``rate(...)`` ignores the calendar and would fire on Sundays.
"""

from __future__ import annotations

import re
from datetime import datetime

# Scheduler numbers days 1-7 from Sunday.
DAY_NUMBERS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
SUNDAY = DAY_NUMBERS["SUN"]

_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_AT = re.compile(r"^at\((?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\(.*\)$")
_DAY = r"(?:[1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)"
_DAY_ITEM = re.compile(rf"^(?P<start>{_DAY})(?:-(?P<end>{_DAY}))?(?:/(?P<step>\d+)|#(?P<nth>[1-5])|(?P<last>L))?$")


class ScheduleExpressionError(ValueError):
    """An expression that is malformed or could fire inside the Sunday maintenance window."""


def _day(token: str) -> int:
    return DAY_NUMBERS[token] if token in DAY_NUMBERS else int(token)


def days_of_week(field: str) -> frozenset[int]:
    """The days (1=SUN .. 7=SAT) a cron day-of-week field selects; wildcards select all."""
    if field in ("*", "?"):
        return frozenset(range(1, 8))
    days: set[int] = set()
    for item in field.upper().split(","):
        match = _DAY_ITEM.match(item)
        if match is None:
            raise ScheduleExpressionError(f"day-of-week item {item!r} is not valid (use MON-SAT style names or 1-7)")
        start = _day(match["start"])
        end = _day(match["end"]) if match["end"] else (7 if match["step"] else start)
        step = int(match["step"] or 1)
        if step < 1:
            raise ScheduleExpressionError(f"day-of-week step in {item!r} must be at least 1")
        # A range that wraps past Saturday (e.g. FRI-MON) runs through Sunday.
        span = range(start, end + 1) if start <= end else [*range(start, 8), *range(1, end + 1)]
        days.update(list(span)[::step])
    return frozenset(days)


def check_weekday_only(expression: str) -> None:
    """Raise ScheduleExpressionError unless ``expression`` can never fire on a Sunday.

    The check is made in the schedule's own timezone, which is where Scheduler evaluates it.
    """
    if _RATE.match(expression):
        raise ScheduleExpressionError("rate() expressions fire every day, Sundays included; use cron(... MON-SAT *)")
    if at := _AT.match(expression):
        when = datetime.fromisoformat(at["when"])
        if when.isoweekday() == 7:
            raise ScheduleExpressionError(f"at({at['when']}) falls on a Sunday, the maintenance window")
        return
    cron = _CRON.match(expression)
    if cron is None:
        raise ScheduleExpressionError(
            "expected cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
        )
    fields = cron["fields"].split()
    if len(fields) != 6:
        raise ScheduleExpressionError(f"cron() needs 6 fields, got {len(fields)}")
    day_of_month, day_of_week = fields[2], fields[4]
    if day_of_week == "?":
        raise ScheduleExpressionError(
            "day-of-week '?' leaves the day to day-of-month, which reaches Sundays; set MON-SAT"
        )
    if day_of_month != "?":
        raise ScheduleExpressionError("day-of-month must be '?' when day-of-week is set (AWS cron rule)")
    if SUNDAY in days_of_week(day_of_week):
        raise ScheduleExpressionError(f"day-of-week {day_of_week!r} includes Sunday, the maintenance window")
