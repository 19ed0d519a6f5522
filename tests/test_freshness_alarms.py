"""The earnings-overdue alarm, evaluated as deployed over synthetic weeks with a Sunday and a DST change.

TriggerEarningsPollenation runs at 07:00 New York, Monday to Saturday, and gauges the age in
days of the oldest report still waiting (OldestUnprocessedReportDays). A report dated D is
concluded by the first run on or after D + PUBLICATION_DAYS (5): that run still reads the row
before its pollenation concludes it. When D + 5 is a Sunday, that run is Monday's and reads 6.
The alarm must stay silent for that, and fire for a row still waiting after its concluding run.
The definition comes from the program's registered MetricAlarm; tests/metric_math.py evaluates
it from CloudWatch's documentation. The runs come from fire times written out here, not from
signal9.cron.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from functions.shared.publication import PUBLICATION_DAYS
from signal9 import dashboard
from signal9_tools.mockrun import ProgramRun
from tests.metric_math import Alarm, Series

NEW_YORK = ZoneInfo("America/New_York")
GAUGE = "OldestUnprocessedReportDays"
# Two weeks around each 2026 change: clocks go back on Sunday 1 November, forward on Sunday 8 March.
AUTUMN = date(2026, 10, 26)
SPRING = date(2026, 3, 2)
EVALUATION_STEP = 10 * 60


def trigger_runs(first: date, days: int) -> Iterator[datetime]:
    """The earnings trigger's fire times (07:00 New York, Monday to Saturday) from ``first`` on."""
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day.isoweekday() != 7:
            yield datetime(day.year, day.month, day.day, 7, 0, tzinfo=NEW_YORK)


def gauge_datapoints(report: date, runs: list[datetime], concluded: bool) -> Series:
    """What each run emits for one report out after the close of ``report``: its age while it waits, else 0.

    ``concluded``: the concluding run's pollenation concludes it; otherwise it keeps waiting.
    """
    due = report + timedelta(days=PUBLICATION_DAYS)
    concluding = next(run for run in runs if run.date() >= due)
    series: Series = {}
    for run in runs:
        waiting = report < run.date() and (run <= concluding or not concluded)
        # Emitted when the run ends, a few seconds after the fire time.
        series[int(run.timestamp()) + 5] = float((run.date() - report).days) if waiting else 0.0
    return series


def deployed_alarm(run: ProgramRun) -> tuple[Alarm, str]:
    """The earnings-overdue alarm as registered, and the name its expression gives the gauge."""
    (inputs,) = [
        a.inputs
        for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["name"].endswith("-earnings-overdue")
    ]
    settings = {
        "evaluation_periods": int(inputs["evaluationPeriods"]),
        "datapoints_to_alarm": int(inputs.get("datapointsToAlarm", inputs["evaluationPeriods"])),
        "threshold": inputs["threshold"],
        "comparison": inputs["comparisonOperator"],
        "treat_missing_data": inputs["treatMissingData"],
    }
    if "metricQueries" not in inputs:  # a plain metric alarm: its datapoints are the gauge's
        assert (inputs["metricName"], inputs["statistic"]) == (GAUGE, "Maximum")
        return Alarm(expression="gauge", period=int(inputs["period"]), **settings), "gauge"
    (result,) = [q for q in inputs["metricQueries"] if q["returnData"]]
    (gauge,) = [q for q in inputs["metricQueries"] if not q["returnData"]]
    metric = gauge["metric"]
    assert (metric["metricName"], metric["stat"], metric["dimensions"]["service"]) == (
        GAUGE,
        "Maximum",
        "TriggerEarningsPollenation",
    )
    return Alarm(expression=result["expression"], period=int(metric["period"]), **settings), gauge["id"]


def alarm_times(run: ProgramRun, series: Series, runs: list[datetime]) -> list[datetime]:
    """Evaluations (every EVALUATION_STEP seconds, from an hour before each run to six hours after) in ALARM."""
    alarm, name = deployed_alarm(run)
    moments = sorted(
        {
            moment
            for fire in runs
            for moment in range(int(fire.timestamp()) - 3600, int(fire.timestamp()) + 6 * 3600, EVALUATION_STEP)
        }
    )
    return [datetime.fromtimestamp(m, UTC) for m in moments if alarm.in_alarm({name: series}, m)]


REPORT_DAYS = [AUTUMN + timedelta(days=n) for n in range(7)] + [SPRING + timedelta(days=n) for n in range(7)]


@pytest.mark.parametrize("report", REPORT_DAYS, ids=lambda d: f"{d:%a-%b%d}")
def test_a_report_concluded_by_its_concluding_run_never_alarms(prod: ProgramRun, report: date) -> None:
    runs = list(trigger_runs(report - timedelta(days=1), 14))
    series = gauge_datapoints(report, runs, concluded=True)
    assert alarm_times(prod, series, runs) == []


@pytest.mark.parametrize("report", REPORT_DAYS, ids=lambda d: f"{d:%a-%b%d}")
def test_a_report_still_waiting_after_its_concluding_run_alarms_at_the_next_run(prod: ProgramRun, report: date) -> None:
    runs = list(trigger_runs(report - timedelta(days=1), 14))
    due = report + timedelta(days=PUBLICATION_DAYS)
    concluding = next(run for run in runs if run.date() >= due)
    following = runs[runs.index(concluding) + 1]
    times = alarm_times(prod, gauge_datapoints(report, runs, concluded=False), runs)
    assert times, f"a report of {report:%a %d %b} still waiting at {following:%a %d %b} did not alarm"
    assert following < min(times) <= following + timedelta(hours=1), (following, times[:3])


def test_the_allowance_follows_the_triggers_own_schedule() -> None:
    # Scheduler's numbering: 2 = MON, 4 = WED, 6 = FRI. Monday follows two days without a run.
    assert dashboard.idle_days_before_runs("cron(0 7 ? * MON,WED,FRI *)") == {
        2: frozenset({2}),
        1: frozenset({4, 6}),
    }
    assert dashboard.idle_days_before_runs("cron(0 7 ? * MON-SAT *)") == {1: frozenset({2})}
    assert dashboard.overdue_expression("at(2026-11-03T07:00:00)", "America/New_York", "oldest") == "oldest"
