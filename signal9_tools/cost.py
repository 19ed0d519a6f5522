"""``signal9 cost``: an itemised monthly cost ESTIMATE for one stack, from its config and plan.

Volumes come from three places:

- the stack's real schedule expressions (config overrides included), expanded over a
  reference year and divided by 12: a 365-day year gives an average month of 30.42 days;
- the plan (what the program registers): alarms, dashboards, secrets, KMS keys;
- documented workload assumptions below (durations, request units, log volume, ...).

Prices live in ``signal9_tools/prices.json`` with their date and sources. Always-free
allowances are applied per stack as if it were alone in its account; both the list-price
total and the total after free tier are reported. ``signal9 cost --docs`` rewrites
docs/cost.md for every stack (a test keeps the committed file current).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from signal9 import catalog
from signal9.config import StackConfig, load_stack
from signal9.cron import expand
from signal9.errors import OperatorError
from signal9.stackfile import ROOT, stack_region
from signal9_tools.mockrun import run_program

PRICES_FILE = Path(__file__).with_name("prices.json")
# Collector volumes measured by benchmarks/pollenation_chain.py (``--write``).
VOLUMES_FILE = Path(__file__).with_name("collector_volumes.json")
DOC = ROOT / "docs" / "cost.md"
REFERENCE_YEAR = 2027  # 365 days; its 12 months average 30.42 days
MONTHS_PER_YEAR = 12
DAYS_PER_MONTH = 365 / MONTHS_PER_YEAR


@dataclass(frozen=True)
class Workload:
    """Assumed average cost drivers of one invocation of a function."""

    duration_seconds: float
    read_units: float  # DynamoDB read request units
    write_units: float  # DynamoDB write request units
    log_kb: float  # structured log volume written


def load_volumes(path: Path = VOLUMES_FILE) -> dict[str, Any]:
    """The collector volumes ``benchmarks/pollenation_chain.py --write`` measured."""
    document: dict[str, Any] = json.loads(path.read_text())
    return document


VOLUMES = load_volumes()
# Steady state: a symbol is pollenated again a quarter or more later (the regular batch cycles
# through ~11,500 assets; an earnings pollenation follows a report), so each pollenation
# finds a new quarter: the benchmark's "after a new quarter" figure, not its first fill.
POLLENATION_WRITES = VOLUMES["PollenateAsset"]["writes_per_pollenation_new_quarter"]

# Documented assumptions (docs/cost.md prints them). Phase 1 handlers are thin; these are
# sized for the Phase 2 collectors so the estimate does not flatter the design.
WORKLOADS: dict[str, Workload] = {
    # ~12,000 active Alpaca assets: read the current rows, write the changed ones.
    "SyncAssets": Workload(duration_seconds=90, read_units=12_000, write_units=12_000, log_kb=40),
    # One AlphaVantage calendar download (~3 months ahead), ~1,500 rows upserted.
    "SyncEarningsCalendar": Workload(duration_seconds=20, read_units=1_500, write_units=1_500, log_kb=10),
    # Query today's/yesterday's reporters, emit one event each.
    "TriggerEarningsPollenation": Workload(duration_seconds=5, read_units=100, write_units=0, log_kb=5),
    # Query the least recently pollenated active assets (batch size from config).
    "TriggerRegularPollenation": Workload(duration_seconds=10, read_units=200, write_units=0, log_kb=5),
    # Hourly news pull for tracked symbols, ~500 articles upserted.
    "SyncNewsSentiment": Workload(duration_seconds=45, read_units=200, write_units=500, log_kb=20),
    # Five paced AlphaVantage calls (~4.6 s apart on the 75/min plan); writes measured (VOLUMES).
    "PollenateAsset": Workload(duration_seconds=25, read_units=10, write_units=POLLENATION_WRITES, log_kb=4),
    "MarkEarningsProcessed": Workload(duration_seconds=1, read_units=1, write_units=1, log_kb=1),
}
EARNINGS_ASSETS_PER_RUN = 40  # assets reporting per TriggerEarningsPollenation run
TABLE_STORAGE_GB = 5.0  # all eight tables together, including GSI copies
SECRET_CALLS_PER_INVOCATION = 1.0  # upper bound: every invocation a cold start (cache is per container)
EVENT_SIZE_KB = 1.0  # pollenationNeeded / earningsProcessed, well under one 64 KB billing chunk
DLQ_REQUESTS_PER_MONTH = 1_000  # operators' list/replay calls; healthy DLQs stay empty
ARCHIVE_FOREVER_DAYS = 3_650  # an archive kept forever (retention 0) is costed at ten years of events
# KMS requests with the customer managed key, per invocation, upper bounds (every invocation a
# cold caller): Lambda decrypts the environment, CloudWatch Logs encrypts the log batch, DynamoDB
# fetches each touched table's data key, Secrets Manager decrypts the secret; Scheduler decrypts
# each scheduled payload. AWS services cache data keys, so real counts are lower.
KMS_REQUESTS_PER_INVOCATION = 2.0  # environment + logs
KMS_REQUESTS_PER_TABLE = 1.0
KMS_REQUESTS_PER_SCHEDULED_RUN = 1.0
# With AWS owned keys only the alarm topic uses the key: a request per alarm notification.
ALARM_NOTIFICATIONS_PER_MONTH = 100


def kms_requests(config: StackConfig) -> float:
    """Monthly requests to the stack key (data-path upper bound; alarm notifications on every stack)."""
    if not config.customer_managed_key:
        return float(ALARM_NOTIFICATIONS_PER_MONTH)
    counts = invocations(config)
    per_function = {
        f.name: KMS_REQUESTS_PER_INVOCATION
        + KMS_REQUESTS_PER_TABLE * len(f.tables)
        + (SECRET_CALLS_PER_INVOCATION if f.secret else 0)
        for f in catalog.FUNCTIONS
    }
    scheduled = sum(counts[f.name] for f in catalog.scheduled_functions())
    data = sum(counts[name] * requests for name, requests in per_function.items())
    return data + scheduled * KMS_REQUESTS_PER_SCHEDULED_RUN + ALARM_NOTIFICATIONS_PER_MONTH


def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


# --- schedules ----------------------------------------------------------------------------------


def yearly_fire_count(expression: str, year: int = REFERENCE_YEAR) -> int:
    """How often a Scheduler expression fires in ``year``, in the schedule's own timezone.

    Counted on the local calendar (the timezone Scheduler evaluates the expression in), so
    daylight-saving changes do not add or remove runs. ``at()`` is one-off: no recurring runs.
    """
    schedule = expand(expression)
    if schedule is None:
        return 0
    per_day = len(schedule.minutes) * len(schedule.hours)
    day, count = date(year, 1, 1), 0
    while day.year == year:
        if schedule.fires_on(day):
            count += per_day
        day += timedelta(days=1)
    return count


def monthly_runs(expression: str) -> float:
    return yearly_fire_count(expression) / MONTHS_PER_YEAR


def invocations(config: StackConfig) -> dict[str, float]:
    """Average monthly invocations of every function under this stack's config."""
    counts: dict[str, float] = {}
    for function in catalog.scheduled_functions():
        enabled = config.schedule_enabled(function)
        counts[function.name] = monthly_runs(config.schedule_expression(function)) if enabled else 0.0
    # Event volumes follow from the trigger runs: one pollenationNeeded per selected asset.
    earnings_runs = counts["TriggerEarningsPollenation"]
    events = {
        catalog.POLLENATION_NEEDED: counts["TriggerRegularPollenation"] * config.regularPollenationBatchSize
        + earnings_runs * EARNINGS_ASSETS_PER_RUN,
        catalog.EARNINGS_PROCESSED: earnings_runs * EARNINGS_ASSETS_PER_RUN,
    }
    for event in catalog.EVENTS:
        counts[event.consumer] = events[event.detail_type]
    return counts


def custom_events(config: StackConfig) -> float:
    """Custom events put on the bus per month (each is one event consumed by its rule)."""
    counts = invocations(config)
    return sum(counts[event.consumer] for event in catalog.EVENTS)


# --- the estimate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineItem:
    service: str
    item: str
    quantity: float
    unit: str
    unit_price: float
    free: float = 0.0

    @property
    def list_cost(self) -> float:
        return self.quantity * self.unit_price

    @property
    def cost(self) -> float:
        return max(0.0, self.quantity - self.free) * self.unit_price


@dataclass(frozen=True)
class FunctionUsage:
    name: str
    memory_mb: int
    invocations: float
    duration_seconds: float

    @property
    def gb_seconds(self) -> float:
        return self.invocations * self.duration_seconds * self.memory_mb / 1024


@dataclass(frozen=True)
class CollectorVolume:
    """DynamoDB writes of one collector per day (average day of the month)."""

    name: str
    runs_per_day: float
    writes_per_run: float
    source: str

    @property
    def writes_per_day(self) -> float:
        return self.runs_per_day * self.writes_per_run


def collector_volumes(config: StackConfig) -> list[CollectorVolume]:
    """Writes per day of every function that writes, measured where a benchmark recorded it."""
    counts = invocations(config)
    measured = f"measured: {VOLUMES['source']}"
    return [
        CollectorVolume(
            f.name,
            counts[f.name] / DAYS_PER_MONTH,
            WORKLOADS[f.name].write_units,
            measured if f.name == "PollenateAsset" else "assumed (WORKLOADS)",
        )
        for f in catalog.FUNCTIONS
        if f.writes
    ]


@dataclass(frozen=True)
class Estimate:
    stack: str
    functions: list[FunctionUsage]
    items: list[LineItem]
    volumes: list[CollectorVolume]

    @property
    def list_total(self) -> float:
        return sum(item.list_cost for item in self.items)

    @property
    def total(self) -> float:
        return sum(item.cost for item in self.items)


def estimate(
    stack: str, config: StackConfig, resource_counts: Mapping[str, int], prices: Mapping[str, Any]
) -> Estimate:
    """The itemised monthly estimate for one stack."""
    price, free = prices["prices"], prices["free_tier"]
    counts = invocations(config)
    functions = [
        FunctionUsage(f.name, config.memory_mb(f), counts[f.name], WORKLOADS[f.name].duration_seconds)
        for f in catalog.FUNCTIONS
    ]
    total_invocations = sum(counts.values())
    scheduled = sum(counts[f.name] for f in catalog.scheduled_functions())
    log_gb = sum(counts[f.name] * WORKLOADS[f.name].log_kb for f in catalog.FUNCTIONS) / 1024**2
    events = custom_events(config)
    archive_gb = events * EVENT_SIZE_KB / 1024**2
    secret_calls = sum(counts[f.name] for f in catalog.FUNCTIONS if f.secret) * SECRET_CALLS_PER_INVOCATION
    log_months = config.logRetentionDays / DAYS_PER_MONTH
    archive_days = config.eventArchiveRetentionDays or ARCHIVE_FOREVER_DAYS
    archive_months = archive_days / DAYS_PER_MONTH

    def reads_writes(attribute: str) -> float:
        return float(sum(counts[f.name] * getattr(WORKLOADS[f.name], attribute) for f in catalog.FUNCTIONS))

    def count(resource_type: str) -> int:
        return int(resource_counts.get(resource_type, 0))

    items = [
        LineItem("Lambda", "requests", total_invocations, "requests", price["lambda_requests_per_million"] / 1e6, free["lambda_requests"]),
        LineItem("Lambda", "compute (arm64)", sum(f.gb_seconds for f in functions), "GB-seconds", price["lambda_arm_gb_second"], free["lambda_gb_seconds"]),
        LineItem("DynamoDB", "on-demand writes", reads_writes("write_units"), "WRU", price["dynamodb_write_request_units_per_million"] / 1e6),
        LineItem("DynamoDB", "on-demand reads", reads_writes("read_units"), "RRU", price["dynamodb_read_request_units_per_million"] / 1e6),
        LineItem("DynamoDB", "storage", TABLE_STORAGE_GB, "GB-month", price["dynamodb_storage_gb_month"], free["dynamodb_storage_gb"]),
        LineItem("DynamoDB", "point-in-time recovery", TABLE_STORAGE_GB, "GB-month", price["dynamodb_pitr_gb_month"]),
        LineItem("Secrets Manager", "secrets", count("aws:secretsmanager/secret:Secret"), "secret-months", price["secretsmanager_secret_month"]),
        LineItem("Secrets Manager", "GetSecretValue calls", secret_calls, "calls", price["secretsmanager_api_calls_per_10k"] / 1e4),
        LineItem("CloudWatch", "alarms", count("aws:cloudwatch/metricAlarm:MetricAlarm"), "alarm-months", price["cloudwatch_alarm_month"], free["cloudwatch_alarms"]),
        LineItem("CloudWatch", "dashboards", count("aws:cloudwatch/dashboard:Dashboard"), "dashboard-months", price["cloudwatch_dashboard_month"], free["cloudwatch_dashboards"]),
        LineItem("CloudWatch", "logs ingestion", log_gb, "GB", price["cloudwatch_logs_ingestion_gb"], free["cloudwatch_logs_ingestion_gb"]),
        LineItem("CloudWatch", f"logs storage ({config.logRetentionDays}-day retention)", log_gb * log_months, "GB-month", price["cloudwatch_logs_storage_gb_month"]),
        LineItem("SQS", "dead-letter queue requests", DLQ_REQUESTS_PER_MONTH, "requests", price["sqs_requests_per_million"] / 1e6, free["sqs_requests"]),
        LineItem("EventBridge", "custom events", events, "events", price["eventbridge_custom_events_per_million"] / 1e6),
        LineItem("EventBridge", "archive processing", archive_gb, "GB", price["eventbridge_archive_processing_gb"]),
        LineItem("EventBridge", "archive storage", archive_gb * archive_months, "GB-month", price["eventbridge_archive_storage_gb_month"]),
        LineItem("EventBridge Scheduler", "invocations", scheduled, "invocations", price["scheduler_invocations_per_million"] / 1e6, free["scheduler_invocations"]),
        LineItem("KMS", "customer managed keys", count("aws:kms/key:Key"), "key-months", price["kms_key_month"]),
        LineItem("KMS", f"requests ({config.encryption} data keys)", kms_requests(config), "requests", price["kms_requests_per_10k"] / 1e4, free["kms_requests"]),
    ]  # fmt: skip
    return Estimate(stack, functions, items, collector_volumes(config))


def resource_counts(plan_json: Mapping[str, Any]) -> Counter[str]:
    return Counter(resource["type"] for resource in plan_json["resources"])


def estimate_stack(
    stack: str, plan_json: Mapping[str, Any] | None = None, prices: Mapping[str, Any] | None = None
) -> Estimate:
    plan_json = plan_json if plan_json is not None else run_program(stack).to_json()
    return estimate(stack, load_stack(stack), resource_counts(plan_json), prices or load_prices())


# --- rendering ----------------------------------------------------------------------------------


def _number(value: float) -> str:
    # Rounded first: float sums differ in the last bits between Python versions (3.12's sum() is
    # compensated), and the committed doc must read the same from either.
    value = round(value, 2) if value >= 1 else value
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}" if value >= 1 else f"{value:.4g}"


def _money(value: float) -> str:
    return f"${value:,.2f}"


def render_text(result: Estimate, prices: Mapping[str, Any], region: str) -> str:
    """The estimate as a table; ``region`` is where the stack deploys (prices.json holds one region's prices)."""
    lines = [
        f"signal9 cost: stack {result.stack!r}, monthly {prices['label']}",
        f"prices: {PRICES_FILE.name} dated {prices['date']} ({prices['region']}, {prices['currency']})",
    ]
    if region != prices["region"]:
        lines.append(
            f"note: {PRICES_FILE.name} has no prices for {region}; these are {prices['region']}'s "
            "(AWS prices differ by region: check the service pricing pages for yours)"
        )
    lines += [
        "",
        f"{'SERVICE':<22} {'ITEM':<32} {'QUANTITY':>16} {'UNIT':<17} {'FREE':>12} {'COST':>10}",
    ]
    for item in result.items:
        free = _number(item.free) if item.free else "-"
        lines.append(
            f"{item.service:<22} {item.item:<32} {_number(item.quantity):>16} {item.unit:<17} {free:>12} {_money(item.cost):>10}"
        )
    lines += [
        "",
        f"total after free tier: {_money(result.total)} / month   (list price, no free tier: {_money(result.list_total)})",
    ]
    return "\n".join(lines)


def render_volumes(volumes: list[CollectorVolume]) -> list[str]:
    pollenation = VOLUMES["PollenateAsset"]
    news_per_hour = WORKLOADS["SyncNewsSentiment"].write_units  # one run an hour
    lines = [
        "| collector | runs / day | DynamoDB writes / run | writes / day | source |",
        "|---|---:|---:|---:|---|",
        *[
            f"| {v.name} | {_number(round(v.runs_per_day, 2))} | {_number(round(v.writes_per_run, 2))} | "
            f"{_number(round(v.writes_per_day))} | {v.source} |"
            for v in volumes
        ],
        "",
        f"- Statement rows per pollenation: {_number(pollenation['statement_rows_per_pollenation_first'])} on a "
        f"symbol's first pollenation (writes {_number(round(pollenation['writes_per_pollenation_first'], 2))}), "
        f"{_number(round(pollenation['writes_per_pollenation_new_quarter'] - pollenation['writes_per_pollenation_repeat'], 2))} "
        "after a new quarter, 0 when nothing changed "
        f"(writes {_number(round(pollenation['writes_per_pollenation_repeat'], 2))}: overview + pollenation rows); "
        f"{_number(pollenation['alphavantage_calls_per_pollenation'])} AlphaVantage calls each (measured).",
        f"- News items per hour: {_number(news_per_hour)} (assumed; SyncNewsSentiment runs hourly).",
        "- A new stack's first pass over the ~11,500 assets writes the first-fill figure per symbol once.",
    ]
    return lines


def render_markdown(result: Estimate) -> str:
    lines = [
        f"## Stack `{result.stack}`",
        "",
        f"**Estimated total: {_money(result.total)} per month** after the always-free allowances "
        f"({_money(result.list_total)} at list price without them).",
        "",
        "| function | memory MB | invocations / month | assumed duration s | GB-seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {f.name} | {f.memory_mb} | {_number(f.invocations)} | {_number(f.duration_seconds)} | {_number(f.gb_seconds)} |"
        for f in result.functions
    ]
    lines += [
        "",
        "| service | item | quantity | unit | free allowance | unit price | cost |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {i.service} | {i.item} | {_number(i.quantity)} | {i.unit} | {_number(i.free) if i.free else '-'} | "
        f"${i.unit_price:.10g} | {_money(i.cost)} |"
        for i in result.items
    ]
    lines += ["", f"Collector volumes, stack `{result.stack}`:", "", *render_volumes(result.volumes)]
    return "\n".join(lines)


def render_document(estimates: Mapping[str, Estimate], prices: Mapping[str, Any]) -> str:
    """docs/cost.md: method, prices, assumptions, then each stack's itemised estimate."""
    lines = [
        "# Monthly cost estimate",
        "",
        "<!-- Generated by `signal9 cost --docs`; do not edit by hand (tests/test_cost.py checks it is current). -->",
        "",
        f"> **{prices['label']}.** Prices dated {prices['date']} from `signal9_tools/prices.json`. "
        "Usage volumes are assumptions, listed below; real bills depend on real data volumes.",
        "",
        "## Method",
        "",
        "- Scheduled invocations come from each stack's real schedule expressions (catalog defaults plus",
        "  `signal9:schedules` overrides), expanded day by day over the reference year "
        f"{REFERENCE_YEAR} on the local calendar of",
        f"  {catalog.DEFAULT_TIMEZONE} and divided by 12 (an average month of {DAYS_PER_MONTH:.2f} days). "
        "Disabled schedules count zero.",
        "- Event-driven invocations follow from those runs: each TriggerRegularPollenation run emits "
        "`regularPollenationBatchSize`",
        f"  pollenationNeeded events, each TriggerEarningsPollenation run {EARNINGS_ASSETS_PER_RUN}; "
        "every earnings pollenation emits one earningsProcessed.",
        "- Lambda GB-seconds = invocations x assumed duration x the stack's configured memory.",
        "- Alarm, dashboard, secret and KMS key counts are read from the stack's plan (`signal9 plan`).",
        "- Always-free allowances are applied per stack as if it were alone in its account "
        "(they are per account and month).",
        "",
        "## Sources",
        "",
        *[f"- {source}" for source in prices["sources"]],
        "",
        "## Assumptions",
        "",
        "| function | duration s | read units / invocation | write units / invocation | log KB / invocation |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {name} | {_number(w.duration_seconds)} | {_number(w.read_units)} | {_number(w.write_units)} | {_number(w.log_kb)} |"
            for name, w in WORKLOADS.items()
        ],
        "",
        f"- Assets reporting earnings per TriggerEarningsPollenation run: {EARNINGS_ASSETS_PER_RUN}",
        f"- Table storage, all tables and indexes: {TABLE_STORAGE_GB:g} GB (point-in-time recovery billed on the same size)",
        f"- GetSecretValue calls per invocation of a secret-reading function: {SECRET_CALLS_PER_INVOCATION:g} (upper bound)",
        f"- Event size: {EVENT_SIZE_KB:g} KB; dead-letter queue API requests: {DLQ_REQUESTS_PER_MONTH:,} per month",
        f"- Stored archive and logs: one retention period of monthly volume (retention 0 = {ARCHIVE_FOREVER_DAYS:,} days)",
        f"- KMS requests (`signal9:encryption: customer-managed`), upper bounds per invocation: {KMS_REQUESTS_PER_INVOCATION:g} "
        f"(environment, log batch) + {KMS_REQUESTS_PER_TABLE:g} per table touched + {SECRET_CALLS_PER_INVOCATION:g} per secret read, "
        f"+ {KMS_REQUESTS_PER_SCHEDULED_RUN:g} per scheduled run; {ALARM_NOTIFICATIONS_PER_MONTH} alarm notifications a month on every stack",
        "",
    ]
    for result in estimates.values():
        lines += [render_markdown(result), ""]
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("cost", help="itemised monthly cost ESTIMATE of a stack (offline)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", "-s", help=f"stack name ({', '.join(catalog.STACKS)})")
    target.add_argument("--docs", action="store_true", help="rewrite docs/cost.md for every stack")
    parser.add_argument("--markdown", action="store_true", help="print the stack's estimate as Markdown")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    prices = load_prices()
    if args.docs:
        document = render_document({s: estimate_stack(s, prices=prices) for s in catalog.STACKS}, prices)
        shown = DOC.relative_to(ROOT) if DOC.is_relative_to(ROOT) else DOC
        if DOC.exists() and DOC.read_text() == document:
            print(f"{shown} is current")  # nothing to write (a read-only checkout is fine)
            return 0
        try:
            DOC.write_text(document)
        except OSError as error:
            raise OperatorError(
                f"cannot rewrite {shown}: {error.strerror}; run it in a writable checkout, or print a stack's "
                "estimate with `signal9 cost --stack <stack> --markdown`"
            ) from None
        print(f"wrote {shown}")
        return 0
    result = estimate_stack(args.stack, prices=prices)
    print(render_markdown(result) if args.markdown else render_text(result, prices, stack_region(args.stack)))
    return 0
