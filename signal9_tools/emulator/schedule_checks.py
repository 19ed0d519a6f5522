"""The smoke's schedule checks: each schedule fires as Scheduler would, and what the runs emit is routed.

moto never fires schedules: each is read back and its next fire time decided as Scheduler
would (``signal9.cron.next_fire``), then its target is invoked with what Scheduler would
deliver for that time. Against the built-in fakes the earnings chain is arranged to run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3

from signal9 import catalog
from signal9.cron import ScheduleExpressionError, next_fire
from signal9_tools.emulator.collection import COLLECTORS, LocalFakes
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.smoke import Smoke
from signal9_tools.verify import scheduler_delivery as scheduler_delivery  # also imported from here


@dataclass(frozen=True)
class ScheduledRun:
    """One schedule as deployed, and the run Scheduler would start next (None: it would not fire)."""

    function: catalog.Function
    schedule: dict[str, Any]
    fires_at: datetime | None
    reason: str

    @property
    def name(self) -> str:
        return catalog.schedule_trigger(self.function).schedule


def scheduled_run(smoke: Smoke, function: catalog.Function, now: datetime) -> ScheduledRun:
    """Read the schedule back from moto (which never fires schedules) and decide, as Scheduler would, when it fires.

    It fires only when ENABLED and its expression is a valid Mon-Sat expression in the stack's
    timezone; the next fire time after ``now`` comes from ``signal9.cron.next_fire``.
    """
    trigger = catalog.schedule_trigger(function)
    schedule = smoke.client("scheduler").get_schedule(
        Name=smoke.naming.schedule(trigger.schedule), GroupName=smoke.naming.schedule_group
    )
    expression, timezone = schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]
    if schedule["State"] != "ENABLED":
        return ScheduledRun(function, schedule, None, f"{schedule['State']} as deployed: not fired")
    if timezone != smoke.config.timezone:
        return ScheduledRun(function, schedule, None, f"timezone {timezone}, not the stack's {smoke.config.timezone}")
    try:
        when = next_fire(expression, timezone, now)
    except ScheduleExpressionError as error:
        return ScheduledRun(function, schedule, None, f"{expression} is not a valid Mon-Sat expression: {error}")
    return ScheduledRun(
        function, schedule, when, f"ENABLED, {expression} {timezone}: next fire {when:%a %Y-%m-%d %H:%M %Z}"
    )


@dataclass(frozen=True)
class FiredRuns:
    """What the scheduled runs did, for the checks after them."""

    results: dict[str, Any]  # function name -> what its run returned
    collectors: dict[str, ScheduledRun]  # the collectors' runs that fired
    latest: datetime  # the latest moment a run was delivered as


# Against the built-in fakes these companies report after the close of the day before the
# earnings trigger's run, so the earnings chain (trigger -> PollenateAsset -> earningsProcessed
# -> MarkEarningsProcessed) runs on every day of the year: left to chance, nobody in the dev
# universe reports in the days before a given run on many days of the year. A post-market
# report is out for the next morning's run (docs/collectors.md, "When an earnings pollenation runs").
ARRANGED_REPORTERS = ("AAPL", "MSFT")
ARRANGED_TIME_OF_THE_DAY = "post-market"
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class RunTime:
    """A clock stopped at one scheduled run's time: the built-in AlphaVantage fake as that run sees it."""

    at: float

    def time(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += max(0.0, seconds)


@contextlib.contextmanager
def api_as_of(fakes: LocalFakes | None, moment: datetime | None) -> Iterator[None]:
    """Inside the block the built-in AlphaVantage fake answers as of ``moment`` (its own clock otherwise)."""
    if fakes is None or moment is None:
        yield
        return
    previous = fakes.alphavantage.clock
    fakes.alphavantage.clock = RunTime(moment.timestamp())
    try:
        yield
    finally:
        fakes.alphavantage.clock = previous


def arrange_reporters(smoke: Smoke, runs: dict[str, ScheduledRun], fakes: LocalFakes | None) -> tuple[str, ...]:
    """Make the built-in fake list ``ARRANGED_REPORTERS`` as reporting the day before the earnings run.

    The calendar lists upcoming reports only, so their rows come from the calendar sync of the
    report day's morning (as in production, where that day's sync wrote them); the fake answers
    that run as of its time.
    """
    trigger, sync = runs["TriggerEarningsPollenation"], runs["SyncEarningsCalendar"]
    if fakes is None or trigger.fires_at is None:
        return ()
    report_day = trigger.fires_at.astimezone(NEW_YORK).date() - timedelta(days=1)
    for symbol in ARRANGED_REPORTERS:
        fakes.alphavantage.report_on(symbol, report_day, ARRANGED_TIME_OF_THE_DAY)
    morning = datetime.combine(report_day, datetime.min.time().replace(hour=6), tzinfo=NEW_YORK).astimezone(UTC)

    def synced() -> str:
        with api_as_of(fakes, morning):
            result = smoke.invoke(sync.schedule["Target"]["Arn"], scheduler_delivery(sync.schedule, morning))
        return f"{', '.join(ARRANGED_REPORTERS)} report {report_day} {ARRANGED_TIME_OF_THE_DAY}; that morning's sync -> {result}"

    smoke.report.run("reporters arranged for the earnings run", synced)
    return ARRANGED_REPORTERS


def check_schedules_fire(smoke: Smoke, now: datetime, fakes: LocalFakes | None) -> FiredRuns:
    """Fire each schedule that would fire, collectors first (the secrets hold the endpoints: run_smoke).

    Returns what the runs did, for the checks after them.
    """
    order = sorted(catalog.scheduled_functions(), key=lambda f: f.name not in COLLECTORS)
    runs = {f.name: scheduled_run(smoke, f, now) for f in order}
    arranged = arrange_reporters(smoke, runs, fakes)
    fired: dict[str, Any] = {}  # function name -> what its run returned
    for run in runs.values():
        if not smoke.config.schedule_enabled(run.function):
            switched_off = f"stack config signal9:schedules.{run.name}.enabled: false"
            smoke.report.add(
                f"schedule {run.name} disabled",
                run.fires_at is None,
                f"{run.reason} ({switched_off})" if run.fires_at is None else f"{run.reason}, despite {switched_off}",
            )
            continue

        def fire(run: ScheduledRun = run) -> str:
            expect(run.fires_at is not None, run.reason)
            assert run.fires_at is not None
            result = smoke.invoke(run.schedule["Target"]["Arn"], scheduler_delivery(run.schedule, run.fires_at))
            fired[run.function.name] = result
            target = run.schedule["Target"]["Arn"].rsplit(":", 1)[-1]
            return f"{run.reason}; delivered as that run to {target} -> {json.dumps(result, default=str)[:70]}"

        smoke.report.run(f"schedule {run.name} fired", fire)

    def delivered() -> str:
        # PollenateAsset collects as the earnings run would: the fake as of that run's time.
        with api_as_of(fakes, runs["TriggerEarningsPollenation"].fires_at):
            results = smoke.deliver()
        pollenated = results[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
        processed = results[smoke.naming.rule(catalog.EARNINGS_PROCESSED)]
        # Every event the triggers that fired published was routed, and the regular trigger asked
        # for one pollenation per active asset (up to the batch size).
        active = smoke.client("dynamodb").query(
            TableName=smoke.naming.table("assets"),
            IndexName="status-index",
            KeyConditionExpression="#status = :active",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":active": {"S": "active"}},
            Select="COUNT",
        )["Count"]
        regular = fired.get("TriggerRegularPollenation", {}).get("published", 0)
        if "TriggerRegularPollenation" in fired:
            expected_regular = min(smoke.config.regularPollenationBatchSize, active)
            expect(regular == expected_regular, f"{regular} regular pollenations asked, expected {expected_regular}")
        earnings_rows = fired.get("TriggerEarningsPollenation", {}).get("published", 0)
        if "TriggerEarningsPollenation" in fired:
            missing = set(arranged) - set(fired["TriggerEarningsPollenation"].get("symbols", []))
            expect(
                not missing,
                f"the earnings trigger did not publish {sorted(missing)}, arranged to report the evening before",
            )
        expect(
            len(pollenated) == earnings_rows + regular,
            f"{len(pollenated)} pollenationNeeded deliveries, the triggers published {earnings_rows + regular}",
        )
        # An earnings pollenation emits earningsProcessed only once EARNINGS holds the quarter (or
        # the window is over); the ones PollenateAsset emitted must all have been routed.
        emitted = sum(int(result.get("emitted", 0)) for result in pollenated if isinstance(result, dict))
        expect(
            len(processed) == emitted,
            f"{len(processed)} earningsProcessed deliveries, expected {emitted} (as PollenateAsset emitted)",
        )
        if earnings_rows:
            marked = boto3.resource("dynamodb", region_name=smoke.region).Table(smoke.naming.table("earningsCalendar"))
            published = fired["TriggerEarningsPollenation"]
            for symbol in arranged:
                rows = [
                    marked.get_item(Key={"asset_symbol": symbol, "earnings_date": d}).get("Item")
                    for d in published["dates"]
                ]
                expect(
                    any(row and row.get("processed") for row in rows), f"{symbol}'s calendar row not marked processed"
                )
        return (
            f"{len(pollenated)} pollenationNeeded -> PollenateAsset, {len(processed)} earningsProcessed -> "
            "MarkEarningsProcessed, as the triggers that fired must emit; the arranged reporters' rows marked processed"
        )

    smoke.report.run("emitted events routed by the rules", delivered)
    return FiredRuns(
        fired,
        {name: runs[name] for name in COLLECTORS if name in fired},
        max([now, *(run.fires_at for run in runs.values() if run.fires_at is not None)]),
    )
