"""``signal9 status``: is today's data in? One row per scheduled collector, DLQ depths, alarms in ALARM.

Read-only, with calls the preview role may make (signal9.bootstrap_policies.read_only_document):
AWS/Lambda ``Invocations``/``Errors`` and ``Signal9 ItemsWritten`` per hour through
GetMetricData (schedules on or off: the stack file), each DLQ's depth
through GetQueueUrl/GetQueueAttributes, and DescribeAlarms. Against ``signal9 local up --keep``
it reaches the emulator through ``AWS_ENDPOINT_URL`` (boto3 reads it).

Verdicts, per scheduled function (its schedule is Monday-Saturday in the stack's timezone):
- ``never ran``: no invocation in the lookback (a schedule switched off says so);
- ``failed``: the newest hour with a run had no successful one (Invocations <= Errors);
- ``late``: the newest successful run is older than the schedule's last due fire time, which
  is at least the grace (signal9.dashboard.MISSED_RUN_GRACE_MINUTES) in the past;
- ``fresh``: otherwise. On a Sunday (the maintenance window) the last due fire is Saturday's.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from functions.shared import telemetry
from signal9 import catalog, config, cron, dashboard
from signal9.naming import Naming
from signal9.stackfile import stack_region
from signal9_tools.cli import add_stack_argument

# How far back a last run is looked for: a Monday-Saturday schedule fires at least weekly.
LOOKBACK = timedelta(days=8)
HOUR_SECONDS = 3600
VERDICTS = ("fresh", "late", "failed", "never ran")

AWS_PERMISSIONS = (
    "cloudwatch:GetMetricData, cloudwatch:DescribeAlarms, sqs:GetQueueUrl and sqs:GetQueueAttributes "
    "(the preview role has them)"
)


@dataclass(frozen=True)
class RunFacts:
    """What the hourly metrics say about one function's runs (hour starts, UTC)."""

    invocations: dict[datetime, float]
    errors: dict[datetime, float]
    items_written: dict[datetime, float]


@dataclass(frozen=True)
class CollectorRow:
    function: str
    schedule: str
    enabled: bool
    last_run: str | None
    outcome: str | None
    items_written: int | None
    next_fire: str | None
    late_minutes: int | None
    verdict: str


def last_due_fire(expression: str, timezone: str, now: datetime) -> datetime | None:
    """The newest fire time at least the grace before ``now`` (None: none in the lookback)."""
    deadline = now - timedelta(minutes=dashboard.MISSED_RUN_GRACE_MINUTES)
    due = None
    moment = now - LOOKBACK
    while True:
        try:
            moment = cron.next_fire(expression, timezone, moment)
        except cron.ScheduleExpressionError:  # an at() in the past, or no fire within the horizon
            return due
        if moment > deadline:
            return due
        due = moment


def verdict(
    function: catalog.Function, stack_config: config.StackConfig, facts: RunFacts, now: datetime
) -> CollectorRow:
    """The row of one scheduled function from its metrics; pure (tests give it synthetic facts)."""
    trigger = catalog.schedule_trigger(function)
    expression = stack_config.schedule_expression(function)
    enabled = stack_config.schedule_enabled(function)
    try:
        upcoming: str | None = cron.next_fire(expression, stack_config.timezone, now).isoformat() if enabled else None
    except cron.ScheduleExpressionError:
        upcoming = None
    ran = sorted(hour for hour, count in facts.invocations.items() if count > 0)
    succeeded = [hour for hour in ran if facts.invocations[hour] > facts.errors.get(hour, 0)]
    due = last_due_fire(expression, stack_config.timezone, now) if enabled else None
    late_minutes = None
    if not ran:
        outcome, state = None, "never ran"
    else:
        last = ran[-1]
        outcome = "succeeded" if last in succeeded else "failed"
        if outcome == "failed":
            state = "failed"
        elif due is not None and last + timedelta(seconds=HOUR_SECONDS) <= due:
            # The newest run's hour ended before the schedule was last due: that run is missing.
            state = "late"
            late_minutes = int((now - due).total_seconds() // 60)
        else:
            state = "fresh"
    last_hour = ran[-1] if ran else None
    return CollectorRow(
        function=function.name,
        schedule=trigger.schedule,
        enabled=enabled,
        last_run=last_hour.isoformat() if last_hour else None,
        outcome=outcome,
        items_written=int(facts.items_written.get(last_hour, 0)) if last_hour else None,
        next_fire=upcoming,
        late_minutes=late_minutes,
        verdict=state,
    )


def run_facts(
    cloudwatch: Any, naming: Naming, functions: tuple[catalog.Function, ...], now: datetime
) -> dict[str, RunFacts]:
    """Hourly Invocations, Errors and ItemsWritten of each function over the lookback, in one GetMetricData."""
    queries = []
    for i, function in enumerate(functions):
        lambda_dims = [{"Name": "FunctionName", "Value": naming.function(function.name)}]
        custom_dims = [{"Name": "service", "Value": function.name}, {"Name": "stage", "Value": naming.stack}]
        for kind, namespace, metric, dims in (
            ("invocations", "AWS/Lambda", "Invocations", lambda_dims),
            ("errors", "AWS/Lambda", "Errors", lambda_dims),
            ("items", telemetry.NAMESPACE, telemetry.MetricName.ITEMS_WRITTEN.value, custom_dims),
        ):
            queries.append(
                {
                    "Id": f"{kind}{i}",
                    "MetricStat": {
                        "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                        "Period": HOUR_SECONDS,
                        "Stat": "Sum",
                    },
                }
            )
    series: dict[str, dict[datetime, float]] = {q["Id"]: {} for q in queries}
    paginator = cloudwatch.get_paginator("get_metric_data")
    start = now.replace(minute=0, second=0, microsecond=0) - LOOKBACK  # hour-aligned datapoints
    for page in paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=now):
        for result in page["MetricDataResults"]:
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                hour = timestamp.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
                bucket = series[result["Id"]]
                bucket[hour] = bucket.get(hour, 0) + value
    return {
        f.name: RunFacts(series[f"invocations{i}"], series[f"errors{i}"], series[f"items{i}"])
        for i, f in enumerate(functions)
    }


def queue_depths(sqs: Any, naming: Naming) -> dict[str, int]:
    depths = {}
    for function in catalog.FUNCTIONS:
        url = sqs.get_queue_url(QueueName=naming.dead_letter_queue(function.name))["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        depths[function.name] = int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))
    return depths


def alarms_in_alarm(cloudwatch: Any, naming: Naming) -> list[str]:
    names: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{naming.prefix}-", StateValue="ALARM"
    ):
        names += [alarm["AlarmName"] for alarm in page.get("MetricAlarms", [])]
    return names


@dataclass(frozen=True)
class Status:
    stack: str
    checked_at: str
    collectors: list[CollectorRow]
    dead_letter_queues: dict[str, int]
    alarms_in_alarm: list[str]

    @property
    def healthy(self) -> bool:
        return (
            all(row.verdict == "fresh" for row in self.collectors if row.enabled)
            and not any(self.dead_letter_queues.values())
            and not self.alarms_in_alarm
        )


def collect(session: Any, stack: str, stack_config: config.StackConfig, now: datetime) -> Status:
    naming = Naming(stack)
    cloudwatch = session.client("cloudwatch")
    scheduled = catalog.scheduled_functions()
    facts = run_facts(cloudwatch, naming, scheduled, now)
    rows = [verdict(f, stack_config, facts[f.name], now) for f in scheduled]
    return Status(
        stack=stack,
        checked_at=now.isoformat(),
        collectors=rows,
        dead_letter_queues=queue_depths(session.client("sqs"), naming),
        alarms_in_alarm=alarms_in_alarm(cloudwatch, naming),
    )


def format_status(status: Status) -> str:
    lines = [f"signal9 status: stack {status.stack!r} at {status.checked_at}", ""]
    header = ("COLLECTOR", "VERDICT", "LAST RUN (UTC hour)", "OUTCOME", "ITEMS", "NEXT FIRE", "LATE")
    rows = [
        (
            row.function,
            row.verdict if row.enabled else f"{row.verdict} (schedule disabled)",
            row.last_run or "-",
            row.outcome or "-",
            "-" if row.items_written is None else str(row.items_written),
            row.next_fire or "-",
            "-" if row.late_minutes is None else f"{row.late_minutes} min",
        )
        for row in status.collectors
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    lines.append("")
    waiting = {name: depth for name, depth in status.dead_letter_queues.items() if depth}
    lines.append(
        "dead-letter queues: " + (", ".join(f"{name} {depth}" for name, depth in waiting.items()) or "all empty")
    )
    lines.append("alarms in ALARM: " + (", ".join(status.alarms_in_alarm) or "none"))
    lines.append(
        "verdict: " + ("all fresh" if status.healthy else "NOT all fresh (runbook docs/runbooks/collector-late.md)")
    )
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("status", help="is today's data in? collectors, DLQs and alarms (uses AWS)")
    add_stack_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.set_defaults(run=run, aws_permissions=AWS_PERMISSIONS)


def run(args: argparse.Namespace, session: Any = None, now: datetime | None = None) -> int:
    stack_config = config.load_stack(args.stack)
    session = session or boto3.Session(profile_name=args.profile, region_name=stack_region(args.stack))
    status = collect(session, args.stack, stack_config, now or datetime.now(UTC))
    if args.json:
        document = {**asdict(status), "healthy": status.healthy}
        print(json.dumps(document, indent=2))
    else:
        print(format_status(status))
    return 0 if status.healthy else 1
