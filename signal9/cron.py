"""EventBridge Scheduler expressions and the Sunday maintenance window.

Signal9 runs Monday to Saturday; Sunday (all day, in the schedule's timezone) is the
maintenance window. Scheduler evaluates ``cron(...)`` and ``at(...)`` in the schedule's
own timezone, so a day-of-week field without SUN never fires on a local Sunday, across
daylight-saving changes. ``rate(...)`` ignores the calendar and would fire on Sundays.

``check_weekday_only`` is the one gate every configured expression passes (see
``signal9.config``). It also checks each cron field against AWS's syntax, because
Pulumi's mocks and the local emulator never validate an expression: a typo would only
surface as a failed ``pulumi up``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# Scheduler numbers days 1-7 from Sunday.
DAY_NUMBERS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
SUNDAY = DAY_NUMBERS["SUN"]
MONTH_NUMBERS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}

_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_AT = re.compile(r"^at\((?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\(.*\)$")
# One comma-separated item: '*', a value or a range, then an optional step, nth (#) or last (L).
_ITEM = re.compile(
    r"^(?P<start>\*|\d+|[A-Z]{3})(?:-(?P<end>\d+|[A-Z]{3}))?(?:/(?P<step>\d+)|#(?P<nth>\d+)|(?P<last>L))?$"
)


class ScheduleExpressionError(ValueError):
    """An expression that is malformed or could fire inside the Sunday maintenance window."""


@dataclass(frozen=True)
class CronField:
    """One position of a six-field AWS cron expression and the values it accepts."""

    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)
    # Only day-of-week may wrap past its end (FRI-MON) or use #n / nL (AWS cron rules).
    weekday: bool = False

    @property
    def allowed(self) -> str:
        ordered = sorted(self.names, key=self.names.__getitem__)
        names = f" or {ordered[0]}-{ordered[-1]}" if ordered else ""
        return f"{self.low}-{self.high}{names}, '*', lists a,b, ranges a-b, steps a/n"

    def value(self, token: str) -> int:
        if token in self.names:
            return self.names[token]
        if token.isdigit() and self.low <= int(token) <= self.high:
            return int(token)
        raise ScheduleExpressionError(f"{self.name} value {token!r} is not valid; allowed: {self.allowed}")

    def values(self, text: str) -> frozenset[int]:
        """The values this field selects, e.g. ``MON-SAT`` -> {2..7}; raises on bad syntax."""
        selected: set[int] = set()
        for item in text.split(","):
            selected.update(self._item(item))
        return frozenset(selected)

    def _item(self, item: str) -> list[int]:
        match = _ITEM.match(item.upper())
        if match is None or ((match["nth"] or match["last"]) and not self.weekday):
            raise ScheduleExpressionError(f"{self.name} item {item!r} is not valid; allowed: {self.allowed}")
        if match["nth"] or match["last"]:
            # 2#1 = first Monday of the month, 6L = last Friday: a single day either way.
            if match["start"] == "*" or match["end"]:
                raise ScheduleExpressionError(f"{self.name} item {item!r}: # and L take a single day")
            if match["nth"] and not 1 <= int(match["nth"]) <= 5:
                raise ScheduleExpressionError(f"{self.name} item {item!r}: #n must be 1-5")
            return [self.value(match["start"])]
        if match["start"] == "*":
            if match["end"]:
                raise ScheduleExpressionError(f"{self.name} item {item!r} is not valid; allowed: {self.allowed}")
            start, end = self.low, self.high
        else:
            start = self.value(match["start"])
            end = self.value(match["end"]) if match["end"] else (self.high if match["step"] else start)
        step = int(match["step"] or 1)
        if step < 1:
            raise ScheduleExpressionError(f"{self.name} step in {item!r} must be at least 1")
        if start <= end:
            return list(range(start, end + 1, step))
        if not self.weekday:
            raise ScheduleExpressionError(f"{self.name} range {item!r} runs backwards; write it low-high")
        # A day range that wraps past Saturday (e.g. FRI-MON) runs through Sunday.
        return [*range(start, self.high + 1), *range(self.low, end + 1)][::step]


MINUTES = CronField("minutes", 0, 59)
HOURS = CronField("hours", 0, 23)
MONTHS = CronField("month", 1, 12, MONTH_NUMBERS)
DAYS_OF_WEEK = CronField("day-of-week", 1, 7, DAY_NUMBERS, weekday=True)
YEARS = CronField("year", 1970, 2199)


def days_of_week(text: str) -> frozenset[int]:
    """The days (1=SUN .. 7=SAT) a cron day-of-week field selects; wildcards select all."""
    if text == "?":
        return frozenset(range(1, 8))
    return DAYS_OF_WEEK.values(text)


@dataclass(frozen=True)
class WeekdayRule:
    """A day-of-week field as a rule: plain days, ``d#n`` (nth d of the month), ``dL`` (last d)."""

    days: frozenset[int]  # 1=SUN .. 7=SAT, every week
    nth: frozenset[tuple[int, int]]  # (day, n): the nth such day of the month
    last: frozenset[int]  # the last such day of the month

    def matches(self, day: date) -> bool:
        weekday = day.isoweekday() % 7 + 1
        return (
            weekday in self.days
            or (weekday, (day.day - 1) // 7 + 1) in self.nth
            or (weekday in self.last and (day + timedelta(days=7)).month != day.month)
        )


def weekday_rule(text: str) -> WeekdayRule:
    """The rule a day-of-week field encodes; ``?`` selects every day. Raises on bad syntax."""
    if text == "?":
        return WeekdayRule(frozenset(range(1, 8)), frozenset(), frozenset())
    days: set[int] = set()
    nth: set[tuple[int, int]] = set()
    last: set[int] = set()
    for item in text.split(","):
        selected = DAYS_OF_WEEK._item(item)  # validates; # and L select a single day
        match = _ITEM.match(item.upper())
        assert match is not None  # _item accepted it
        if match["nth"]:
            nth.add((selected[0], int(match["nth"])))
        elif match["last"]:
            last.add(selected[0])
        else:
            days.update(selected)
    return WeekdayRule(frozenset(days), frozenset(nth), frozenset(last))


@dataclass(frozen=True)
class CronSchedule:
    """The values each field of a ``cron(...)`` expression selects.

    Day-of-month is not expanded: Signal9 requires it to be ``?`` (see check_weekday_only).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    weekdays: WeekdayRule
    years: frozenset[int]

    def fires_on(self, day: date) -> bool:
        """Whether the schedule fires at all on ``day`` (its own local calendar)."""
        return day.year in self.years and day.month in self.months and self.weekdays.matches(day)


def _six_fields(text: str) -> list[str]:
    fields = text.split()
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    return fields


def expand(expression: str) -> CronSchedule | None:
    """The expanded fields of a ``cron(...)`` expression; None for ``at()``/``rate()``/other text.

    Raises ScheduleExpressionError on a malformed cron field.
    """
    cron = _CRON.match(expression)
    if cron is None:
        return None
    fields = _six_fields(cron["fields"])
    minutes, hours, _, month, day_of_week, year = fields
    return CronSchedule(
        minutes=MINUTES.values(minutes),
        hours=HOURS.values(hours),
        months=MONTHS.values("*" if month == "?" else month),
        weekdays=weekday_rule(day_of_week),
        years=YEARS.values("*" if year == "?" else year),
    )


def _check_at(when: str) -> None:
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        raise ScheduleExpressionError(f"at({when}) is not a real date and time") from None
    if moment.isoweekday() == 7:
        raise ScheduleExpressionError(f"at({when}) falls on a Sunday, the maintenance window")


def check_weekday_only(expression: str) -> None:
    """Raise ScheduleExpressionError unless ``expression`` is valid and can never fire on a Sunday.

    The check is made in the schedule's own timezone, which is where Scheduler evaluates it.
    """
    if _RATE.match(expression):
        raise ScheduleExpressionError("rate() expressions fire every day, Sundays included; use cron(... MON-SAT *)")
    if at := _AT.match(expression):
        _check_at(at["when"])
        return
    cron = _CRON.match(expression)
    if cron is None:
        raise ScheduleExpressionError(
            "expected cron(minutes hours day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
        )
    fields = _six_fields(cron["fields"])
    minutes, hours, day_of_month, month, day_of_week, year = fields
    for spec, text in ((MINUTES, minutes), (HOURS, hours), (MONTHS, month), (YEARS, year)):
        spec.values(text)
    if day_of_week == "?":
        raise ScheduleExpressionError(
            "day-of-week '?' leaves the day to day-of-month, which reaches Sundays; set MON-SAT"
        )
    if day_of_month != "?":
        raise ScheduleExpressionError("day-of-month must be '?' when day-of-week is set (AWS cron rule)")
    if SUNDAY in days_of_week(day_of_week):
        raise ScheduleExpressionError(f"day-of-week {day_of_week!r} includes Sunday, the maintenance window")


# How far ahead next_fire looks: a valid Signal9 schedule fires within days; a year field
# pinned further out than this is treated as never firing.
NEXT_FIRE_HORIZON_DAYS = 5 * 366


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that Scheduler fires ``expression`` in ``timezone``.

    The expression must pass :func:`check_weekday_only` (it is evaluated on the local calendar
    of ``timezone``, as Scheduler does). A local time that daylight saving skips resolves to the
    same wall time after the change (zoneinfo's fold=0). Raises ScheduleExpressionError for an
    invalid expression or one that does not fire within NEXT_FIRE_HORIZON_DAYS.
    """
    if after.tzinfo is None:
        raise ValueError("next_fire needs a timezone-aware 'after'")
    check_weekday_only(expression)
    zone = ZoneInfo(timezone)
    if at := _AT.match(expression):
        moment = datetime.fromisoformat(at["when"]).replace(tzinfo=zone)
        if moment <= after:
            raise ScheduleExpressionError(f"{expression} is in the past: it will not fire again")
        return moment
    schedule = expand(expression)
    assert schedule is not None  # check_weekday_only accepts only at() and cron()
    day = after.astimezone(zone).date()
    for _ in range(NEXT_FIRE_HORIZON_DAYS):
        if schedule.fires_on(day):
            for hour in sorted(schedule.hours):
                for minute in sorted(schedule.minutes):
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if moment > after:
                        return moment
        day += timedelta(days=1)
    raise ScheduleExpressionError(f"{expression} does not fire in the next {NEXT_FIRE_HORIZON_DAYS} days")
