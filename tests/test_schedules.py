"""Schedules: what the program registers, per-stack overrides, the scheduler role, config
validation, and the Sunday maintenance window proven by expanding fire times over a year."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from croniter import croniter

from functions.shared.scheduled import SCHEDULER_INPUT
from signal9 import catalog, config
from signal9.cron import DAY_NUMBERS, ScheduleExpressionError, next_fire
from signal9.naming import Naming
from signal9.stackfile import ROOT, read_stack_config
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, Resource, run_program

SCHEDULE = "aws:scheduler/schedule:Schedule"
NEW_YORK = ZoneInfo("America/New_York")


def lambda_arn(run: ProgramRun, function: str) -> str:
    return f"arn:aws:lambda:{run.region}:{ACCOUNT_ID}:function:{Naming(run.stack).function(function)}"


def queue_arn(run: ProgramRun, function: str) -> str:
    return f"arn:aws:sqs:{run.region}:{ACCOUNT_ID}:{Naming(run.stack).dead_letter_queue(function)}"


def schedules_of(run: ProgramRun) -> dict[str, Resource]:
    """Catalog schedule name -> the registered Schedule."""
    return {r.name.removesuffix("-schedule"): r for r in run.of_type(SCHEDULE)}


# --- what the program registers ---------------------------------------------------------


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_one_schedule_per_scheduled_function(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    naming = Naming(stack)
    schedules = schedules_of(run)
    assert set(schedules) == set(catalog.SCHEDULE_NAMES)
    assert len(schedules) == 5
    for function in catalog.scheduled_functions():
        trigger = catalog.schedule_trigger(function)
        inputs = schedules[trigger.schedule].inputs
        target = inputs["target"]
        assert schedules[trigger.schedule].parent == "schedules"
        assert inputs["name"] == naming.schedule(trigger.schedule)
        assert inputs["groupName"] == naming.schedule_group
        # The shipped stacks override nothing: the catalog's expressions, all enabled.
        assert inputs["scheduleExpression"] == trigger.expression
        assert inputs["scheduleExpressionTimezone"] == "America/New_York"
        assert inputs["state"] == "ENABLED"
        assert inputs["flexibleTimeWindow"] == {"mode": "OFF"}
        assert target["arn"] == lambda_arn(run, function.name)
        assert target["roleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{naming.role('scheduler')}"
        assert target["deadLetterConfig"] == {"arn": queue_arn(run, function.name)}
        assert target["retryPolicy"] == {"maximumRetryAttempts": 3.0, "maximumEventAgeInSeconds": 3600.0}
        assert json.loads(target["input"]) == SCHEDULER_INPUT
        assert "scheduler-role-policy" in schedules[trigger.schedule].dependencies
        assert schedules[trigger.schedule].delete_before_replace


def test_the_default_expressions_are_the_spec_table() -> None:
    assert {catalog.schedule_trigger(f).schedule: catalog.schedule_trigger(f).expression
            for f in catalog.scheduled_functions()} == {
        "sync-assets": "cron(30 5 ? * MON-SAT *)",
        "sync-earnings-calendar": "cron(0 6 ? * MON-SAT *)",
        "trigger-earnings-pollenation": "cron(0 7 ? * MON-SAT *)",
        "trigger-regular-pollenation": "cron(0 20 ? * MON-SAT *)",
        "sync-news-sentiment": "cron(0 * ? * MON-SAT *)",
    }  # fmt: skip


def test_schedule_group_is_tagged_and_named_per_stack(dev: ProgramRun) -> None:
    (group,) = dev.of_type("aws:scheduler/scheduleGroup:ScheduleGroup")
    assert group.inputs["name"] == "signal9-dev"
    assert group.inputs["tags"] == {"Component": "schedules"}
    assert group.delete_before_replace


def test_scheduler_role_trusts_only_scheduler_for_this_account_and_group(dev: ProgramRun) -> None:
    role = dev.named("scheduler-role")
    assert role.inputs["name"] == "signal9-dev-scheduler"
    assert role.inputs["tags"] == {"Component": "schedules"}
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
        "ArnEquals": {"aws:SourceArn": f"arn:aws:scheduler:us-east-1:{ACCOUNT_ID}:schedule-group/signal9-dev"},
    }


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_scheduler_role_may_invoke_exactly_the_scheduled_functions_and_their_dlqs(
    plans: dict[str, ProgramRun], stack: str
) -> None:
    run = plans[stack]
    policies = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.parent == "schedules"]
    (policy,) = policies
    assert policy.inputs["role"] == Naming(stack).role("scheduler")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    # With the stack key (staging, prod): use it through Scheduler and SQS only (tests/test_encryption.py).
    key_statements = [s for s in statements if s["Sid"] == "UseStackKeyViaServices"]
    assert len(key_statements) == (stack in catalog.CUSTOMER_MANAGED_KEY_STACKS)
    statements = [s for s in statements if s not in key_statements]
    grants = {s["Action"]: s["Resource"] for s in statements}
    assert all(s["Effect"] == "Allow" for s in statements)
    scheduled = [f.name for f in catalog.scheduled_functions()]
    assert grants == {
        "lambda:InvokeFunction": [lambda_arn(run, name) for name in scheduled],
        "sqs:SendMessage": [queue_arn(run, name) for name in scheduled],
    }
    assert "*" not in json.dumps(statements)
    # The event-driven functions are not the scheduler's business.
    assert lambda_arn(run, "PollenateAsset") not in grants["lambda:InvokeFunction"]
    # The only role the schedules use is this one.
    assert {s.inputs["target"]["roleArn"] for s in run.of_type(SCHEDULE)} == {
        f"arn:aws:iam::{ACCOUNT_ID}:role/{Naming(stack).role('scheduler')}"
    }


def test_iam_accepts_the_scheduler_role_documents(aws: None, dev: ProgramRun) -> None:
    """moto's IAM validates policy grammar (MalformedPolicyDocument) on the documents as registered."""
    iam = boto3.client("iam")
    role = dev.named("scheduler-role").inputs
    iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=role["assumeRolePolicy"])
    (policy,) = [p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.parent == "schedules"]
    iam.put_role_policy(RoleName=role["name"], PolicyName="scheduler", PolicyDocument=policy.inputs["policy"])
    # boto3 hands the document back decoded (its stubs say str).
    stored: Any = iam.get_role_policy(RoleName=role["name"], PolicyName="scheduler")["PolicyDocument"]
    assert len(stored["Statement"]) == 2


def test_scheduler_stores_the_registered_schedule(aws: None, dev: ProgramRun) -> None:
    """Scheduler (moto) takes the schedule inputs as registered and keeps timezone, retries and DLQ."""
    scheduler = boto3.client("scheduler")
    group = dev.of_type("aws:scheduler/scheduleGroup:ScheduleGroup")[0].inputs["name"]
    scheduler.create_schedule_group(Name=group)
    inputs = schedules_of(dev)["sync-assets"].inputs
    target = inputs["target"]
    request: Any = {
        "Name": inputs["name"],
        "GroupName": inputs["groupName"],
        "ScheduleExpression": inputs["scheduleExpression"],
        "ScheduleExpressionTimezone": inputs["scheduleExpressionTimezone"],
        "FlexibleTimeWindow": {"Mode": inputs["flexibleTimeWindow"]["mode"]},
        "State": inputs["state"],
        "Target": {
            "Arn": target["arn"],
            "RoleArn": target["roleArn"],
            "Input": target["input"],
            "RetryPolicy": {k[0].upper() + k[1:]: int(v) for k, v in target["retryPolicy"].items()},
            "DeadLetterConfig": {"Arn": target["deadLetterConfig"]["arn"]},
        },
    }
    scheduler.create_schedule(**request)
    stored = scheduler.get_schedule(Name=inputs["name"], GroupName=group)
    assert stored["ScheduleExpressionTimezone"] == "America/New_York"
    assert stored["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    assert stored["Target"]["DeadLetterConfig"]["Arn"].endswith(":signal9-dev-SyncAssets-dlq")


# --- per-stack overrides --------------------------------------------------------------


@pytest.fixture(scope="module")
def overridden() -> ProgramRun:
    """Staging with one schedule switched off and one expression changed."""
    values = read_stack_config("staging")
    values["signal9:schedules"] = json.dumps(
        {
            "sync-news-sentiment": {"enabled": False},
            "sync-assets": {"expression": "cron(45 4 ? * MON-FRI *)"},
        }
    )
    return run_program("staging", config=values)


def test_override_disables_one_schedule_and_changes_one_expression(overridden: ProgramRun) -> None:
    schedules = schedules_of(overridden)
    assert schedules["sync-news-sentiment"].inputs["state"] == "DISABLED"
    # Disabled, not deleted: the expression and target stay, ready to switch back on.
    assert schedules["sync-news-sentiment"].inputs["scheduleExpression"] == "cron(0 * ? * MON-SAT *)"
    assert schedules["sync-assets"].inputs["scheduleExpression"] == "cron(45 4 ? * MON-FRI *)"
    assert schedules["sync-assets"].inputs["state"] == "ENABLED"
    untouched = set(catalog.SCHEDULE_NAMES) - {"sync-news-sentiment", "sync-assets"}
    for name in untouched:
        function = next(f for f in catalog.scheduled_functions() if catalog.schedule_trigger(f).schedule == name)
        assert schedules[name].inputs["scheduleExpression"] == catalog.schedule_trigger(function).expression
        assert schedules[name].inputs["state"] == "ENABLED"


def test_override_in_one_stack_leaves_the_timezone_and_targets(overridden: ProgramRun) -> None:
    for schedule in overridden.of_type(SCHEDULE):
        assert schedule.inputs["scheduleExpressionTimezone"] == "America/New_York"
    assert schedules_of(overridden)["sync-assets"].inputs["target"]["arn"] == lambda_arn(overridden, "SyncAssets")


# --- bad schedule configuration ---------------------------------------------------------

ALLOWED_DAYS = "allowed: 1-7 or SUN-SAT, '*', lists a,b, ranges a-b, steps a/n"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(1 hour)", "rate() expressions fire every day, Sundays included; use cron(... MON-SAT *)"),
        ("rate(1 day)", "rate() expressions fire every day, Sundays included; use cron(... MON-SAT *)"),
        ("cron(0 6 ? * SUN *)", "day-of-week 'SUN' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * 1 *)", "day-of-week '1' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * * *)", "day-of-week '*' includes Sunday, the maintenance window"),
        (
            "cron(0 6 * * ? *)",
            "day-of-week '?' leaves the day to day-of-month, which reaches Sundays; set MON-SAT",
        ),
        ("cron(0 6 ? * SUN-FRI *)", "day-of-week 'SUN-FRI' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * 1-7 *)", "day-of-week '1-7' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * MON,WED,SUN *)", "day-of-week 'MON,WED,SUN' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * FRI-MON *)", "day-of-week 'FRI-MON' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * SAT-MON *)", "day-of-week 'SAT-MON' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * */2 *)", "day-of-week '*/2' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * 1/2 *)", "day-of-week '1/2' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * 1#2 *)", "day-of-week '1#2' includes Sunday, the maintenance window"),
        ("cron(0 6 ? * sun *)", "day-of-week 'sun' includes Sunday, the maintenance window"),
        ("at(2027-03-14T10:00:00)", "at(2027-03-14T10:00:00) falls on a Sunday, the maintenance window"),
        ("at(2027-02-30T10:00:00)", "at(2027-02-30T10:00:00) is not a real date and time"),
        (
            "cron(0 6 ? * MON-SAT)",
            "cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got 5",
        ),
        (
            "cron(0 0 6 ? * MON-SAT *)",
            "cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got 7",
        ),
        ("cron(60 6 ? * MON-SAT *)", "minutes value '60' is not valid; allowed: 0-59, '*', lists a,b"),
        ("cron(0 24 ? * MON-SAT *)", "hours value '24' is not valid; allowed: 0-23, '*', lists a,b"),
        ("cron(0 22-2 ? * MON-SAT *)", "hours range '22-2' runs backwards; write it low-high"),
        ("cron(x 6 ? * MON-SAT *)", "minutes item 'x' is not valid; allowed: 0-59"),
        ("cron(0/0 6 ? * MON-SAT *)", "minutes step in '0/0' must be at least 1"),
        ("cron(0 6 ? 13 MON-SAT *)", "month value '13' is not valid; allowed: 1-12 or JAN-DEC"),
        ("cron(0 6 ? * MON-SAT 1969)", "year value '1969' is not valid; allowed: 1970-2199"),
        ("cron(0 6 1 * MON-SAT *)", "day-of-month must be '?' when day-of-week is set (AWS cron rule)"),
        ("cron(0 6 ? * 0 *)", f"day-of-week value '0' is not valid; {ALLOWED_DAYS}"),
        ("cron(0 6 ? * MON-FRI#2 *)", "day-of-week item 'MON-FRI#2': # and L take a single day"),
        ("every weekday at six", "expected cron(minutes hours day-of-month month day-of-week year) or at("),
    ],
)
def test_bad_expressions_are_refused_with_file_key_value_and_what_is_allowed(expression: str, problem: str) -> None:
    with pytest.raises(config.ConfigError) as error:
        config.parse({"schedules": {"sync-assets": {"expression": expression}}}, "Pulumi.prod.yaml")
    (line,) = str(error.value).splitlines()
    assert line.startswith(f"Pulumi.prod.yaml: signal9:schedules.sync-assets.expression = {expression!r}: {problem}")


@pytest.mark.parametrize(
    "expression",
    [
        "cron(30 5 ? * MON-SAT *)",
        "cron(0 * ? * 2-7 *)",
        "cron(0/15 9-17 ? JAN-MAR MON,WED,FRI 2027-2030)",
        "cron(0 6 ? * 6L *)",
        "cron(0 6 ? * 2#1 *)",
        "cron(0 6 ? * mon-sat *)",
        "at(2027-03-13T10:00:00)",
    ],
)
def test_weekday_expressions_are_accepted(expression: str) -> None:
    parsed = config.parse({"schedules": {"sync-assets": {"expression": expression}}}, "Pulumi.prod.yaml")
    assert parsed.schedule_expression(catalog.function("SyncAssets")) == expression


def test_program_refuses_a_sunday_schedule_before_registering_anything() -> None:
    values = read_stack_config("prod")
    values["signal9:schedules"] = json.dumps({"sync-news-sentiment": {"expression": "cron(0 * ? * * *)"}})
    with pytest.raises(config.ConfigError, match=r"Pulumi\.prod\.yaml: signal9:schedules\.sync-news-sentiment"):
        run_program("prod", config=values)


# --- the maintenance window, by computation ----------------------------------------------
#
# croniter is the independent oracle: it knows nothing of signal9.cron. AWS cron has six
# fields, days numbered 1=SUN..7=SAT and '?'; croniter has five, 0=SUN..6=SAT and no '?'.

YEAR = 2027
NUMBER_TO_NAME = {str(number): name for name, number in DAY_NUMBERS.items()}


def croniter_expression(aws_expression: str) -> str:
    """An AWS ``cron(...)`` as a five-field croniter expression (the forms Signal9 uses)."""
    minutes, hours, day_of_month, month, day_of_week, year = aws_expression.removeprefix("cron(")[:-1].split()
    assert year == "*", "this oracle only expands every-year expressions"
    assert "#" not in day_of_week and "L" not in day_of_week.upper(), "no #/L in the oracle"
    # Rename numeric days so the two numberings cannot be confused.
    days = "".join(NUMBER_TO_NAME.get(c, c) for c in day_of_week)
    return " ".join((minutes, hours, day_of_month.replace("?", "*"), month, days.replace("?", "*")))


@cache
def fire_times(expression: str, timezone: str) -> tuple[datetime, ...]:
    """Every fire time in YEAR, as aware datetimes in ``timezone``."""
    zone = ZoneInfo(timezone)
    start = datetime(YEAR, 1, 1, tzinfo=zone) - timedelta(seconds=1)
    times = croniter(croniter_expression(expression), start)
    result = []
    while (moment := times.get_next(datetime)).year == YEAR:
        result.append(moment)
    return tuple(result)


def monday_to_saturday(year: int) -> set[date]:
    days = (date(year, 1, 1) + timedelta(days=n) for n in range(366))
    return {d for d in days if d.year == year and d.isoweekday() != 7}


def dst_transitions(year: int, zone: ZoneInfo) -> list[datetime]:
    """The local hours of the year in which the UTC offset changes."""
    hours = [datetime(year, 1, 1, tzinfo=ZoneInfo("UTC")) + timedelta(hours=h) for h in range(366 * 24)]
    return [
        b.astimezone(zone)
        for a, b in itertools.pairwise(hours)
        if a.astimezone(zone).utcoffset() != b.astimezone(zone).utcoffset()
    ]


def effective_schedules(plans: dict[str, ProgramRun]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(stack, name, r.inputs) for stack, run in plans.items() for name, r in schedules_of(run).items()]


def test_the_year_under_test_has_both_dst_changes_on_sundays() -> None:
    changes = dst_transitions(YEAR, NEW_YORK)
    assert [c.date() for c in changes] == [date(2027, 3, 14), date(2027, 11, 7)]
    # US clocks change on Sundays: both 23- and 25-hour days fall in the maintenance window.
    assert all(c.isoweekday() == 7 for c in changes)


def test_no_shipped_schedule_fires_on_a_new_york_sunday(plans: dict[str, ProgramRun]) -> None:
    checked = 0
    for stack, name, inputs in effective_schedules(plans):
        times = fire_times(inputs["scheduleExpression"], inputs["scheduleExpressionTimezone"])
        assert times, (stack, name)
        sundays = [t for t in times if t.astimezone(NEW_YORK).isoweekday() == 7]
        assert sundays == [], f"{stack} {name} fires on Sunday {sundays[:3]}"
        checked += len(times)
    # Every stack, every schedule, a whole year: 313 working days x (24 hourly + 4 daily) x 3 stacks.
    assert checked == len(plans) * 313 * (24 + 4)


def test_the_oracle_does_see_sundays_when_an_expression_has_them() -> None:
    times = fire_times("cron(0 6 ? * SUN-FRI *)", "America/New_York")
    assert sum(t.isoweekday() == 7 for t in times) == 52


def test_every_shipped_schedule_fires_every_monday_to_saturday(plans: dict[str, ProgramRun]) -> None:
    for stack, name, inputs in effective_schedules(plans):
        times = fire_times(inputs["scheduleExpression"], inputs["scheduleExpressionTimezone"])
        per_day = Counter(t.astimezone(NEW_YORK).date() for t in times)
        assert set(per_day) == monday_to_saturday(YEAR), (stack, name)
        # Same number of runs every working day, DST weeks included.
        assert len(set(per_day.values())) == 1, (stack, name, Counter(per_day.values()))


def test_daily_jobs_keep_their_new_york_wall_clock_time_across_dst(dev: ProgramRun) -> None:
    times = fire_times(schedules_of(dev)["sync-assets"].inputs["scheduleExpression"], "America/New_York")
    assert {(t.hour, t.minute) for t in times} == {(5, 30)}
    # ...which is a different UTC hour in winter and in summer: why the timezone matters.
    assert {t.astimezone(ZoneInfo("UTC")).hour for t in times} == {9, 10}


def test_news_sentiment_fires_hourly_every_working_day_including_dst_weeks(dev: ProgramRun) -> None:
    inputs = schedules_of(dev)["sync-news-sentiment"].inputs
    times = fire_times(inputs["scheduleExpression"], inputs["scheduleExpressionTimezone"])
    per_day = Counter(t.date() for t in times)
    assert Counter(per_day.values()) == Counter({24: 313})
    for change in dst_transitions(YEAR, NEW_YORK):
        saturday, monday = change.date() - timedelta(days=1), change.date() + timedelta(days=1)
        assert per_day[change.date()] == 0  # the 23/25-hour day is a Sunday: no runs at all
        assert per_day[saturday] == per_day[monday] == 24
    # The window between Saturday 23:00 and Monday 00:00 is 25 real hours, except on the
    # DST weekends: 24 when clocks spring forward, 26 when they fall back. (Aware datetimes
    # in one zone subtract as wall-clock times, so measure in UTC.)
    utc = ZoneInfo("UTC")
    weekend_hours = Counter(
        round((b.astimezone(utc) - a.astimezone(utc)) / timedelta(hours=1))
        for a, b in itertools.pairwise(times)
        if a.isoweekday() == 6 and b.isoweekday() == 1
    )
    assert weekend_hours == Counter({25: 50, 24: 1, 26: 1})


def chained_next_fires(expression: str, timezone: str) -> tuple[datetime, ...]:
    """signal9.cron.next_fire applied from the start of YEAR until it leaves the year (or stalls)."""
    moment, result = datetime(YEAR, 1, 1, tzinfo=ZoneInfo(timezone)) - timedelta(seconds=1), []
    for _ in range(366 * 24 * 4):  # more than any expression here fires in a year
        moment = next_fire(expression, timezone, moment)
        if moment.year != YEAR:
            break
        result.append(moment)
    return tuple(result)


@pytest.mark.parametrize(
    "expression",
    sorted(
        {catalog.schedule_trigger(f).expression for f in catalog.scheduled_functions()}
        | {"cron(45 4 ? * MON-FRI *)", "cron(15,45 9,17 ? JAN-JUN TUE,THU *)", "cron(0 0/6 ? * SAT *)"}
    ),
)
def test_next_fire_walks_the_same_year_as_the_oracle(expression: str) -> None:
    assert chained_next_fires(expression, "America/New_York") == fire_times(expression, "America/New_York")


def test_next_fire_is_strictly_after_and_in_the_schedules_timezone() -> None:
    saturday_night = datetime(YEAR, 3, 13, 23, 30, tzinfo=NEW_YORK)  # DST starts on the Sunday after
    monday = next_fire("cron(30 5 ? * MON-SAT *)", "America/New_York", saturday_night)
    assert monday == datetime(YEAR, 3, 15, 5, 30, tzinfo=NEW_YORK)
    assert monday.astimezone(ZoneInfo("UTC")).hour == 9  # EDT by then
    assert next_fire("cron(30 5 ? * MON-SAT *)", "America/New_York", monday) > monday
    assert next_fire("at(2027-03-16T09:00:00)", "America/New_York", monday) == datetime(
        YEAR, 3, 16, 9, 0, tzinfo=NEW_YORK
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 hour)", "Sundays included"),
        ("cron(0 6 ? * SUN-FRI *)", "includes Sunday"),
        ("cron(0 25 ? * MON-SAT *)", "hours value '25'"),
        ("at(2027-01-04T09:00:00)", "in the past"),
        ("cron(0 6 ? * MON-SAT 2020)", "does not fire in the next"),
    ],
)
def test_next_fire_refuses_what_scheduler_would_not_fire_on_a_weekday(expression: str, message: str) -> None:
    with pytest.raises(ScheduleExpressionError, match=re.escape(message)):
        next_fire(expression, "America/New_York", datetime(YEAR, 3, 1, tzinfo=NEW_YORK))


# --- docs --------------------------------------------------------------------------------


def test_schedules_doc_lists_every_schedule_and_how_to_override() -> None:
    text = (ROOT / "docs" / "schedules.md").read_text()
    for function in catalog.scheduled_functions():
        trigger = catalog.schedule_trigger(function)
        assert f"| `{trigger.schedule}` | {function.name} | `{trigger.expression}` |" in text
    for event in catalog.EVENTS:
        assert f"| `{event.detail_type}` |" in text and event.consumer in text
    assert "pulumi config set --path 'signal9:schedules." in text
    assert "Sunday, all day in New York time" in text
