"""The missed-run alarms, evaluated as deployed over synthetic weeks with a Sunday and a DST change.

The alarm definitions come from the Pulumi program's registered MetricAlarm inputs; the
expressions are evaluated by tests/metric_math.py (written from CloudWatch's documentation, not
from signal9.dashboard). The synthetic runs come from the fire times written out below, placed
on New York's calendar with zoneinfo, not from signal9.cron.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from signal9 import catalog, dashboard
from signal9.config import ScheduleOverride, StackConfig
from signal9.naming import Naming
from signal9_tools.mockrun import ProgramRun
from tests.metric_math import Alarm, Series, evaluate

NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600
EVALUATION_STEP = 10 * 60
# Each scheduled function's fire times in New York, Monday to Saturday (hours, minute): the
# catalog's expressions, read by hand.
FIRE_TIMES: dict[str, tuple[tuple[int, ...], int]] = {
    "SyncAssets": ((5,), 30),
    "SyncEarningsCalendar": ((6,), 0),
    "TriggerEarningsPollenation": ((7,), 0),
    "TriggerRegularPollenation": ((20,), 0),
    "SyncNewsSentiment": (tuple(range(24)), 0),
}
# Two weeks around each 2026 change: clocks go back on Sunday 1 November, forward on Sunday 8 March.
AUTUMN = (date(2026, 10, 26), date(2026, 11, 9))
SPRING = (date(2026, 3, 2), date(2026, 3, 16))


def fire_times(function: str, first: date, end: date) -> Iterator[datetime]:
    hours, minute = FIRE_TIMES[function]
    day = first
    while day < end:
        if day.isoweekday() != 7:  # Sunday is the maintenance window
            for hour in hours:
                yield datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)
        day += timedelta(days=1)


def metrics(
    function: str, span: tuple[date, date], missed: Collection[datetime] = (), failed: Collection[datetime] = ()
) -> dict[str, Series]:
    """Raw Invocations and Errors datapoints of runs at every fire time, but none for ``missed``."""
    invocations: Series = {}
    errors: Series = {}
    # Runs continue a day past the span, where the evaluations below end.
    for fire in fire_times(function, span[0], span[1] + timedelta(days=1)):
        if fire in missed:
            continue
        # Scheduler invokes a few seconds after the fire time. A failed run is tried three
        # times (Lambda's two async retries, about a minute apart), each attempt an error.
        attempts = 3 if fire in failed else 1
        for attempt in range(attempts):
            moment = int(fire.timestamp()) + 5 + 60 * attempt
            invocations[moment] = 1
            if fire in failed:
                errors[moment] = 1
    return {"invocations": invocations, "errors": errors}


def deployed_alarm(run: ProgramRun, function: str) -> Alarm:
    inputs = run.named(f"{function}-missed-run-alarm").inputs
    queries = {q["id"]: q for q in inputs["metricQueries"]}
    assert queries["invocations"]["metric"]["metricName"] == "Invocations"
    assert queries["errors"]["metric"]["metricName"] == "Errors"
    assert {q["metric"]["stat"] for q in (queries["invocations"], queries["errors"])} == {"Sum"}
    (result,) = [q for q in inputs["metricQueries"] if q["returnData"]]
    period = int(queries["invocations"]["metric"]["period"])  # the mocks hand numbers back as floats
    assert queries["errors"]["metric"]["period"] == period
    return Alarm(
        expression=result["expression"],
        period=period,
        evaluation_periods=int(inputs["evaluationPeriods"]),
        datapoints_to_alarm=int(inputs["datapointsToAlarm"]),
        threshold=inputs["threshold"],
        comparison=inputs["comparisonOperator"],
        treat_missing_data=inputs["treatMissingData"],
    )


def alarm_times(alarm: Alarm, series: dict[str, Series], span: tuple[date, date], **reading: bool) -> list[datetime]:
    """Every evaluation over the span (plus a day) that found the alarm breaching (``reading``: see metric_math).

    CloudWatch evaluates every minute; every ``EVALUATION_STEP`` seconds keeps the test fast while
    still landing between hour boundaries.
    """
    start = int(datetime(span[0].year, span[0].month, span[0].day, tzinfo=UTC).timestamp())
    end = int(datetime(span[1].year, span[1].month, span[1].day, tzinfo=UTC).timestamp()) + 24 * HOUR
    return [
        datetime.fromtimestamp(now, UTC)
        for now in range(start + alarm.period * alarm.evaluation_periods, end, EVALUATION_STEP)
        if alarm.in_alarm(series, now, **reading)
    ]


def local(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)


@pytest.mark.parametrize("function", list(FIRE_TIMES))
def test_fire_times_here_are_the_catalogs(function: str) -> None:
    hours, minute = FIRE_TIMES[function]
    hour_field = "*" if len(hours) == 24 else ",".join(map(str, hours))
    assert (
        catalog.schedule_trigger(catalog.function(function)).expression == f"cron({minute} {hour_field} ? * MON-SAT *)"
    )


@pytest.mark.parametrize("span", [AUTUMN, SPRING], ids=["autumn", "spring"])
@pytest.mark.parametrize("function", list(FIRE_TIMES))
def test_normal_weeks_with_a_sunday_and_a_dst_change_never_alarm(
    prod: ProgramRun, function: str, span: tuple[date, date]
) -> None:
    alarm = deployed_alarm(prod, function)
    assert alarm_times(alarm, metrics(function, span), span) == []


@pytest.mark.parametrize("tuesday", [date(2026, 10, 27), date(2026, 11, 3)], ids=["summer-time", "winter-time"])
@pytest.mark.parametrize("function", [f for f, (hours, _) in FIRE_TIMES.items() if len(hours) == 1])
def test_a_missed_tuesday_run_alarms_within_three_hours(prod: ProgramRun, function: str, tuesday: date) -> None:
    (hour,), minute = FIRE_TIMES[function]
    fire = local(tuesday, hour, minute)
    alarm = deployed_alarm(prod, function)
    times = alarm_times(alarm, metrics(function, AUTUMN, missed={fire}), AUTUMN)
    assert times, f"{function}: a missed run on {fire} did not alarm"
    assert all(fire < t <= fire + timedelta(hours=3) for t in times), times


@pytest.mark.parametrize("function", [f for f, (hours, _) in FIRE_TIMES.items() if len(hours) == 1])
def test_a_failed_tuesday_run_alarms(prod: ProgramRun, function: str) -> None:
    (hour,), minute = FIRE_TIMES[function]
    fire = local(date(2026, 11, 3), hour, minute)
    assert alarm_times(deployed_alarm(prod, function), metrics(function, AUTUMN, failed={fire}), AUTUMN)


def test_a_missed_saturday_evening_run_alarms_on_the_utc_sunday(prod: ProgramRun) -> None:
    fire = local(date(2026, 10, 31), 20, 0)  # Saturday 20:00 in New York is Sunday 00:00 UTC
    times = alarm_times(
        deployed_alarm(prod, "TriggerRegularPollenation"),
        metrics("TriggerRegularPollenation", AUTUMN, missed={fire}),
        AUTUMN,
    )
    assert times and all(t.isoweekday() == 7 for t in times)


def test_the_hourly_schedule_alarms_on_three_missed_runs_in_a_row_not_two(prod: ProgramRun) -> None:
    # Three: the window reaches an hour before each fire time (periods start at any minute), and
    # the last Saturday run under either UTC offset must still fall inside it.
    alarm = deployed_alarm(prod, "SyncNewsSentiment")
    tuesday = date(2026, 11, 3)
    two = {local(tuesday, 10, 0), local(tuesday, 11, 0)}
    three = two | {local(tuesday, 12, 0)}
    assert alarm_times(alarm, metrics("SyncNewsSentiment", AUTUMN, missed=two), AUTUMN) == []
    times = alarm_times(alarm, metrics("SyncNewsSentiment", AUTUMN, missed=three), AUTUMN)
    assert times and all(local(tuesday, 12, 0) < t <= local(tuesday, 13, 0) for t in times)


def test_dev_has_no_missed_run_alarms_to_stay_in_budget(dev: ProgramRun) -> None:
    names = [alarm.inputs["name"] for alarm in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert names and not [name for name in names if name.endswith("-missed-run")]


def test_a_disabled_schedule_gets_no_missed_run_alarm() -> None:
    config = StackConfig(schedules={"sync-news-sentiment": ScheduleOverride(enabled=False)})
    keys = {spec.key for spec in dashboard.alarm_specs(Naming("dev"), config)}
    assert "SyncNewsSentiment-missed-run" not in keys and "SyncAssets-missed-run" in keys


def test_windows_follow_the_stacks_timezone() -> None:
    # A UTC stack has one offset: the 05:30 run's window is the 05:00 hour and the hour before.
    windows = dashboard.missed_run_windows("cron(30 5 ? * MON-SAT *)", "UTC", date(2026, 1, 1))
    assert windows == dashboard.MissedRunWindows(frozenset(d * 24 + h for d in range(6) for h in (4, 5)), 2)
    assert dashboard.missed_run_windows("cron(0 6 ? * 2#1 *)", "UTC", date(2026, 1, 1)) is None


def test_the_dashboard_graphs_each_alarms_expression(prod: ProgramRun) -> None:
    (resource,) = prod.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = json.loads(resource.plain_inputs["dashboardBody"])["widgets"]
    (widget,) = [w for w in widgets if w["properties"].get("title", "").startswith("Missed scheduled runs")]
    graphed = {
        row[0]["label"]: row[0]["expression"] for row in widget["properties"]["metrics"] if "expression" in row[0]
    }
    assert list(graphed) == list(FIRE_TIMES)
    for i, (function, expression) in enumerate(graphed.items()):
        alarm = deployed_alarm(prod, function).expression
        assert expression == alarm.replace("invocations", f"invocations{i}").replace("errors", f"errors{i}")


@pytest.mark.parametrize("fill_empty", [False, True], ids=["fill-skips-empty", "fill-fills-empty"])
@pytest.mark.parametrize("function", list(FIRE_TIMES))
def test_a_schedule_silent_for_a_whole_week_alarms_every_due_day(
    prod: ProgramRun, function: str, fill_empty: bool
) -> None:
    # Switched off on the Sunday before AUTUMN's second week: not one datapoint all week. The
    # alarm must not depend on how FILL treats a series with no data at all (undocumented).
    silent_week = (date(2026, 11, 2), date(2026, 11, 9))
    alarm = deployed_alarm(prod, function)
    times = alarm_times(alarm, {}, silent_week, fill_empty=fill_empty)
    due_days = {local(d, 12, 0).date() for d in (silent_week[0] + timedelta(days=n) for n in range(6))}
    alarmed_days = {t.astimezone(NEW_YORK).date() for t in times}
    assert due_days <= alarmed_days, f"{function}: silent on {sorted(due_days - alarmed_days)} without an alarm"


def test_the_date_functions_read_each_period_start_in_utc() -> None:
    """DAY, HOUR and MINUTE from epoch arithmetic in the evaluator: what datetime reads in UTC, DST weeks too."""
    starts = [int(datetime(2026, month, day, tzinfo=UTC).timestamp()) for month, day in ((3, 7), (10, 31), (12, 28))]
    minutes = [start + 60 * n for start in starts for n in range(0, 8 * 24 * 60, 7)]
    read: dict[str, Callable[[datetime], int]] = {
        "DAY": datetime.isoweekday,
        "HOUR": lambda moment: moment.hour,
        "MINUTE": lambda moment: moment.minute,
    }
    for name, field in read.items():
        expected = {t: float(field(datetime.fromtimestamp(t, UTC))) for t in minutes}
        assert evaluate(f"{name}(m)", {"m": {}}, minutes, 60) == expected, name


def test_every_hour_of_the_range_has_a_datapoint_even_without_data() -> None:
    # Why notBreaching vs breaching hardly matters as documented: the expression is never empty.
    windows = dashboard.missed_run_windows("cron(0 6 ? * MON-SAT *)", "America/New_York", date(2026, 1, 1))
    assert windows is not None
    start = int(datetime(2026, 11, 3, tzinfo=UTC).timestamp())
    hours = [start + HOUR * n for n in range(24)]
    values = evaluate(dashboard.missed_run_expression(windows), {}, hours, HOUR)
    assert sorted(values) == hours
    # Tuesday 06:00 New York is 10:00 UTC in summer time, 11:00 in winter: its window runs 09:00-11:00 UTC.
    assert [datetime.fromtimestamp(t, UTC).hour for t, v in values.items() if v == 1] == [9, 10, 11]


def test_if_date_functions_skipped_an_empty_series_the_alarm_would_fail_loud(prod: ProgramRun) -> None:
    # The reading opposite to the documentation: no datapoint without data. With breaching, the
    # alarm then fires at quiet hours of a normal week (noticed at once) rather than never.
    alarm = deployed_alarm(prod, "SyncAssets")
    assert alarm_times(alarm, metrics("SyncAssets", AUTUMN), AUTUMN, sparse_dates=True)
    assert alarm_times(alarm, {}, AUTUMN, sparse_dates=True)


# --- a first deploy is quiet ---------------------------------------------------------------------
# A week around each 2026 clock change (Sunday 8 March, Sunday 1 November), Thursday to Wednesday.
DEPLOY_WEEKS = {"spring": date(2026, 3, 5), "autumn": date(2026, 10, 29)}
# The deploy workflow marks a deploy just before `pulumi up` (deploy.yml); the functions exist from then on.
MARKED_BEFORE_CREATION = timedelta(minutes=5)


def first_deploy(runs: dict[str, Series], deployed: datetime, until: int | None = None) -> dict[str, Series]:
    """A stack new at ``deployed``: none of ``runs`` before it (the functions did not exist; none after
    ``until`` either, which no evaluation reads), and the mark the deploy workflow put just before."""
    created = deployed.timestamp()
    end = until if until is not None else float("inf")
    series = {name: {t: v for t, v in points.items() if created <= t <= end} for name, points in runs.items()}
    series["deployed"] = {int(created - MARKED_BEFORE_CREATION.total_seconds()): 1}
    return series


def evaluations_after(alarm: Alarm, deployed: datetime) -> range:
    """Every evaluation from the alarm's creation until its range holds only periods after the deploy
    (from then on it reads as any normal week: test_normal_weeks_with_a_sunday_and_a_dst_change_never_alarm)."""
    created = int(deployed.timestamp())
    return range(created, created + alarm.period * alarm.evaluation_periods + EVALUATION_STEP, EVALUATION_STEP)


@pytest.mark.parametrize("week", list(DEPLOY_WEEKS), ids=list(DEPLOY_WEEKS))
@pytest.mark.parametrize("function", list(FIRE_TIMES))
def test_a_first_deploy_at_any_hour_of_a_dst_week_raises_no_missed_run_alarm(
    prod: ProgramRun, function: str, week: str
) -> None:
    alarm = deployed_alarm(prod, function)
    first = DEPLOY_WEEKS[week]
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    runs = metrics(function, (first - timedelta(days=1), first + timedelta(days=8)))
    alarmed = []
    for hour in range(7 * 24):
        for minute in (5, 40):  # just after a fire on the hour, and well into the hour
            deployed = start + timedelta(hours=hour, minutes=minute)
            evaluations = evaluations_after(alarm, deployed)
            series = first_deploy(runs, deployed, until=evaluations[-1])
            alarmed += [deployed for now in evaluations if alarm.in_alarm(series, now)][:1]
    assert alarmed == [], f"{function}: in ALARM after a first deploy at {[d.isoformat() for d in alarmed[:5]]}"


@pytest.mark.parametrize("function", [f for f, (hours, _) in FIRE_TIMES.items() if len(hours) == 1])
def test_after_a_first_deploy_a_missed_run_still_alarms(prod: ProgramRun, function: str) -> None:
    (hour,), minute = FIRE_TIMES[function]
    deployed = local(date(2026, 11, 2), 13, 10)  # Monday afternoon: the first due run is Tuesday's
    missed = local(date(2026, 11, 3), hour, minute) if hour < 13 else local(date(2026, 11, 2), hour, minute)
    alarm = deployed_alarm(prod, function)
    series = first_deploy(metrics(function, AUTUMN, missed={missed}), deployed)
    start = int(deployed.timestamp())
    times = [now for now in range(start, start + 36 * HOUR, EVALUATION_STEP) if alarm.in_alarm(series, now)]
    assert times and all(missed.timestamp() < t <= missed.timestamp() + 3 * HOUR for t in times)


def test_the_hourly_schedule_still_alarms_on_three_missed_runs_right_after_a_deploy(prod: ProgramRun) -> None:
    deployed = local(date(2026, 11, 3), 9, 40)
    missed = {local(date(2026, 11, 3), h, 0) for h in (13, 14, 15)}
    alarm = deployed_alarm(prod, "SyncNewsSentiment")
    series = first_deploy(metrics("SyncNewsSentiment", AUTUMN, missed=missed), deployed)
    start = int(deployed.timestamp())
    times = [now for now in range(start, start + 12 * HOUR, EVALUATION_STEP) if alarm.in_alarm(series, now)]
    assert times and all(local(date(2026, 11, 3), 15, 0).timestamp() < t for t in times)
