"""``signal9 status``: is today's data in? One row per scheduled collector, DLQ depths, alarms in ALARM.

Read-only, with calls the preview role may make (signal9.bootstrap_policies.read_only_document):
- each run's outcome from Lambda's ``platform.report`` records in the function's log group
  (the functions log in Lambda's JSON format; ``record.status`` is ``success`` for a run that
  returned) through FilterLogEvents;
- what a run did, per hour through GetMetricData: a collector's ``Signal9 ItemsWritten``, a
  trigger's ``Signal9 PollenationsRequested`` (the events it published). Both are counted when a
  run completes, so a failed run shows 0 whatever an earlier run of its hour did;
- what each table's data says from the collectors' freshness gauges
  (``functions.shared.telemetry.FreshnessMetric``, hourly) through the same GetMetricData: no
  table is read. Each row names the metric it comes from;
- each DLQ's depth through GetQueueUrl/GetQueueAttributes, and the alarms in ALARM through
  DescribeAlarms. Schedules on or off come from the stack file (``signal9:schedules``).

Against ``signal9 local up --keep`` it reaches the emulator through ``AWS_ENDPOINT_URL`` (boto3
reads it); the emulator records each in-process run as Lambda would
(signal9_tools/emulator/lambda_records.py).

Verdicts, per scheduled function (its schedule is Monday-Saturday in the stack's timezone):
- ``never ran``: no run in the lookback (a schedule switched off says so);
- ``failed``: the newest run did not succeed (an error, a timeout);
- ``late``: the newest successful run is older than the schedule's last due fire time, which
  is at least the grace (signal9.dashboard.MISSED_RUN_GRACE_MINUTES) in the past;
- ``fresh``: otherwise. On a Sunday (the maintenance window) the last due fire is Saturday's.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.shared import telemetry
from signal9 import catalog, config, cron, dashboard
from signal9.errors import OperatorError
from signal9.naming import Naming
from signal9.stackfile import stack_region
from signal9_tools.cli import add_stack_argument
from signal9_tools.dlq import QueueMissingError, list_queue
from signal9_tools.sessions import aws_session

# How far back a last run is looked for: a Monday-Saturday schedule fires at least weekly.
LOOKBACK = timedelta(days=8)
HOUR_SECONDS = 3600  # ItemsWritten is read per hour

AWS_PERMISSIONS = (
    "logs:FilterLogEvents, cloudwatch:GetMetricData, cloudwatch:DescribeAlarms, sqs:GetQueueUrl and "
    "sqs:GetQueueAttributes (the preview role has them)"
)


class NotDeployedError(OperatorError):
    """A resource of the stack is missing: wrong account, region or endpoint, or not deployed yet."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} does not exist: the stack is not deployed in this account and region "
            "(check AWS_PROFILE / --profile, the stack file's aws:region, AWS_ENDPOINT_URL)"
        )


@dataclass(frozen=True)
class RunFacts:
    """One function's runs in the lookback (report time, succeeded) and ItemsWritten per UTC hour."""

    runs: list[tuple[datetime, bool]]
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
    """The row of one scheduled function from its runs; pure (tests give it synthetic facts)."""
    trigger = catalog.schedule_trigger(function)
    expression = stack_config.schedule_expression(function)
    enabled = stack_config.schedule_enabled(function)
    try:
        upcoming: str | None = cron.next_fire(expression, stack_config.timezone, now).isoformat() if enabled else None
    except cron.ScheduleExpressionError:
        upcoming = None
    runs = sorted(facts.runs)
    successes = [when for when, succeeded in runs if succeeded]
    due = last_due_fire(expression, stack_config.timezone, now) if enabled else None
    late_minutes = None
    last = runs[-1] if runs else None
    if last is None:
        outcome, state = None, "never ran"
    elif not last[1]:
        outcome, state = "failed", "failed"
    elif due is not None and successes[-1] < due:
        outcome, state = "succeeded", "late"
        late_minutes = int((now - due).total_seconds() // 60)
    else:
        outcome, state = "succeeded", "fresh"
    items = None
    if last is not None:  # what the newest run reported: nothing when it failed
        items = int(facts.items_written.get(last[0].replace(minute=0, second=0, microsecond=0), 0)) if last[1] else 0
    return CollectorRow(
        function=function.name,
        schedule=trigger.schedule,
        enabled=enabled,
        last_run=last[0].isoformat() if last else None,
        outcome=outcome,
        items_written=items,
        next_fire=upcoming,
        late_minutes=late_minutes,
        verdict=state,
    )


REPORT_PATTERN = '"platform.report"'  # a term match: Lambda's report records of the JSON log format


# ---------------------------------------------------------------------------- what the tables' data says

Freshness = telemetry.FreshnessMetric


@dataclass(frozen=True)
class Gauge:
    """One metric read for the table rows: its GetMetricData id, name, emitting function and statistic."""

    id: str
    metric: str
    source: str
    stat: str = "Maximum"


GAUGES = (
    Gauge("assets_synced", Freshness.ASSET_CATALOG_SYNCED, telemetry.emitter(Freshness.ASSET_CATALOG_SYNCED)),
    Gauge(
        "calendar_synced",
        Freshness.EARNINGS_CALENDAR_SYNCED,
        telemetry.emitter(Freshness.EARNINGS_CALENDAR_SYNCED),
    ),
    Gauge(
        "news_lag",
        Freshness.NEWS_WATERMARK_LAG_MINUTES,
        telemetry.emitter(Freshness.NEWS_WATERMARK_LAG_MINUTES),
    ),
    Gauge("recorded", telemetry.MetricName.POLLENATIONS_RECORDED, "PollenateAsset", stat="Sum"),
    Gauge("regular_requested", Freshness.POLLENATIONS_REQUESTED, "TriggerRegularPollenation"),
    Gauge("planned", Freshness.POLLENATIONS_PLANNED, telemetry.emitter(Freshness.POLLENATIONS_PLANNED)),
    Gauge("earnings_requested", Freshness.POLLENATIONS_REQUESTED, "TriggerEarningsPollenation"),
    Gauge("waiting", Freshness.EARNINGS_ROWS_WAITING, telemetry.emitter(Freshness.EARNINGS_ROWS_WAITING)),
    Gauge(
        "oldest",
        Freshness.OLDEST_UNPROCESSED_REPORT_DAYS,
        telemetry.emitter(Freshness.OLDEST_UNPROCESSED_REPORT_DAYS),
    ),
)
_GAUGE = {gauge.id: gauge for gauge in GAUGES}
NO_DATA = f"none in {LOOKBACK.days} days"

Series = dict[datetime, float]  # hour start (UTC) -> value


@dataclass(frozen=True)
class TableRow:
    table: str
    reading: str
    value: str
    metric: str
    """Where the value comes from: ``Signal9 <metric> (<emitting function>)``."""


def _source(*ids: str) -> str:
    return f"{telemetry.NAMESPACE} " + ", ".join(f"{_GAUGE[i].metric} ({_GAUGE[i].source})" for i in ids)


def _newest(series: Series) -> tuple[datetime, float] | None:
    return max(series.items()) if series else None


def table_rows(series: dict[str, Series], now: datetime) -> list[TableRow]:
    """The table rows from the gauges' hourly datapoints (by ``Gauge.id``); pure (tests give it series).

    A datapoint's time is its hour's start: "synced at" and the watermark are to the hour.
    """

    def newest(gauge: str) -> tuple[datetime, float] | None:
        return _newest(series.get(gauge, {}))

    def synced(gauge: str) -> str:
        point = newest(gauge)
        if point is None:
            return NO_DATA
        return f"{point[0].isoformat()} ({int((now - point[0]).total_seconds() // 3600)} h ago)"

    def latest(gauge: str) -> str:
        point = newest(gauge)
        return NO_DATA if point is None else f"{point[1]:.0f}"

    def days(count: str) -> str:
        return count if count == NO_DATA else f"{count} day" + ("" if count == "1" else "s")

    news = newest("news_lag")
    coverage = (
        NO_DATA
        if news is None
        else f"watermark {(news[0] - timedelta(minutes=news[1])).isoformat()}, {news[1]:.0f} min behind its run"
    )
    return [
        TableRow("assets", "newest asset sync", synced("assets_synced"), _source("assets_synced")),
        TableRow("earningsCalendar", "calendar sync", synced("calendar_synced"), _source("calendar_synced")),
        TableRow("newsSentiment", "news coverage", coverage, _source("news_lag")),
        TableRow(
            "assets",
            "regular batch pollenations",
            regular_batch(series),
            _source("recorded", "regular_requested", "planned", "earnings_requested"),
        ),
        TableRow("earningsCalendar", "earnings rows waiting", latest("waiting"), _source("waiting")),
        TableRow("earningsCalendar", "oldest unprocessed report", days(latest("oldest")), _source("oldest")),
    ]


def regular_batch(series: dict[str, Series]) -> str:
    """The newest regular batch: what PollenateAsset recorded of what TriggerRegularPollenation requested.

    The batch the morning check is about runs the evening before. Its pollenations are those
    recorded from its hour until the earnings trigger's next run (whose own pollenations follow);
    "planned" is what the trigger requested, the configured batch size only when enough assets
    are active.
    """
    batch = _newest(series.get("regular_requested", {}))
    if batch is None:
        return NO_DATA
    start, requested = batch
    end = min((t for t in series.get("earnings_requested", {}) if t > start), default=None)
    recorded = sum(v for t, v in series.get("recorded", {}).items() if t >= start and (end is None or t < end))
    size = series.get("planned", {}).get(start)
    note = f"; batch size {size:.0f}" if size is not None and size != requested else ""
    return f"{recorded:.0f} recorded of {requested:.0f} planned (batch of {start.isoformat()}{note})"


def gauge_series(cloudwatch: Any, naming: Naming, start: datetime, now: datetime) -> dict[str, Series]:
    """Every gauge's hourly datapoints (Signal9 namespace, service + stage) in one GetMetricData."""
    queries = [
        {
            "Id": gauge.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": telemetry.NAMESPACE,
                    "MetricName": gauge.metric,
                    "Dimensions": [
                        {"Name": "service", "Value": gauge.source},
                        {"Name": "stage", "Value": naming.stack},
                    ],
                },
                "Period": HOUR_SECONDS,
                "Stat": gauge.stat,
            },
        }
        for gauge in GAUGES
    ]
    return _hourly(cloudwatch, queries, start, now)


def _hourly(cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, now: datetime) -> dict[str, Series]:
    """GetMetricData's answers by query id, each datapoint under its UTC hour.

    The range ends with ``now``'s hour (EndTime is exclusive and, as StartTime, aligned with the
    hourly period, as CloudWatch advises): the current hour's datapoints up to ``now`` included.
    """
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(seconds=HOUR_SECONDS)
    series: dict[str, Series] = {query["Id"]: {} for query in queries}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end
    ):
        for result in page["MetricDataResults"]:
            for timestamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                hour = timestamp.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
                series[result["Id"]][hour] = series[result["Id"]].get(hour, 0) + value
    return series


def runs_of(logs: Any, group: str, start: datetime, now: datetime) -> list[tuple[datetime, bool]]:
    """(report time, succeeded) of every run whose report is in ``group`` between ``start`` and ``now``."""
    runs = []
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group,
        startTime=int(start.timestamp() * 1000),
        endTime=int(now.timestamp() * 1000),
        filterPattern=REPORT_PATTERN,
    )
    try:
        answered = list(pages)
    except logs.exceptions.ResourceNotFoundException:
        raise NotDeployedError(f"log group {group}") from None
    for page in answered:
        for event in page["events"]:
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("type") == "platform.report":
                status = record.get("record", {}).get("status")
                runs.append((datetime.fromtimestamp(event["timestamp"] / 1000, UTC), status == "success"))
    return runs


def work_metric(function: catalog.Function) -> str:
    """What a run of ``function`` reports doing: the events a trigger published, else the items written."""
    if function.name in telemetry.FRESHNESS_SOURCES[Freshness.POLLENATIONS_REQUESTED]:
        return Freshness.POLLENATIONS_REQUESTED.value
    return telemetry.MetricName.ITEMS_WRITTEN.value


def items_written(
    cloudwatch: Any, naming: Naming, functions: tuple[catalog.Function, ...], start: datetime, now: datetime
) -> dict[str, dict[datetime, float]]:
    """Each function's hourly work metric (Signal9 namespace, service + stage) in one GetMetricData."""
    queries: list[dict[str, Any]] = [
        {
            "Id": f"items{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": telemetry.NAMESPACE,
                    "MetricName": work_metric(function),
                    "Dimensions": [
                        {"Name": "service", "Value": function.name},
                        {"Name": "stage", "Value": naming.stack},
                    ],
                },
                "Period": HOUR_SECONDS,
                "Stat": "Sum",
            },
        }
        for i, function in enumerate(functions)
    ]
    series = _hourly(cloudwatch, queries, start, now)
    return {f.name: series[f"items{i}"] for i, f in enumerate(functions)}


def run_facts(
    session: Any, naming: Naming, functions: tuple[catalog.Function, ...], now: datetime
) -> dict[str, RunFacts]:
    start = now.replace(minute=0, second=0, microsecond=0) - LOOKBACK  # hour-aligned metric datapoints
    logs = session.client("logs")
    items = items_written(session.client("cloudwatch"), naming, functions, start, now)
    return {f.name: RunFacts(runs_of(logs, naming.log_group(f.name), start, now), items[f.name]) for f in functions}


def queue_depths(sqs: Any, naming: Naming) -> dict[str, int]:
    depths = {}
    for function in catalog.FUNCTIONS:
        try:
            depths[function.name] = list_queue(sqs, naming, function, samples=0).visible
        except QueueMissingError as missing:
            raise NotDeployedError(f"queue {missing.queue}") from None
    return depths


def alarms_in_alarm(cloudwatch: Any, naming: Naming) -> list[str]:
    names: list[str] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{naming.prefix}-", StateValue="ALARM"
    ):
        # Filtered here too: moto ignores StateValue next to AlarmNamePrefix (the emulator's answers).
        names += [alarm["AlarmName"] for alarm in page.get("MetricAlarms", []) if alarm["StateValue"] == "ALARM"]
    return names


@dataclass(frozen=True)
class Status:
    stack: str
    checked_at: str
    collectors: list[CollectorRow]
    tables: list[TableRow]
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
    facts = run_facts(session, naming, scheduled, now)
    rows = [verdict(f, stack_config, facts[f.name], now) for f in scheduled]
    start = now.replace(minute=0, second=0, microsecond=0) - LOOKBACK
    return Status(
        stack=stack,
        checked_at=now.isoformat(),
        collectors=rows,
        tables=table_rows(gauge_series(cloudwatch, naming, start, now), now),
        dead_letter_queues=queue_depths(session.client("sqs"), naming),
        alarms_in_alarm=alarms_in_alarm(cloudwatch, naming),
    )


def _columns(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def format_status(status: Status) -> str:
    lines = [f"signal9 status: stack {status.stack!r} at {status.checked_at}", ""]
    header = ("COLLECTOR", "VERDICT", "LAST RUN", "OUTCOME", "ITEMS", "NEXT FIRE", "LATE")
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
    lines += _columns(header, rows)
    lines.append("")
    lines += _columns(
        ("TABLE", "READING", "VALUE", "FROM METRIC"),
        [(row.table, row.reading, row.value, row.metric) for row in status.tables],
    )
    lines.append("")
    waiting = {name: depth for name, depth in status.dead_letter_queues.items() if depth}
    lines.append(
        "dead-letter queues: " + (", ".join(f"{name} {depth}" for name, depth in waiting.items()) or "all empty")
    )
    lines.append("alarms in ALARM: " + (", ".join(status.alarms_in_alarm) or "none"))
    lines.append("verdict: " + verdict_line(status))
    return "\n".join(lines)


def verdict_line(status: Status) -> str:
    """``all fresh``, or what is not, each with the runbook to open first."""
    if status.healthy:
        return "all fresh"
    causes = [
        f"{row.function} {row.verdict} (runbook docs/runbooks/collector-late.md)"
        for row in status.collectors
        if row.enabled and row.verdict != "fresh"
    ]
    if any(status.dead_letter_queues.values()):
        causes.append("dead-letter queues hold messages (runbook docs/runbooks/dlq-not-empty.md)")
    if status.alarms_in_alarm:
        causes.append("alarms in ALARM (each alarm's first check: docs/observability.md)")
    return "NOT all fresh: " + "; ".join(causes)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("status", help="is today's data in? collectors, DLQs and alarms (uses AWS)")
    add_stack_argument(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.set_defaults(run=run, aws_permissions=AWS_PERMISSIONS)


def run(args: argparse.Namespace, session: Any = None, now: datetime | None = None) -> int:
    stack_config = config.load_stack(args.stack)
    session = session or aws_session(profile=args.profile, region=stack_region(args.stack))
    status = collect(session, args.stack, stack_config, now or datetime.now(UTC))
    if args.json:
        document = {**asdict(status), "healthy": status.healthy}
        print(json.dumps(document, indent=2))
    else:
        print(format_status(status))
    return 0 if status.healthy else 1
