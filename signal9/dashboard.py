"""Monitoring generated from the catalog: dashboard body, alarm specs and Logs Insights queries.

Pure functions of the catalog, a stack's ``Naming`` and its config (no Pulumi), so the
Observability component stays thin and every widget, alarm and query is unit-testable.
Physical names come from ``Naming`` exactly as the other components create them.

Metric names and dimensions (checked against the AWS service guides):
- AWS/Lambda per ``FunctionName``: Invocations, Errors, Throttles, Duration, ConcurrentExecutions.
- AWS/SQS per ``QueueName``: ApproximateNumberOfMessagesVisible.
- AWS/Scheduler per ``ScheduleGroup`` only (Scheduler publishes no per-schedule dimension).
- AWS/Events for a rule on a custom bus: ``EventBusName`` + ``RuleName``.
- AWS/DynamoDB per ``TableName`` (ThrottledRequests also per ``Operation``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from functions.shared import telemetry
from functions.shared.publication import PUBLICATION_DAYS
from signal9 import catalog, cron, iam
from signal9.config import StackConfig
from signal9.naming import Naming

PERIOD_SECONDS = 300
CUSTOM_NAMESPACE = telemetry.NAMESPACE  # the handlers' Powertools metrics namespace
GRID_WIDTH = 24
WIDGET_HEIGHT = 6

# AWS limits this module stays inside.
MAX_DASHBOARD_BODY_BYTES = 1_000_000  # PutDashboard: DashboardBody at most 1 MB
MAX_WIDGETS = 500  # widgets per dashboard
MAX_METRICS_PER_WIDGET = 500
MAX_ALARM_NAME_LENGTH = 255
MAX_ALARM_METRIC_QUERIES = 10  # metric math alarms: at most 10 metrics per alarm
MAX_EXPRESSION_LENGTH = 2048  # MetricDataQuery.Expression
MAX_LOG_GROUPS_PER_QUERY = 50  # Logs Insights: log groups per query / SOURCE list

# The DynamoDB operations the catalog's grants allow (see catalog.Function): a table's
# ThrottledRequests is published per operation, so the dashboard lists exactly these.
READ_OPERATIONS = tuple(action.removeprefix("dynamodb:") for action in iam.READ_ACTIONS)
WRITE_OPERATIONS = tuple(action.removeprefix("dynamodb:") for action in iam.WRITE_ACTIONS)

# Scheduler metrics for a schedule group; the last four mean a job did not reach its function.
SCHEDULER_METRICS = (
    "InvocationAttemptCount",
    "TargetErrorCount",
    "TargetErrorThrottledCount",
    "InvocationThrottleCount",
    "InvocationDroppedCount",
    "InvocationsSentToDeadLetterCount",
    "InvocationsFailedToBeSentToDeadLetterCount",
)
SCHEDULER_FAILURE_METRICS = (
    "TargetErrorCount",
    "InvocationDroppedCount",
    "InvocationsSentToDeadLetterCount",
    "InvocationsFailedToBeSentToDeadLetterCount",
)
RULE_METRICS = (
    "MatchedEvents",
    "Invocations",
    "FailedInvocations",
    "InvocationsSentToDlq",
    "InvocationsFailedToBeSentToDlq",
)
RULE_FAILURE_METRICS = ("FailedInvocations", "InvocationsSentToDlq", "InvocationsFailedToBeSentToDlq")

# Sustained throttling by an external API: the client retries a throttled request up to 3
# times, so a few throttled answers are absorbed; this many in 3 of 5 periods is not.
THROTTLING_ALARM_APIS = ("alphavantage",)
# A paced function's events may wait while a burst drains (docs/collectors.md); warn at this
# share of the maximum event age, before Lambda starts dropping them into the DLQ.
EVENT_AGE_ALARM_SHARE = 0.75
THROTTLING_ALARM_THRESHOLD = 5
THROTTLING_ALARM_PERIODS = 5
THROTTLING_ALARM_DATAPOINTS = 3
# External-call widgets graph per minute, the unit of the AlphaVantage plan's rate.
EXTERNAL_PERIOD_SECONDS = 60
EXTERNAL_METRICS = (
    telemetry.MetricName.EXTERNAL_CALLS,
    telemetry.MetricName.EXTERNAL_THROTTLED,
    telemetry.MetricName.EXTERNAL_RETRIES,
)

# Freshness alarms on the collectors' own gauges (functions.shared.telemetry.FreshnessMetric).
FRESHNESS_PERIOD_SECONDS = 3600
# News: the hourly sync's watermark this far behind its scheduled time, two runs in a row.
NEWS_LAG_ALARM_MINUTES = 6 * 60
NEWS_LAG_ALARM_RUNS = 2

# A line is an error when the handler logged ERROR/CRITICAL (Powertools ``level``), the
# runtime reported an uncaught exception (also ``level`` ERROR in Lambda's JSON log format)
# or the platform report says the invocation failed or timed out.
ERROR_FILTER = 'level in ["ERROR", "CRITICAL"] or record.status in ["error", "failure", "timeout"]'
CORRELATION_ID_PLACEHOLDER = "<eventbridge-event-id>"


# ---------------------------------------------------------------------------- names


def function_names(naming: Naming) -> dict[str, str]:
    """Catalog function name -> physical function name."""
    return {f.name: naming.function(f.name) for f in catalog.FUNCTIONS}


def log_group_names(naming: Naming) -> list[str]:
    """Every function's log group, in catalog order."""
    return [naming.log_group(f.name) for f in catalog.FUNCTIONS]


def table_operations(table: str) -> tuple[str, ...]:
    """The DynamoDB operations any catalog function is granted on ``table``."""
    reads = any(table in f.reads for f in catalog.FUNCTIONS)
    writes = any(table in f.writes for f in catalog.FUNCTIONS)
    return (READ_OPERATIONS if reads else ()) + (WRITE_OPERATIONS if writes else ())


def event_rules(naming: Naming) -> dict[str, str]:
    """Catalog event detail-type -> physical rule name on the Signal9 bus."""
    return {event.detail_type: naming.rule(event.detail_type) for event in catalog.EVENTS}


def external_apis() -> dict[str, tuple[str, ...]]:
    """External API -> the catalog functions calling it, in catalog order.

    A function calls the API whose secret it holds; the secret's catalog name is the ``api``
    dimension ``functions.shared.http.count_external`` puts on ExternalCalls/Throttled/Retries.
    """
    apis: dict[str, tuple[str, ...]] = {}
    for function in catalog.FUNCTIONS:
        if function.secret:
            apis[function.secret] = (*apis.get(function.secret, ()), function.name)
    return apis


def external_dimensions(naming: Naming, api: str, function: str) -> dict[str, str]:
    """The dimensions of one function's external-call metrics (see ``count_external``)."""
    return {"service": function, "stage": naming.stack, "api": api}


def schedule_groups(naming: Naming) -> tuple[str, ...]:
    """The schedule groups the catalog's schedules live in (one per stack today)."""
    return (naming.schedule_group,) if catalog.SCHEDULE_NAMES else ()


# ---------------------------------------------------------------------------- queries


def _source(naming: Naming) -> str:
    """The log-group prefix of a dashboard log widget: every function's log group."""
    return " | ".join(f"SOURCE '{group}'" for group in log_group_names(naming))


def recent_errors_query() -> str:
    return (
        "fields @timestamp, @log, function_name, level, message, correlation_id, function_request_id"
        f" | filter {ERROR_FILTER}"
        " | sort @timestamp desc"
        " | limit 100"
    )


def errors_by_function_query() -> str:
    return f"filter {ERROR_FILTER} | stats count(*) as errors by @log | sort errors desc"


def correlation_query() -> str:
    # Consumers carry the EventBridge event id as correlation_id; a producer mentions the id
    # it emitted in its own line, so a substring match finds the producing invocation too.
    return (
        "fields @timestamp, @log, function_name, level, message, function_request_id"
        f' | filter correlation_id = "{CORRELATION_ID_PLACEHOLDER}" or @message like "{CORRELATION_ID_PLACEHOLDER}"'
        " | sort @timestamp asc"
        " | limit 1000"
    )


def slowest_invocations_query() -> str:
    # Lambda's JSON log format writes the REPORT line as a platform.report record; the text
    # format's @duration fields are kept as a fallback.
    return (
        'filter type = "platform.report" or @type = "REPORT"'
        " | fields @timestamp, @log, coalesce(record.requestId, @requestId) as requestId,"
        " coalesce(record.metrics.durationMs, @duration) as durationMs,"
        " coalesce(record.metrics.maxMemoryUsedMB, @maxMemoryUsed / 1000000) as maxMemoryUsedMB,"
        " record.metrics.initDurationMs as initDurationMs, record.status as status"
        " | sort durationMs desc"
        " | limit 25"
    )


@dataclass(frozen=True)
class SavedQuery:
    """A saved Logs Insights query (``aws.cloudwatch.QueryDefinition``)."""

    key: str
    name: str
    query: str
    log_groups: tuple[str, ...]


def saved_queries(naming: Naming) -> list[SavedQuery]:
    """The saved queries, each over every function's log group, in a ``signal9-<stack>/`` folder."""
    groups = tuple(log_group_names(naming))
    if len(groups) > MAX_LOG_GROUPS_PER_QUERY:
        raise ValueError(f"{len(groups)} log groups exceed the Logs Insights limit of {MAX_LOG_GROUPS_PER_QUERY}")
    queries = {
        "errors-by-function": errors_by_function_query(),
        "correlation-id": correlation_query(),
        "slowest-invocations": slowest_invocations_query(),
    }
    return [SavedQuery(key, f"{naming.prefix}/{key}", query, groups) for key, query in queries.items()]


# ---------------------------------------------------------------------------- alarms


@dataclass(frozen=True)
class MetricQuery:
    """One metric of a metric-math alarm (id, namespace, metric, dimensions)."""

    id: str
    namespace: str
    metric: str
    dimensions: dict[str, str]


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: a single metric, a FILL()-summed metric-math expression, or ``math`` over ``sum_of``."""

    key: str
    name: str
    description: str
    threshold: float
    comparison: str
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    namespace: str | None = None
    metric: str | None = None
    statistic: str = "Sum"  # the single metric's, or each ``sum_of`` metric's
    dimensions: dict[str, str] = field(default_factory=dict)
    sum_of: tuple[MetricQuery, ...] = ()
    # A metric-math alarm's own expression over the ``sum_of`` metrics (default: their FILL()ed sum).
    math: str = ""
    result_id: str = "failures"
    period: int = PERIOD_SECONDS
    # Most metrics here are only published when something happens (EventBridge sends
    # FailedInvocations only when non-zero): no data means nothing went wrong.
    treat_missing_data: str = "notBreaching"

    @property
    def expression(self) -> str:
        """The metric-math expression of a multi-metric alarm (by default the sum; a missing series counts as 0)."""
        return self.math or " + ".join(f"FILL({q.id}, 0)" for q in self.sum_of)


def _alarm_name(naming: Naming, suffix: str) -> str:
    name = f"{naming.prefix}-{suffix}"
    if len(name) > MAX_ALARM_NAME_LENGTH:
        raise ValueError(f"alarm name {name!r} exceeds {MAX_ALARM_NAME_LENGTH} characters")
    return name


def _sum_of(namespace: str, metrics: tuple[str, ...], dimensions: dict[str, str]) -> tuple[MetricQuery, ...]:
    if len(metrics) > MAX_ALARM_METRIC_QUERIES:
        raise ValueError(f"a metric-math alarm takes at most {MAX_ALARM_METRIC_QUERIES} metrics")
    return tuple(MetricQuery(f"m{i}", namespace, metric, dimensions) for i, metric in enumerate(metrics, start=1))


# ---------------------------------------------------------------------------- missed runs
#
# A schedule that never fires (switched off, its role unusable, the function throttled away)
# raises no Errors. The missed-run alarm watches, per scheduled function, the hours in which a
# successful run must show: Invocations minus Errors (AWS/Lambda) per hour, checked only inside
# windows generated from the schedule's own cron expression. Metric math's date functions read
# a datapoint's timestamp in UTC (DAY: 1 = Monday .. 7 = Sunday, HOUR: 0-23; see "Metric math
# syntax and functions", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
# and https://aws.amazon.com/blogs/mt/enhance-cloudwatch-metrics-with-metric-math-functions/),
# while Scheduler fires in the stack's timezone. So each local fire time is placed under every
# UTC offset the timezone uses (New York: -5 and -4); its window runs from the hour before the
# earliest of those hours to the latest plus the grace below, and the alarm fires only when every
# hour of such a window had no successful run (``evaluation_periods`` = ``datapoints_to_alarm`` =
# the window's length). The hour before: CloudWatch evaluates every minute over periods ending at
# the evaluation (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-limits.html),
# so an hourly period starts at any minute and the one holding a 09:30 run may start at 08:40.
# A run at either offset lands inside the window, so a daylight-saving change cannot raise it;
# Sunday (local) has no fire times, hence no windows, so the maintenance window cannot either. For
# a schedule firing every hour the windows overlap: it alarms after three missed runs in a row.
#
# A new stack has no datapoint before its deploy, so every window hour before it reads as missed:
# a daily schedule deployed after its fire time would alarm that day, the hourly one for up to an
# hour. So a deploy counts as a run in the hour it starts: the deploy workflow puts one
# ``Signal9 Deployments`` datapoint (dimension ``stage``) just before ``pulumi up`` (deploy.yml), and
# every range holding that hour has a datapoint that does not breach. A range starting after it
# reads the function's own runs only (a missed run then alarms as before); what the marked hour
# hides is a run missed during the deploy itself, which `signal9 verify` right after it reads
# (schedules, targets) and `signal9 status` reports.
DEPLOYMENTS_METRIC = "Deployments"

MISSED_RUN_PERIOD_SECONDS = 3600
# A run is expected to have succeeded this long after its fire time: Lambda's two async retries
# of a failed attempt come about 1 and 2 minutes after it (plus the attempt's duration), all
# inside this.
MISSED_RUN_GRACE_MINUTES = 20
_HOURS_PER_WEEK = 7 * 24
_OFFSET_SAMPLE_DAYS = 2 * 366


def utc_offsets(timezone: str, around: date) -> tuple[timedelta, ...]:
    """The distinct UTC offsets ``timezone`` uses in the two years from ``around`` (DST included)."""
    zone = ZoneInfo(timezone)
    noon = datetime(around.year, around.month, around.day, 12)
    offsets = {
        offset
        for days in range(_OFFSET_SAMPLE_DAYS)
        if (offset := (noon + timedelta(days=days)).replace(tzinfo=zone).utcoffset()) is not None
    }
    return tuple(sorted(offsets))


@dataclass(frozen=True)
class MissedRunWindows:
    """The UTC hours of the week (0 = Monday 00:00 UTC) that must show a successful run, and a window's length."""

    hours: frozenset[int]
    length: int


def missed_run_windows(
    expression: str, timezone: str, around: date, days: frozenset[int] | None = None
) -> MissedRunWindows | None:
    """Where a run of ``expression`` must show, in UTC hours of the week; None when it has no weekly pattern.

    ``at()`` one-offs and cron expressions restricted by month, year, ``#n`` or ``L`` are not
    weekly: they get no missed-run alarm (the status command still reports them). ``days``:
    only the runs of these local weekdays (Scheduler's numbering, 1 = SUN .. 7 = SAT).
    """
    schedule = cron.expand(expression)
    if (
        schedule is None
        or schedule.weekdays.nth
        or schedule.weekdays.last
        or schedule.months != cron.MONTHS.values("*")
        or schedule.years != cron.YEARS.values("*")
    ):
        return None
    offsets = [int(offset.total_seconds()) // 60 for offset in utc_offsets(timezone, around)]
    hours: set[int] = set()
    length = 0
    for day in schedule.weekdays.days if days is None else schedule.weekdays.days & days:  # 1 = SUN .. 7 = SAT
        monday_based = (day - 2) % 7
        for hour in schedule.hours:
            for minute in schedule.minutes:
                local = monday_based * 24 * 60 + hour * 60 + minute
                # An hour before the earliest fire's hour: CloudWatch's hourly periods start at any
                # minute (an evaluation every minute), so the period holding a run may start in it.
                first = (local - max(offsets)) // 60 - 1
                last = (local - min(offsets) + MISSED_RUN_GRACE_MINUTES) // 60
                length = max(length, last - first + 1)
                hours.update(h % _HOURS_PER_WEEK for h in range(first, last + 1))
    return MissedRunWindows(frozenset(hours), length)


def _ranges(values: list[int]) -> list[tuple[int, int]]:
    """Sorted values as inclusive runs, e.g. [1, 2, 3, 5] -> [(1, 3), (5, 5)]."""
    runs: list[tuple[int, int]] = []
    for value in sorted(values):
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _between(function: str, series: str, low: int, high: int, full: tuple[int, int]) -> list[str]:
    if (low, high) == full:
        return []
    if low == high:
        return [f"{function}({series}) == {low}"]
    return [f"{function}({series}) >= {low}", f"{function}({series}) <= {high}"]


def window_condition(windows: MissedRunWindows, series: str) -> str:
    """A metric-math condition true for the datapoints of ``series`` whose UTC hour is in ``windows``."""
    by_day: dict[int, tuple[tuple[int, int], ...]] = {}
    for day in range(1, 8):  # metric math DAY(): 1 = Monday .. 7 = Sunday
        day_hours = [h % 24 for h in windows.hours if h // 24 == day - 1]
        if day_hours:
            by_day[day] = tuple(_ranges(day_hours))
    days_by_hours: dict[tuple[tuple[int, int], ...], list[int]] = {}
    for day, hour_ranges in by_day.items():
        days_by_hours.setdefault(hour_ranges, []).append(day)
    terms = []
    for hour_ranges, days in days_by_hours.items():
        for day_low, day_high in _ranges(days):
            for hour_low, hour_high in hour_ranges:
                parts = _between("DAY", series, day_low, day_high, (1, 7)) + _between(
                    "HOUR", series, hour_low, hour_high, (0, 23)
                )
                terms.append("(" + " AND ".join(parts or ["1"]) + ")")
    return " OR ".join(terms)


def deployments_dimensions(naming: Naming) -> dict[str, str]:
    """The dimensions the deploy workflow marks a deploy of this stack with (deploy.yml)."""
    return {"stage": naming.stack}


def missed_run_expression(
    windows: MissedRunWindows, invocations: str = "invocations", errors: str = "errors", deployed: str = "deployed"
) -> str:
    """1 for an hour inside a window without a successful run (Invocations minus Errors) nor a deploy, else 0."""
    # Every hour of the range must get a datapoint, also when the function has none at all in
    # it (a missed daily run leaves the alarm's few-hour range empty). FILL() is not documented
    # to do that for an empty series; the date functions are ("take the period and range of the
    # time series and return a new non-sparse time series", using-metric-math.html), and
    # arithmetic counts a missing value as 0. So 0 * HOUR() anchors every hour of the range.
    hours = f"HOUR({invocations})"
    succeeded = f"0 * {hours} + {invocations} - {errors} + {deployed}"
    expression = f"IF(({window_condition(windows, invocations)}) AND ({succeeded}) < 1, 1, 0)"
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ValueError(f"missed-run expression is {len(expression)} characters, over {MAX_EXPRESSION_LENGTH}")
    return expression


def _throttles_alarm(function: catalog.Function, naming: Naming) -> AlarmSpec:
    physical = naming.function(function.name)
    return AlarmSpec(
        key=f"{function.name}-throttles",
        name=_alarm_name(naming, f"{function.name}-throttles"),
        description=(
            f"{physical} was throttled in 3 consecutive 5-minute periods. Lambda retries throttled asynchronous "
            "invocations itself, so only sustained throttling alarms. First check: the account's concurrent "
            "executions (AWS/Lambda ConcurrentExecutions) against its concurrency quota."
        ),
        namespace="AWS/Lambda",
        metric="Throttles",
        dimensions={"FunctionName": physical},
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=3,
        datapoints_to_alarm=3,
    )


def _event_age_alarm(function: catalog.Function, naming: Naming) -> AlarmSpec:
    """A paced function is throttled by design while a burst drains: alarm when its events near their maximum age."""
    physical = naming.function(function.name)
    threshold_seconds = EVENT_AGE_ALARM_SHARE * catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS
    return AlarmSpec(
        key=f"{function.name}-event-age",
        name=_alarm_name(naming, f"{function.name}-event-age"),
        description=(
            f"An event waited {threshold_seconds:.0f} s or more for {physical}, whose reserved concurrency keeps it under "
            f"the AlphaVantage plan (its Throttles are expected while a burst drains). At "
            f"{catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s Lambda drops events into the DLQ. First check: the runbook "
            "docs/runbooks/alphavantage-throttling.md (a burst larger than the plan drains in time, or slow calls)."
        ),
        namespace="AWS/Lambda",
        metric="AsyncEventAge",
        statistic="Maximum",
        dimensions={"FunctionName": physical},
        threshold=threshold_seconds * 1000,  # AsyncEventAge is in milliseconds
        comparison="GreaterThanOrEqualToThreshold",
    )


def watched_schedules(stack_config: StackConfig) -> dict[str, MissedRunWindows]:
    """Enabled scheduled functions with a weekly schedule -> their missed-run windows, in catalog order."""
    watched: dict[str, MissedRunWindows] = {}
    for function in catalog.scheduled_functions():
        if not stack_config.schedule_enabled(function):
            continue
        windows = missed_run_windows(stack_config.schedule_expression(function), stack_config.timezone, date.today())
        if windows is not None:
            watched[function.name] = windows
    return watched


def _missed_run_alarm(
    function: catalog.Function, windows: MissedRunWindows, naming: Naming, stack_config: StackConfig
) -> AlarmSpec:
    """The missed-run alarm of an enabled scheduled function with a weekly schedule (see the section above)."""
    expression = stack_config.schedule_expression(function)
    physical = naming.function(function.name)
    dimensions = {"FunctionName": physical}
    return AlarmSpec(
        key=f"{function.name}-missed-run",
        name=_alarm_name(naming, f"{function.name}-missed-run"),
        description=(
            f"No successful run of {physical} (AWS/Lambda Invocations minus Errors) in the "
            f"{windows.length} hours after its {expression} fire time ({stack_config.timezone}, Monday-Saturday): the "
            "schedule did not fire, Scheduler could not invoke it, or every attempt failed. First check: the runbook "
            f"docs/runbooks/collector-late.md and `signal9 status --stack {naming.stack}`."
        ),
        sum_of=(
            MetricQuery("invocations", "AWS/Lambda", "Invocations", dimensions),
            MetricQuery("errors", "AWS/Lambda", "Errors", dimensions),
            MetricQuery("deployed", CUSTOM_NAMESPACE, DEPLOYMENTS_METRIC, deployments_dimensions(naming)),
        ),
        math=missed_run_expression(windows),
        result_id="missed",
        period=MISSED_RUN_PERIOD_SECONDS,
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=windows.length,
        datapoints_to_alarm=windows.length,
        # The expression has a datapoint every hour (see missed_run_expression), so an hour
        # without one only happens if CloudWatch's date functions skip an empty series after all:
        # then the alarm fails loud (ALARM at quiet hours) instead of going blind to a dead schedule.
        treat_missing_data="breaching",
    )


def freshness_dimensions(naming: Naming, function: str) -> dict[str, str]:
    """The dimensions a handler's custom metrics carry (functions.shared.observability)."""
    return {"service": function, "stage": naming.stack}


# ---------------------------------------------------------------------------- earnings overdue
#
# TriggerEarningsPollenation gauges the age in calendar days of the oldest report it still finds
# waiting (OldestUnprocessedReportDays). A report dated D is concluded by the first run on or
# after D + PUBLICATION_DAYS, and that run still reads it (its pollenation concludes it after):
# PUBLICATION_DAYS when a run fell on that day, more when the day had none (no Sunday run: the
# Monday run concluding a Tuesday report reads 6). So the alarm first takes from each datapoint
# the days without a run just before the run that emitted it, read from the trigger's own
# schedule and placed in UTC hours as the missed-run windows are, and alarms above
# PUBLICATION_DAYS: a report still waiting at the run after its concluding one.


def idle_days_before_runs(expression: str) -> dict[int, frozenset[int]]:
    """Days without a run just before a run day -> those run days (Scheduler's 1 = SUN .. 7 = SAT); {} if none."""
    schedule = cron.expand(expression)
    if schedule is None:
        return {}
    run_days = schedule.weekdays.days
    idle: dict[int, set[int]] = {}
    for day in run_days:
        back = 1
        while ((day - 1 - back) % 7) + 1 not in run_days:  # the weekday ``back`` days before ``day``
            back += 1
        if back > 1:
            idle.setdefault(back - 1, set()).add(day)
    return {days: frozenset(run) for days, run in idle.items()}


def overdue_expression(expression: str, timezone: str, gauge: str) -> str:
    """``gauge`` less the idle days before the run behind each datapoint; just ``gauge`` when the schedule is not weekly."""
    terms = []
    for idle, days in sorted(idle_days_before_runs(expression).items()):
        windows = missed_run_windows(expression, timezone, date.today(), days)
        if windows is None:
            return gauge
        terms.append(f"{idle} * IF({window_condition(windows, gauge)}, 1, 0)")
    return f"{gauge} - ({' + '.join(terms)})" if terms else gauge


def _earnings_overdue_alarm(naming: Naming, stack_config: StackConfig) -> AlarmSpec:
    gauge = telemetry.FreshnessMetric.OLDEST_UNPROCESSED_REPORT_DAYS
    trigger = catalog.function(telemetry.emitter(gauge))
    schedule = stack_config.schedule_expression(trigger)
    return AlarmSpec(
        key="earnings-overdue",
        name=_alarm_name(naming, "earnings-overdue"),
        description=(
            f"{trigger.name} still finds a report waiting after the run that should have concluded it (metric "
            f"{gauge.value} over {PUBLICATION_DAYS} days, the publication window, less the days without a run just "
            f"before the run that read it: its {schedule} schedule has no Sunday run): its pollenations are not "
            "concluding it (processed or unpublished). First check: the runbook docs/runbooks/collector-late.md "
            "(earnings waiting), then PollenateAsset's DLQ."
        ),
        sum_of=(MetricQuery("oldest", CUSTOM_NAMESPACE, gauge.value, freshness_dimensions(naming, trigger.name)),),
        math=overdue_expression(schedule, stack_config.timezone, "oldest"),
        result_id="overdue",
        statistic="Maximum",
        threshold=PUBLICATION_DAYS,
        comparison="GreaterThanThreshold",
        period=FRESHNESS_PERIOD_SECONDS,
    )


def _freshness_alarms(naming: Naming, stack_config: StackConfig) -> list[AlarmSpec]:
    """Alarms where a collector's own freshness reading means an operator must act."""
    freshness = telemetry.FreshnessMetric
    news = telemetry.emitter(freshness.NEWS_WATERMARK_LAG_MINUTES)
    marker = "MarkEarningsProcessed"
    runbook = "First check: the runbook docs/runbooks/collector-late.md"
    return [
        AlarmSpec(
            key="news-lag",
            name=_alarm_name(naming, "news-lag"),
            description=(
                f"The newest article {news} holds was over {NEWS_LAG_ALARM_MINUTES // 60} hours older than its run in "
                f"{NEWS_LAG_ALARM_RUNS} hourly runs in a row (metric {freshness.NEWS_WATERMARK_LAG_MINUTES.value}): "
                f"its runs succeed but store nothing new. Sunday has no runs, so no alarm. {runbook} (news lag)."
            ),
            namespace=CUSTOM_NAMESPACE,
            metric=freshness.NEWS_WATERMARK_LAG_MINUTES.value,
            statistic="Maximum",
            dimensions=freshness_dimensions(naming, news),
            threshold=NEWS_LAG_ALARM_MINUTES,
            comparison="GreaterThanThreshold",
            evaluation_periods=NEWS_LAG_ALARM_RUNS,
            datapoints_to_alarm=NEWS_LAG_ALARM_RUNS,
            period=FRESHNESS_PERIOD_SECONDS,
        ),
        _earnings_overdue_alarm(naming, stack_config),
        AlarmSpec(
            key="earnings-unpublished",
            name=_alarm_name(naming, "earnings-unpublished"),
            description=(
                f"{marker} marked a calendar row unpublished (metric {telemetry.MetricName.EARNINGS_UNPUBLISHED.value}): "
                f"AlphaVantage's EARNINGS never held the quarter within {PUBLICATION_DAYS} days. {runbook} "
                "(unpublished reports): check the symbol's EARNINGS by hand."
            ),
            namespace=CUSTOM_NAMESPACE,
            metric=telemetry.MetricName.EARNINGS_UNPUBLISHED.value,
            dimensions=freshness_dimensions(naming, marker),
            threshold=1,
            comparison="GreaterThanOrEqualToThreshold",
            period=FRESHNESS_PERIOD_SECONDS,
        ),
    ]


def alarm_specs(naming: Naming, stack_config: StackConfig) -> list[AlarmSpec]:
    """Every alarm of a stack, generated from the catalog and the stack's schedule settings."""
    specs: list[AlarmSpec] = []
    watched = watched_schedules(stack_config) if stack_config.missedRunAlarms else {}
    for function in catalog.FUNCTIONS:
        physical = naming.function(function.name)
        if function.name in watched:
            specs.append(_missed_run_alarm(function, watched[function.name], naming, stack_config))
        specs.append(
            AlarmSpec(
                key=f"{function.name}-errors",
                name=_alarm_name(naming, f"{function.name}-errors"),
                description=(
                    f"{physical} reported an error (uncaught exception or timeout). These jobs run a few times a day "
                    "and every run matters, so one error alarms. First check: the saved query "
                    f"{naming.prefix}/errors-by-function, then the function's log group {naming.log_group(function.name)}."
                ),
                namespace="AWS/Lambda",
                metric="Errors",
                dimensions={"FunctionName": physical},
                threshold=1,
                comparison="GreaterThanOrEqualToThreshold",
            )
        )
        specs.append(_event_age_alarm(function, naming) if function.paced else _throttles_alarm(function, naming))
        queue = naming.dead_letter_queue(function.name)
        specs.append(
            AlarmSpec(
                key=f"{function.name}-dlq-depth",
                name=_alarm_name(naming, f"{function.name}-dlq-depth"),
                description=(
                    f"{queue} holds a message: an invocation of {physical} failed after all retries and its event was "
                    "parked. First check: read the message (it carries the original event and the error), fix the "
                    "cause, then redrive or delete it; the alarm clears when the queue is empty."
                ),
                namespace="AWS/SQS",
                metric="ApproximateNumberOfMessagesVisible",
                statistic="Maximum",
                dimensions={"QueueName": queue},
                threshold=0,
                comparison="GreaterThanThreshold",
            )
        )
    for api, callers in external_apis().items():
        if api not in THROTTLING_ALARM_APIS:
            continue
        specs.append(
            AlarmSpec(
                key=f"{api}-throttling",
                name=_alarm_name(naming, f"{api}-throttling"),
                description=(
                    f"{api} answered at least {THROTTLING_ALARM_THRESHOLD} requests a period with its throttle text "
                    f"(metric {telemetry.MetricName.EXTERNAL_THROTTLED.value}, all of {', '.join(callers)}) in "
                    f"{THROTTLING_ALARM_DATAPOINTS} of {THROTTLING_ALARM_PERIODS} 5-minute periods: the fleet is over the "
                    "plan's rate and pollenations are failing into the DLQ. First check: the runbook "
                    "docs/runbooks/alphavantage-throttling.md (which function calls most, on the dashboard's External "
                    "APIs row)."
                ),
                sum_of=tuple(
                    MetricQuery(
                        f"m{i}",
                        CUSTOM_NAMESPACE,
                        telemetry.MetricName.EXTERNAL_THROTTLED.value,
                        external_dimensions(naming, api, caller),
                    )
                    for i, caller in enumerate(callers, start=1)
                ),
                threshold=THROTTLING_ALARM_THRESHOLD,
                comparison="GreaterThanOrEqualToThreshold",
                evaluation_periods=THROTTLING_ALARM_PERIODS,
                datapoints_to_alarm=THROTTLING_ALARM_DATAPOINTS,
            )
        )
    if stack_config.freshnessAlarms:
        specs.extend(_freshness_alarms(naming, stack_config))
    for group in schedule_groups(naming):
        specs.append(
            AlarmSpec(
                key="schedules-delivery-failures",
                name=_alarm_name(naming, "schedules-delivery-failures"),
                description=(
                    f"EventBridge Scheduler could not hand a job of schedule group {group} to its function (target error, "
                    "dropped after retries, or sent to the dead-letter queue). Scheduler reports per group only. First "
                    "check: the schedule's execution role may invoke the function, and the function's DLQ."
                ),
                sum_of=_sum_of("AWS/Scheduler", SCHEDULER_FAILURE_METRICS, {"ScheduleGroup": group}),
                threshold=1,
                comparison="GreaterThanOrEqualToThreshold",
            )
        )
    for detail_type, rule in event_rules(naming).items():
        specs.append(
            AlarmSpec(
                key=f"{detail_type}-rule-delivery-failures",
                name=_alarm_name(naming, f"{detail_type}-rule-delivery-failures"),
                description=(
                    f"Rule {rule} on bus {naming.event_bus} failed to deliver a {detail_type} event to its function after "
                    "retries. First check: the target's DLQ message (its attributes carry the error code), then the "
                    "function's resource policy allows events.amazonaws.com from this rule."
                ),
                sum_of=_sum_of(
                    "AWS/Events", RULE_FAILURE_METRICS, {"EventBusName": naming.event_bus, "RuleName": rule}
                ),
                threshold=1,
                comparison="GreaterThanOrEqualToThreshold",
            )
        )
    return specs


# ---------------------------------------------------------------------------- dashboard


Widget = dict[str, Any]


def _metric(namespace: str, metric: str, dimensions: dict[str, str], **options: Any) -> list[Any]:
    row: list[Any] = [namespace, metric]
    for key, value in dimensions.items():
        row += [key, value]
    return row + ([options] if options else [])


def _metric_widget(title: str, region: str, metrics: list[list[Any]], width: int, **properties: Any) -> Widget:
    if len(metrics) > MAX_METRICS_PER_WIDGET:
        raise ValueError(f"widget {title!r} has {len(metrics)} metrics, more than {MAX_METRICS_PER_WIDGET}")
    return {
        "type": "metric",
        "width": width,
        "height": WIDGET_HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "period": PERIOD_SECONDS,
            "stat": "Sum",
            "metrics": metrics,
            **properties,
        },
    }


def _text_widget(markdown: str, height: int = 2) -> Widget:
    return {"type": "text", "width": GRID_WIDTH, "height": height, "properties": {"markdown": markdown}}


def _function_row(function: catalog.Function, naming: Naming, stack_config: StackConfig, region: str) -> list[Widget]:
    name = naming.function(function.name)
    dims = {"FunctionName": name}
    timeout_ms = stack_config.timeout_seconds(function) * 1000
    return [
        _metric_widget(
            f"{function.name}: invocations, errors, throttles",
            region,
            [
                _metric("AWS/Lambda", "Invocations", dims, label="Invocations"),
                _metric("AWS/Lambda", "Errors", dims, label="Errors", color="#d62728"),
                _metric("AWS/Lambda", "Throttles", dims, label="Throttles", color="#ff7f0e"),
            ],
            width=8,
        ),
        _metric_widget(
            f"{function.name}: duration (ms)",
            region,
            [
                _metric("AWS/Lambda", "Duration", dims, stat="p50", label="p50"),
                _metric("AWS/Lambda", "Duration", dims, stat="p95", label="p95"),
                _metric("AWS/Lambda", "Duration", dims, stat="Maximum", label="max"),
            ],
            width=8,
            annotations={"horizontal": [{"label": "timeout", "value": timeout_ms, "color": "#d62728"}]},
        ),
        _metric_widget(
            f"{function.name}: concurrent executions",
            region,
            [_metric("AWS/Lambda", "ConcurrentExecutions", dims, stat="Maximum", label="max concurrent")],
            width=8,
        ),
    ]


def _table_row(table: catalog.Table, naming: Naming, region: str) -> list[Widget]:
    dims = {"TableName": naming.table(table.name)}
    throttles = [
        _metric("AWS/DynamoDB", "ReadThrottleEvents", dims, label="read throttle events"),
        _metric("AWS/DynamoDB", "WriteThrottleEvents", dims, label="write throttle events"),
    ] + [
        _metric("AWS/DynamoDB", "ThrottledRequests", {**dims, "Operation": op}, label=f"throttled {op}")
        for op in table_operations(table.name)
    ]
    return [
        _metric_widget(
            f"table {table.name}: consumed capacity",
            region,
            [
                _metric("AWS/DynamoDB", "ConsumedReadCapacityUnits", dims, label="read units"),
                _metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", dims, label="write units"),
            ],
            width=12,
        ),
        _metric_widget(f"table {table.name}: throttles", region, throttles, width=12),
    ]


def _external_api_row(
    api: str, callers: tuple[str, ...], naming: Naming, stack_config: StackConfig, region: str
) -> list[Widget]:
    """Calls, throttled answers and retries of one API per calling function, per minute; AlphaVantage against the plan."""
    per_function = [
        _metric(
            CUSTOM_NAMESPACE,
            metric.value,
            external_dimensions(naming, api, caller),
            label=f"{caller} {metric.value}",
            id=f"{metric.value.lower()}{i}",
        )
        for metric in EXTERNAL_METRICS
        for i, caller in enumerate(callers)
    ]
    calls = ",".join(f"{telemetry.MetricName.EXTERNAL_CALLS.value.lower()}{i}" for i in range(len(callers)))
    total = [{"expression": f"SUM([{calls}])", "label": f"{api} calls, all functions", "id": "total"}]
    # The plan's rate only applies to AlphaVantage (signal9:alphaVantage.requestsPerMinute).
    plan = stack_config.alphaVantage.requestsPerMinute if api == "alphavantage" else None
    annotations = {"horizontal": [{"label": "plan rate (requests/min)", "value": plan}]} if plan else {}
    return [
        _metric_widget(
            f"External API {api}: calls, throttled, retries per minute",
            region,
            [*per_function, total],
            width=GRID_WIDTH,
            period=EXTERNAL_PERIOD_SECONDS,
            **({"annotations": annotations} if annotations else {}),
        )
    ]


def _schedules_markdown(naming: Naming, stack_config: StackConfig) -> str:
    lines = [
        f"## Schedules (group `{naming.schedule_group}`, timezone {stack_config.timezone})",
        "",
        "Scheduler publishes metrics per schedule group, so the graph covers every schedule below.",
        "",
        "| schedule | function | expression | state |",
        "|---|---|---|---|",
    ]
    for function in catalog.scheduled_functions():
        trigger = catalog.schedule_trigger(function)
        state = "ENABLED" if stack_config.schedule_enabled(function) else "DISABLED"
        lines.append(
            f"| {naming.schedule(trigger.schedule)} | {naming.function(function.name)} | "
            f"`{stack_config.schedule_expression(function)}` | {state} |"
        )
    return "\n".join(lines)


def _missed_runs_row(naming: Naming, stack_config: StackConfig, region: str) -> list[Widget]:
    """Each watched schedule's missed-run expression (the alarm's), hourly: 1 = a due hour without a successful run."""
    metrics: list[list[Any]] = []
    for i, (name, windows) in enumerate(watched_schedules(stack_config).items()):
        dims = {"FunctionName": naming.function(name)}
        if not metrics:  # one series of deploy marks serves every expression
            metrics.append(
                _metric(
                    CUSTOM_NAMESPACE, DEPLOYMENTS_METRIC, deployments_dimensions(naming), id="deployed", visible=False
                )
            )
        metrics += [
            _metric("AWS/Lambda", "Invocations", dims, id=f"invocations{i}", visible=False),
            _metric("AWS/Lambda", "Errors", dims, id=f"errors{i}", visible=False),
            [
                {
                    "expression": missed_run_expression(windows, f"invocations{i}", f"errors{i}"),
                    "label": name,
                    "id": f"missed{i}",
                }
            ],
        ]
    if not metrics:
        return []
    return [
        _metric_widget(
            "Missed scheduled runs (1 = a due hour without a successful run; runbook docs/runbooks/collector-late.md)",
            region,
            metrics,
            width=GRID_WIDTH,
            period=MISSED_RUN_PERIOD_SECONDS,
        )
    ]


def _freshness_row(naming: Naming, region: str) -> list[Widget]:
    """One widget per collector emitting freshness gauges (telemetry.FRESHNESS_SOURCES), hourly maxima."""
    by_source: dict[str, list[telemetry.FreshnessMetric]] = {}
    for metric, sources in telemetry.FRESHNESS_SOURCES.items():
        for source in sources:
            by_source.setdefault(source, []).append(metric)
    widgets = [
        _metric_widget(
            f"Freshness: {source}",
            region,
            [
                _metric(CUSTOM_NAMESPACE, metric.value, freshness_dimensions(naming, source), label=metric.value)
                for metric in metrics
            ],
            width=max(1, GRID_WIDTH // len(by_source)),
            stat="Maximum",
            period=FRESHNESS_PERIOD_SECONDS,
        )
        for source, metrics in by_source.items()
    ]
    # Pollenations a day: planned and requested by the triggers against those PollenateAsset recorded.
    widgets.append(
        _metric_widget(
            "Freshness: pollenations per day (planned, requested, recorded)",
            region,
            [
                *(
                    _metric(
                        CUSTOM_NAMESPACE, m.value, freshness_dimensions(naming, source), label=f"{source} {m.value}"
                    )
                    for m in (
                        telemetry.FreshnessMetric.POLLENATIONS_PLANNED,
                        telemetry.FreshnessMetric.POLLENATIONS_REQUESTED,
                    )
                    for source in telemetry.FRESHNESS_SOURCES[m]
                ),
                _metric(
                    CUSTOM_NAMESPACE,
                    telemetry.MetricName.POLLENATIONS_RECORDED.value,
                    freshness_dimensions(naming, "PollenateAsset"),
                    label="PollenateAsset PollenationsRecorded",
                ),
            ],
            width=GRID_WIDTH,
            period=86400,
        )
    )
    return widgets


def _layout(rows: list[list[Widget]]) -> list[Widget]:
    """Place rows of widgets on the 24-column grid, top to bottom."""
    placed: list[Widget] = []
    y = 0
    for row in rows:
        x = 0
        for widget in row:
            if x + widget["width"] > GRID_WIDTH:
                x, y = 0, y + WIDGET_HEIGHT
            placed.append({**widget, "x": x, "y": y})
            x += widget["width"]
        y += max(widget["height"] for widget in row)
    return placed


def dashboard_body(naming: Naming, stack_config: StackConfig, region: str) -> dict[str, Any]:
    """The stack's dashboard: functions, DLQs, schedules, rules, tables and recent errors."""
    rows: list[list[Widget]] = [
        [
            _text_widget(
                f"# Signal9 {naming.stack}\nFunctions, dead-letter queues, schedule and rule delivery, tables. "
                f"Alarms notify SNS topic `{naming.prefix}-alarms`; saved queries live in Logs Insights "
                f"under `{naming.prefix}/`."
            )
        ],
        [
            {
                "type": "log",
                "width": GRID_WIDTH,
                "height": WIDGET_HEIGHT,
                "properties": {
                    "title": "Recent errors across all functions",
                    "region": region,
                    "view": "table",
                    "query": f"{_source(naming)} | {recent_errors_query()}",
                },
            }
        ],
        [_text_widget("## Functions")],
        *(_function_row(function, naming, stack_config, region) for function in catalog.FUNCTIONS),
        [
            _metric_widget(
                f"Signal9 custom metrics (namespace {CUSTOM_NAMESPACE}, stage {naming.stack})",
                region,
                [
                    [
                        {
                            # Handlers publish EMF metrics with dimensions service + stage; a search
                            # graphs whatever exists (ColdStart, Phase2PlaceholderRuns, ...).
                            "expression": (
                                f"SEARCH('{{{CUSTOM_NAMESPACE},service,stage}} stage=\"{naming.stack}\"', 'Sum', {PERIOD_SECONDS})"
                            ),
                            "label": "",
                            "id": "custom",
                        }
                    ],
                    [
                        {
                            # Powertools' ColdStart carries function_name + service, not stage;
                            # the physical function name in each label tells the stacks apart.
                            "expression": f"SEARCH('{{{CUSTOM_NAMESPACE},function_name,service}} MetricName=\"ColdStart\"', 'Sum', {PERIOD_SECONDS})",
                            "label": "",
                            "id": "coldstarts",
                        }
                    ],
                ],
                width=GRID_WIDTH,
            )
        ],
        [
            _text_widget(
                "## External APIs\nRequests per minute by function (ExternalCalls), answers that said slow down "
                "(ExternalThrottled) and retried requests (ExternalRetries). Runbook for sustained AlphaVantage "
                "throttling: docs/runbooks/alphavantage-throttling.md."
            )
        ],
        *(_external_api_row(api, callers, naming, stack_config, region) for api, callers in external_apis().items()),
        [_text_widget("## Dead-letter queues")],
        [
            _metric_widget(
                "Dead-letter queue depth (messages visible)",
                region,
                [
                    _metric(
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        {"QueueName": naming.dead_letter_queue(f.name)},
                        label=f.name,
                    )
                    for f in catalog.FUNCTIONS
                ],
                width=GRID_WIDTH,
                stat="Maximum",
            ),
        ],
        [_text_widget(_schedules_markdown(naming, stack_config), height=2 + len(catalog.SCHEDULE_NAMES))],
        _missed_runs_row(naming, stack_config, region),
        [
            _text_widget(
                "## Freshness\nWhat the collectors' own data says (docs/observability.md, runbook "
                "docs/runbooks/collector-late.md): news watermark lag in minutes, completed syncs, pollenations "
                "planned/requested/recorded, earnings rows waiting and the oldest one's age in days."
            )
        ],
        _freshness_row(naming, region),
        [
            _metric_widget(
                f"Schedule group {group}: delivery",
                region,
                [
                    _metric("AWS/Scheduler", metric, {"ScheduleGroup": group}, label=metric)
                    for metric in SCHEDULER_METRICS
                ],
                width=GRID_WIDTH,
            )
            for group in schedule_groups(naming)
        ],
        [
            _metric_widget(
                f"Rule {rule} ({detail_type}): delivery",
                region,
                [
                    _metric("AWS/Events", metric, {"EventBusName": naming.event_bus, "RuleName": rule}, label=metric)
                    for metric in RULE_METRICS
                ],
                width=GRID_WIDTH // max(1, len(catalog.EVENTS)),
            )
            for detail_type, rule in event_rules(naming).items()
        ],
        [_text_widget("## Tables")],
        *(_table_row(table, naming, region) for table in catalog.TABLES),
    ]
    widgets = _layout([row for row in rows if row])
    if len(widgets) > MAX_WIDGETS:
        raise ValueError(f"{len(widgets)} widgets exceed the dashboard limit of {MAX_WIDGETS}")
    return {"start": "-PT24H", "periodOverride": "inherit", "widgets": widgets}


def dashboard_json(naming: Naming, stack_config: StackConfig, region: str) -> str:
    """The dashboard body as PutDashboard takes it, checked against the 1 MB limit."""
    text = json.dumps(dashboard_body(naming, stack_config, region), separators=(",", ":"))
    size = len(text.encode())
    if size > MAX_DASHBOARD_BODY_BYTES:
        raise ValueError(f"dashboard body is {size} bytes, over the {MAX_DASHBOARD_BODY_BYTES}-byte limit")
    return text
