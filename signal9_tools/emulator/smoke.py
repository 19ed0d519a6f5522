"""The end-to-end smoke run against a stack deployed in the emulator.

Everything is read back from moto (what was deployed), not from the program's inputs,
except where moto keeps no record (the provisioner's records, noted in the report). Handlers run in-process
with exactly the environment their deployed function has, their AWS calls going to moto.
moto does not run Lambda code nor deliver events to Lambda targets: moto matches each
event against the deployed rules' real patterns, and ``LambdaDeliveries`` hands what
matched to the smoke, which invokes the rule's target function with it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication
from moto.iam.access_control import IAMPolicy, PermissionResult

from functions.shared import pacing
from functions.shared.aws import reset_clients
from functions.shared.events import PollenationNeeded
from functions.shared.observability import logger as handler_logger
from functions.shared.scheduled import delivered_input
from signal9 import catalog, iam
from signal9.config import StackConfig
from signal9.cron import ScheduleExpressionError, next_fire
from signal9.naming import Naming
from signal9_tools.emulator import security_checks
from signal9_tools.emulator.collection import (
    COLLECTORS,
    Endpoints,
    assets_landed,
    index_symbols,
    listed_symbols,
    snapshot,
    store_credentials,
    table_summary,
)
from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.lambda_records import record_invocation
from signal9_tools.emulator.server import Clients
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault
from signal9_tools.fakes.cli import served_fakes
from signal9_tools.fakes.server import CompressedClock
from signal9_tools.mockrun import ProgramRun


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def run(self, name: str, body: Callable[[], str]) -> None:
        """Run one check: its detail on success, the error (one line) on failure."""
        try:
            self.add(name, True, body())
        except Exception as error:
            self.add(name, False, f"{type(error).__name__}: {error}".splitlines()[0])

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class SmokeCheckError(AssertionError):
    """A check's expectation was not met."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeCheckError(message)


def denied_by_iam(error: ClientError) -> bool:
    """Whether moto's IAM enforcement refused the call: HTTP 403 AccessDenied (any other error is real)."""
    return error.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and "AccessDenied" in str(error)


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the real Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@contextlib.contextmanager
def function_environment(variables: dict[str, str], *, cold: bool) -> Iterator[None]:
    """Exactly the deployed function's variables on top of the emulator's AWS settings.

    ``cold``: a new execution environment, without the clients and secret values the handlers
    cache (functions.shared.aws); otherwise those of the previous invocation stay, as in a warm
    Lambda environment.
    """
    saved = dict(os.environ)
    os.environ.update(variables)
    if cold:
        reset_clients()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Smoke:
    """One smoke run: the stack as deployed, the emulator's clients and the report."""

    plan: ProgramRun
    config: StackConfig
    deliveries: LambdaDeliveries
    query_definitions: dict[str, dict[str, Any]]
    # Function name -> dead-letter target ARN as deployed (the provisioner's record: moto keeps none).
    dead_letter_targets: dict[str, str]
    report: Report = field(default_factory=Report)
    # Set by check_schedules_fire: the latest moment a run was delivered as, and the collectors' runs.
    latest_run: datetime = field(default_factory=lambda: datetime.now(UTC))
    collector_runs: dict[str, ScheduledRun] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    # The function whose execution environment is warm: the one invoked last. Handlers share
    # one process here, so invoking another function starts it a fresh (cold) environment.
    warm_function: str | None = None

    def __post_init__(self) -> None:
        self.naming = Naming(self.plan.stack)
        self.region = self.plan.region
        self._clients = Clients(self.region)

    def client(self, service: str) -> Any:
        return self._clients(service)

    def role_client(self, role_arn: str, service: str) -> Any:
        """A client holding the role's own (assumed) credentials, so moto's IAM enforcement decides."""
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="signal9-local-smoke")[
            "Credentials"
        ]
        # A client with the role's keys on the default session: a new Session per role
        # would reload botocore's endpoint data (~0.2 s each).
        return boto3.client(  # type: ignore[call-overload]
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )

    def function_role_client(self, function: str, service: str) -> Any:
        """A client holding ``function``'s execution role's own credentials (the role as deployed)."""
        role = self.client("iam").get_role(RoleName=self.naming.role(function))["Role"]["Arn"]
        return self.role_client(role, service)

    def log_group(self, function: str) -> dict[str, Any]:
        """``function``'s log group as deployed (the prefix search can match longer names too)."""
        name = self.naming.log_group(function)
        (group,) = [
            g
            for g in self.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            if g["logGroupName"] == name
        ]
        return dict(group)

    def queue_arn(self, queue_name: str) -> str:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    # --- invoking handlers as Lambda would --------------------------------------------

    def configuration(self, function_arn_or_name: str) -> dict[str, Any]:
        config: dict[str, Any] = self.client("lambda").get_function_configuration(FunctionName=function_arn_or_name)
        return config

    def invoke(self, function_arn_or_name: str, event: Any) -> Any:
        """Run the deployed function's handler in-process with its deployed environment."""
        config = self.configuration(function_arn_or_name)
        module_name, attribute = config["Handler"].rsplit(".", 1)
        context = LambdaContext(
            function_name=config["FunctionName"],
            memory_limit_in_mb=config["MemorySize"],
            invoked_function_arn=config["FunctionArn"],
            log_group_name=f"/aws/lambda/{config['FunctionName']}",
        )
        output = io.StringIO()
        cold, self.warm_function = self.warm_function != config["FunctionName"], config["FunctionName"]
        started, failed = datetime.now(UTC), True
        try:
            with (
                function_environment(config["Environment"]["Variables"], cold=cold),
                contextlib.redirect_stdout(output),
                warnings.catch_warnings(),
            ):
                # Powertools warns when a run emitted no custom metric; in Lambda that goes to the log.
                warnings.filterwarnings("ignore", message="No application metrics to publish")
                handler = getattr(importlib.import_module(module_name), attribute)
                # Powertools binds its log stream when the logger is created; point it here.
                stream = handler_logger.registered_handler
                if not isinstance(stream, logging.StreamHandler):
                    raise TypeError("the handlers' logger no longer writes to a stream")
                previous = stream.setStream(output)
                try:
                    result = handler(event, context)
                    failed = False
                    return result
                finally:
                    stream.setStream(previous)
        finally:
            lines = [line for line in output.getvalue().splitlines() if line.strip()]
            self.logs.extend(lines)
            # What Lambda records of the run (log group, report, metrics): `signal9 status` reads them.
            record_invocation(
                self.client("logs"),
                self.client("cloudwatch"),
                config["FunctionName"],
                context.aws_request_id,
                lines,
                started,
                failed,
            )

    # --- event delivery ---------------------------------------------------------------

    def lambda_target(self, rule: str) -> str:
        targets = self.client("events").list_targets_by_rule(Rule=rule, EventBusName=self.naming.event_bus)["Targets"]
        (target,) = [t["Arn"] for t in targets if t["Arn"].startswith("arn:aws:lambda:")]
        return str(target)

    def deliver(self, rounds: int = 5) -> dict[str, list[Any]]:
        """Invoke each rule's function with what the rule matched, until the bus is quiet."""
        results: dict[str, list[Any]] = {self.naming.rule(e.detail_type): [] for e in catalog.EVENTS}
        for _ in range(rounds):
            batch = self.deliveries.take()
            if not batch:
                break
            for delivery in batch:
                results.setdefault(delivery.rule, []).append(self.invoke(delivery.function_arn, delivery.event))
        return results

    def put_event(self, entry: dict[str, str]) -> None:
        result = self.client("events").put_events(Entries=[entry])
        expect(result["FailedEntryCount"] == 0, f"PutEvents failed: {result['Entries']}")


def scheduler_delivery(schedule: dict[str, Any], when: datetime) -> Any:
    """The event Scheduler would deliver for its fire time ``when`` (any zone): the target input with its
    context attributes filled in.

    ``<aws.scheduler.scheduled-time>`` is the UTC instant, e.g. ``2022-03-22T18:59:43Z``, whatever the
    schedule's timezone (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html).
    """
    return delivered_input(
        schedule["Target"]["Input"],
        execution_id=str(uuid.uuid4()),
        scheduled_time=when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        schedule_arn=schedule["Arn"],
        attempt=1,
    )


def count_items(smoke: Smoke, table: str) -> int:
    # Counting rows for the report is the one place a Scan is right: it proves nothing was written.
    return int(smoke.client("dynamodb").scan(TableName=smoke.naming.table(table), Select="COUNT")["Count"])


def check_health(smoke: Smoke) -> None:
    report, plan, config = smoke.report, smoke.plan, smoke.config
    dynamodb = smoke.client("dynamodb")

    def tables() -> str:
        for table in catalog.TABLES:
            name = smoke.naming.table(table.name)
            description = dynamodb.describe_table(TableName=name)["Table"]
            expect(description["TableStatus"] == "ACTIVE", f"{name} is {description['TableStatus']}")
            indexes = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
            expect(indexes == {i.name for i in table.indexes}, f"{name} indexes {sorted(indexes)}")
            backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            expect(
                backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED",
                f"{name} has no PITR",
            )
            expect(
                description.get("DeletionProtectionEnabled", False) == config.protection.deletionProtection,
                f"{name} deletion protection",
            )
        return f"{len(catalog.TABLES)} tables ACTIVE, PITR on, indexes as the catalog"

    def functions() -> str:
        lambda_ = smoke.client("lambda")
        problems: list[str] = []  # every function is checked: one report names all that differ
        for function in catalog.FUNCTIONS:
            deployed = smoke.configuration(smoke.naming.function(function.name))
            (planned,) = [
                r.plain_inputs
                for r in plan.of_type("aws:lambda/function:Function")
                if r.inputs["name"] == deployed["FunctionName"]
            ]
            async_config = lambda_.get_function_event_invoke_config(FunctionName=deployed["FunctionName"])
            own_queue = smoke.queue_arn(smoke.naming.dead_letter_queue(function.name)).rsplit(":", 1)[-1]
            target = smoke.dead_letter_targets[deployed["FunctionName"]].rsplit(":", 1)[-1]
            for ok, problem in (
                (deployed["MemorySize"] == config.memory_mb(function), f"memory {deployed['MemorySize']}"),
                (deployed["Timeout"] == config.timeout_seconds(function), f"timeout {deployed['Timeout']}"),
                (deployed["Architectures"] == ["arm64"], f"architectures {deployed['Architectures']}"),
                (deployed["Runtime"] == planned["runtime"], f"runtime {deployed['Runtime']}"),
                (
                    deployed["Environment"]["Variables"] == planned["environment"]["variables"],
                    "environment differs from the program's",
                ),
                (
                    async_config["MaximumRetryAttempts"] == catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS,
                    f"async retries {async_config['MaximumRetryAttempts']}, the catalog says "
                    f"{catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS}",
                ),
                (
                    async_config.get("MaximumEventAgeInSeconds") == catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS,
                    f"async event age {async_config.get('MaximumEventAgeInSeconds')} s, the catalog says "
                    f"{catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s",
                ),
                (target == own_queue, f"dead-letter target {target}, not its own {own_queue}"),
            ):
                if not ok:
                    problems.append(f"{function.name} {problem}")
        expect(not problems, "; ".join(problems))
        return (
            f"{len(catalog.FUNCTIONS)} functions: memory and timeout as catalog/stack, arm64, runtime and env as the "
            f"program; async retries {catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS} and event age "
            f"{catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s as the catalog; dead-letter target its own DLQ "
            "(emulator's record: moto keeps none)"
        )

    def schedules() -> str:
        scheduler = smoke.client("scheduler")
        for function in catalog.scheduled_functions():
            trigger = catalog.schedule_trigger(function)
            schedule = scheduler.get_schedule(
                Name=smoke.naming.schedule(trigger.schedule), GroupName=smoke.naming.schedule_group
            )
            expected_state = "ENABLED" if config.schedule_enabled(function) else "DISABLED"
            expect(schedule["State"] == expected_state, f"{trigger.schedule} is {schedule['State']}")
            expect(schedule["ScheduleExpressionTimezone"] == config.timezone, f"{trigger.schedule} timezone")
            expect(
                schedule["ScheduleExpression"] == config.schedule_expression(function), f"{trigger.schedule} expression"
            )
        return (
            f"{len(catalog.scheduled_functions())} schedules in {config.timezone}, states and expressions as configured"
        )

    def rules() -> str:
        events = smoke.client("events")
        for event in catalog.EVENTS:
            rule = events.describe_rule(Name=smoke.naming.rule(event.detail_type), EventBusName=smoke.naming.event_bus)
            # The provisioner creates each rule in the state the program asked for.
            expect(rule["State"] == "ENABLED", f"rule {rule['Name']} is {rule['State']} as deployed")
            expect(
                smoke.lambda_target(rule["Name"]).endswith(f":function:{smoke.naming.function(event.consumer)}"),
                f"{rule['Name']} target",
            )
        archives = events.list_archives(EventSourceArn=events.describe_event_bus(Name=smoke.naming.event_bus)["Arn"])[
            "Archives"
        ]
        expect(len(archives) == 1, "the bus has no archive")
        return (
            f"{len(catalog.EVENTS)} rules ENABLED as deployed on {smoke.naming.event_bus}, targets as the catalog; "
            "archive present"
        )

    def secrets() -> str:
        client = smoke.client("secretsmanager")
        for secret in catalog.SECRETS:
            value = json.loads(client.get_secret_value(SecretId=smoke.naming.secret(secret.name))["SecretString"])
            expect(set(value) == set(secret.fields), f"{secret.name} fields {sorted(value)}")
        return f"{len(catalog.SECRETS)} secrets readable with fields as the catalog"

    def log_groups() -> str:
        for function in catalog.FUNCTIONS:
            group = smoke.log_group(function.name)
            expect(
                group.get("retentionInDays") == config.logRetentionDays,
                f"{group['logGroupName']} retention {group.get('retentionInDays')}",
            )
        return f"{len(catalog.FUNCTIONS)} log groups, retention {config.logRetentionDays} days"

    def monitoring() -> str:
        cloudwatch = smoke.client("cloudwatch")
        body = json.loads(cloudwatch.get_dashboard(DashboardName=smoke.naming.prefix)["DashboardBody"])
        alarms = cloudwatch.describe_alarms(AlarmNamePrefix=smoke.naming.prefix)["MetricAlarms"]
        planned = len(plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))
        expect(len(alarms) == planned, f"{len(alarms)} alarms, expected {planned}")
        groups = {smoke.naming.log_group(f.name) for f in catalog.FUNCTIONS}
        queries = smoke.query_definitions
        expect(
            len(queries) == len(plan.of_type("aws:cloudwatch/queryDefinition:QueryDefinition")), "saved queries missing"
        )
        expect(all(set(q["logGroupNames"]) == groups for q in queries.values()), "a saved query misses a log group")
        return f"dashboard with {len(body['widgets'])} widgets; {len(alarms)} alarms; {len(queries)} saved queries"

    for name, body in [
        ("tables healthy", tables),
        ("functions configured", functions),
        ("schedules enabled", schedules),
        ("event rules enabled", rules),
        ("secrets readable", secrets),
        ("log groups retained", log_groups),
        ("dashboard and alarms", monitoring),
    ]:
        report.run(name, body)


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
class LocalFakes:
    alpaca: AlpacaFake
    alphavantage: AlphaVantageFake


# Against the built-in fakes these companies report after the close of the day before the
# earnings trigger's run, so the earnings chain (trigger -> PollenateAsset -> earningsProcessed
# -> MarkEarningsProcessed) runs on every day of the year: left to chance, nobody in the dev
# universe reports in the days before a given run on many days of the year. A post-market
# report is out for the next morning's run (SPEC "When an earnings pollenation runs").
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


def check_schedules_fire(smoke: Smoke, now: datetime, endpoints: Endpoints, fakes: LocalFakes | None) -> dict[str, Any]:
    """Store the endpoints in the secrets, then fire each schedule that would fire, collectors first.

    Returns what each fired function returned (by function name).
    """
    smoke.report.run(
        "credentials stored", lambda: store_credentials(smoke.client("secretsmanager"), smoke.naming, endpoints)
    )
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
    smoke.latest_run = max([now, *(run.fires_at for run in runs.values() if run.fires_at is not None)])
    smoke.collector_runs = {name: runs[name] for name in COLLECTORS if name in fired}
    return fired


def fail_into_dlq(smoke: Smoke, target: str, event: Any, what: str) -> str:
    """Invoke ``target`` as Lambda's async path would (1 + its retries), expect every attempt to fail
    writing nothing, then hand the event to the queue its deployed dead-letter config names, as its role."""
    before = {t.name: count_items(smoke, t.name) for t in catalog.TABLES}
    deployed = smoke.configuration(target)
    name = deployed["FunctionName"]
    attempts = 1 + int(
        smoke.client("lambda").get_function_event_invoke_config(FunctionName=target)["MaximumRetryAttempts"]
    )
    errors = []
    for _ in range(attempts):  # Lambda's asynchronous retries, then the dead-letter queue
        try:
            smoke.invoke(target, event)
        except Exception as error:
            errors.append(type(error).__name__)
    expect(len(errors) == attempts, f"{what} was accepted by {name}")
    after = {t.name: count_items(smoke, t.name) for t in catalog.TABLES}
    expect(before == after, f"{what} wrote something")
    # What Lambda does next: send the event to the queue the function's dead-letter config
    # names, as the function's execution role. moto enforces IAM on SQS: the role decides.
    queue = smoke.dead_letter_targets[name].rsplit(":", 1)[-1]
    sqs = smoke.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    as_role = smoke.role_client(deployed["Role"], "sqs")
    with enable_iam_authentication():
        try:
            as_role.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        except ClientError as error:
            # moto's denial is an XML body the SQS JSON protocol cannot parse: name it plainly.
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            why = "AccessDenied" if "AccessDenied" in str(error) else error.response["Error"].get("Code", "")
            raise SmokeCheckError(
                f"{name}'s role may not send to its dead-letter target {queue}: HTTP {status} {why}"
            ) from None
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    expect(
        [json.loads(m["Body"]) for m in messages] == [event],
        f"{queue} holds {len(messages)} messages, expected exactly the rejected event",
    )
    return (
        f"rejected {attempts}x by {name} ({errors[0]}; Lambda's async retries replayed by the emulator), "
        f"nothing written; sent with its role's credentials (IAM enforced by moto) to the dead-letter target "
        f"its deployed config names (emulator's record): {queue} holds the event"
    )


def news_of_the_last_hour(smoke: Smoke, fakes: LocalFakes, now: datetime) -> str:
    """Every mention of an active asset the AlphaVantage fake published in the hour before ``now`` is stored.

    ``now`` (the fake's clock is the real one here) is before the news run, whose scheduled time is
    later still: a run delivered hours early (a scheduled time in the wrong zone) misses these.
    Tickers are matched to assets by the fake's own record of each company's Alpaca symbol.
    """
    active = set(index_symbols(smoke.region, smoke.naming.table("assets"), "status-index"))
    hour = int(now.timestamp()) // 3600
    published = {
        (article.document["url"], fakes.alphavantage.listed_symbols.get(ticker))
        for h in (hour - 1, hour)
        for article in fakes.alphavantage.articles(h)
        if now - timedelta(hours=1) <= article.published <= now
        for ticker in article.tickers
    }
    wanted = {(url, symbol) for url, symbol in published if symbol in active}
    items = snapshot(smoke.region, smoke.naming.table("newsSentiment"))
    stored = {(item["url"]["S"], item["asset_symbol"]["S"]) for item in items if "asset_symbol" in item}
    missing = sorted(wanted - stored)
    expect(
        not missing, f"{len(missing)} mentions published in the hour before {now:%H:%M} UTC not stored: {missing[:3]}"
    )
    return f"the {len(wanted)} mentions of active assets the fake published in the hour before the run stored"


# The collector whose run the smoke makes fail (built-in fakes only): its last run is a failure.
FAULT_COLLECTOR = "SyncEarningsCalendar"


def check_collection(
    smoke: Smoke, endpoints: Endpoints, fired: dict[str, Any], fakes: LocalFakes | None, now: datetime
) -> None:
    """What the collectors landed, that a second run changes nothing, and (fakes only) a failure path.

    ``now`` is when the scheduled runs began (each fires after it).
    """
    report = smoke.report

    def assets() -> str:
        expect("SyncAssets" in fired, "SyncAssets did not run")
        return assets_landed(smoke.region, smoke.naming, listed_symbols(endpoints), int(fired["SyncAssets"]["skipped"]))

    def calendar() -> str:
        expect("SyncEarningsCalendar" in fired, "SyncEarningsCalendar did not run")
        summary = table_summary(smoke.region, smoke.naming, "earningsCalendar", "asset_symbol", "rows")
        if fakes is None:
            return summary
        # Both fakes serve one universe, each in its own API's spelling (BRK.B / BRK-B): every row
        # must land under a symbol Alpaca lists.
        alpaca = {asset["symbol"] for asset in fakes.alpaca.assets()}
        rows = snapshot(smoke.region, smoke.naming.table("earningsCalendar"))
        strangers = sorted({row["asset_symbol"]["S"] for row in rows} - alpaca)
        expect(not strangers, f"calendar rows under symbols Alpaca does not list: {strangers[:5]}")
        return f"{summary}, each under a symbol Alpaca lists (share classes included)"

    def news() -> str:
        expect("SyncNewsSentiment" in fired, "SyncNewsSentiment did not run")
        summary = table_summary(smoke.region, smoke.naming, "newsSentiment", "asset_symbol", "items")
        return summary if fakes is None else f"{summary}; {news_of_the_last_hour(smoke, fakes, now)}"

    def second_runs() -> str:
        unchanged = []
        for name, run in smoke.collector_runs.items():
            assert run.fires_at is not None  # only fired runs are recorded
            tables = [smoke.naming.table(t) for t in catalog.function(name).writes]
            before = [snapshot(smoke.region, t) for t in tables]
            smoke.invoke(run.schedule["Target"]["Arn"], scheduler_delivery(run.schedule, run.fires_at))
            after = [snapshot(smoke.region, t) for t in tables]
            expect(
                before == after,
                f"a second {name} run of the same schedule time changed {catalog.function(name).writes}",
            )
            unchanged.append(name)
        enabled = [name for name in COLLECTORS if smoke.config.schedule_enabled(catalog.function(name))]
        expect(unchanged == enabled, f"only {unchanged} ran, of {enabled}")
        return f"{', '.join(unchanged)} run again for the same scheduled time: every item of their tables unchanged"

    def fault() -> str:
        expect(fakes is not None, "not run: the given endpoints cannot be told to fail")
        assert fakes is not None
        run = smoke.collector_runs[FAULT_COLLECTOR]
        assert run.fires_at is not None
        target = run.schedule["Target"]["Arn"]
        attempts = 1 + int(
            smoke.client("lambda").get_function_event_invoke_config(FunctionName=target)["MaximumRetryAttempts"]
        )
        fakes.alphavantage.inject(Fault.INVALID_KEY, attempts)  # what an expired key looks like
        detail = fail_into_dlq(smoke, target, scheduler_delivery(run.schedule, run.fires_at), "the invalid-key run")
        return f"AlphaVantage answering 'invalid API key' (fake fault): {detail}"

    for collector, table, check in (
        ("SyncAssets", "assets", assets),
        ("SyncEarningsCalendar", "earningsCalendar", calendar),
        ("SyncNewsSentiment", "newsSentiment", news),
    ):
        if smoke.config.schedule_enabled(catalog.function(collector)):  # else reported as disabled, not fired
            report.run(f"collected: {table}", check)
    report.run("second collector runs write nothing new", second_runs)
    if fakes is not None:
        report.run("failing collector run ends in its DLQ", fault)


def check_events(smoke: Smoke, now: datetime) -> None:
    """Route checks; ``now`` is at or after every scheduled run already delivered."""

    def near_misses() -> str:
        good = PollenationNeeded(symbol="NVDA", reason="regular", requestedAt=now).entry(smoke.naming.event_bus)
        smoke.put_event({**good, "Source": "signal9.other"})
        smoke.put_event({**good, "DetailType": "pollenationWanted"})
        leaked = smoke.deliveries.take()
        expect(not leaked, f"near misses matched: {[d.rule for d in leaked]}")
        return "wrong source and wrong detail-type match no rule"

    def put_and_route() -> str:
        # A second later than the scheduled runs: a trigger may have pollenated NVDA at its run time.
        later = now + timedelta(seconds=1)
        entry = PollenationNeeded(symbol="NVDA", reason="regular", requestedAt=later).entry(smoke.naming.event_bus)
        smoke.put_event(entry)
        results = smoke.deliver()
        routed = results[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
        expect(len(routed) == 1, f"the event reached PollenateAsset {len(routed)} times through its rule, not once")
        (result,) = routed
        expect(result["recorded"] is True, f"PollenateAsset did not record NVDA: {result}")
        return "pollenationNeeded put on the bus reached PollenateAsset through its rule; NVDA recorded"

    def malformed_to_dlq() -> str:
        smoke.put_event(
            {
                "EventBusName": smoke.naming.event_bus,
                "Source": catalog.EVENT_SOURCE,
                "DetailType": catalog.POLLENATION_NEEDED,
                "Detail": json.dumps({"symbol": "not a symbol", "reason": "someday"}),
            }
        )
        deliveries = smoke.deliveries.take()
        expect(len(deliveries) == 1, f"the malformed event matched {len(deliveries)} rule targets, not one")
        (delivery,) = deliveries
        return fail_into_dlq(smoke, delivery.function_arn, delivery.event, "the malformed event")

    smoke.report.run("near-miss events ignored", near_misses)
    smoke.report.run("pollenationNeeded routed to PollenateAsset", put_and_route)
    smoke.report.run("pollenation filled the foundational tables", lambda: check_pollenation(smoke, now))
    smoke.report.run("malformed event ends in the DLQ", malformed_to_dlq)


PACING_SPEEDUP = 1000.0


@contextlib.contextmanager
def paced_on(clock: CompressedClock) -> Iterator[None]:
    previous = pacing.clock()
    pacing.use_clock(clock)
    try:
        yield
    finally:
        pacing.use_clock(previous)


POLLENATED_SYMBOL = "IBM"  # in every fake universe (signal9_tools.fakes.universe.FAMILIAR)


def rows_of(smoke: Smoke, table: str, symbol: str) -> int:
    """How many rows ``symbol`` has in a table keyed by ``symbol`` (a Query, as the handlers read)."""
    return int(
        smoke.client("dynamodb").query(
            TableName=smoke.naming.table(table),
            KeyConditionExpression="symbol = :symbol",
            ExpressionAttributeValues={":symbol": {"S": symbol}},
            Select="COUNT",
        )["Count"]
    )


def check_pollenation(smoke: Smoke, now: datetime) -> str:
    """The regular trigger's pollenation filled all five tables for a symbol; a repeat adds no statement row.

    The repeat is routed through the rule like any pollenationNeeded, later than every earlier one.
    """
    tables = (*catalog.FOUNDATIONAL_TABLES, "assets")
    first = {table: rows_of(smoke, table, POLLENATED_SYMBOL) for table in tables}
    empty = [table for table in catalog.FOUNDATIONAL_TABLES if not first[table]]
    expect(not empty, f"{POLLENATED_SYMBOL} has no rows in {empty} after the regular trigger's pollenation")
    later = now + timedelta(seconds=2)
    entry = PollenationNeeded(symbol=POLLENATED_SYMBOL, reason="regular", requestedAt=later)
    smoke.put_event(entry.entry(smoke.naming.event_bus))
    (result,) = smoke.deliver()[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
    repeat = {table: rows_of(smoke, table, POLLENATED_SYMBOL) for table in tables}
    # Same collection day: the overview row is rewritten in place; a new pollenation row is added.
    expected = {**first, "assets": first["assets"] + 1}
    expect(repeat == expected, f"the repeat pollenation changed row counts {first} -> {repeat}")
    written = {table: rows for table, rows in result["written"].items() if rows}
    expect(
        written == {"companyOverview": 1} and result["recorded"] is True,
        f"the repeat pollenation wrote {written}, recorded={result['recorded']} (expected the overview row only)",
    )
    counts = ", ".join(f"{table} {first[table]}" for table in catalog.FOUNDATIONAL_TABLES)
    return (
        f"{POLLENATED_SYMBOL}: {counts} rows after its first pollenation; a repeat wrote only the overview row "
        f"and a new pollenation row (statement rows unchanged)"
    )


def role_policies(iam_client: Any, role: str) -> list[IAMPolicy]:
    """A deployed role's inline policies, read back, as moto's IAM evaluator judges them."""
    return [
        IAMPolicy(json.dumps(iam_client.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
        for name in iam_client.list_role_policies(RoleName=role)["PolicyNames"]
    ]


def permitted(policies: list[IAMPolicy], action: str, resource: str) -> bool:
    """Allowed by some statement and denied by none (moto's evaluator)."""
    results = [policy.is_action_permitted(action, resource) for policy in policies]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def check_access(smoke: Smoke) -> None:
    """Each deployed role's policies, read back from moto, judged by moto's IAM policy engine.

    moto enforces IAM on requests only against resource "*", which denies every
    resource-scoped grant; so the smoke evaluates the deployed policies itself with moto's
    evaluator and the real ARNs, over the whole matrix: every action of SPEC's families (plus a
    few never granted) on every table, index, secret, bus, dead-letter queue and log group.
    """
    iam_client, dynamodb, logs = smoke.client("iam"), smoke.client("dynamodb"), smoke.client("logs")
    tables = {
        t.name: dynamodb.describe_table(TableName=smoke.naming.table(t.name))["Table"]["TableArn"]
        for t in catalog.TABLES
    }
    indexes = {f"{tables[t.name]}/index/{i.name}": t.name for t in catalog.TABLES for i in t.indexes}
    secrets = {
        smoke.client("secretsmanager").describe_secret(SecretId=smoke.naming.secret(s.name))["ARN"]: s.name
        for s in catalog.SECRETS
    }
    bus_arn = smoke.client("events").describe_event_bus(Name=smoke.naming.event_bus)["Arn"]
    default_bus = smoke.client("events").describe_event_bus(Name="default")["Arn"]
    queues = {smoke.queue_arn(smoke.naming.dead_letter_queue(f.name)): f.name for f in catalog.FUNCTIONS}
    # Log writes are authorised on log streams only (Service Authorization Reference): a stream
    # in the function's own group is allowed; the bare group ARN is judged too, and denied.
    groups: list[str] = []
    streams: dict[str, str] = {}
    for function in catalog.FUNCTIONS:
        (group,) = logs.describe_log_groups(logGroupNamePrefix=smoke.naming.log_group(function.name))["logGroups"]
        arn = group["arn"].removesuffix(":*")
        groups.append(arn)
        streams[f"{arn}:log-stream:local"] = function.name

    def allowed(function: catalog.Function, action: str, resource: str) -> bool:
        """SPEC's access matrix (from the catalog): may ``function`` do ``action`` on ``resource``?"""
        if action in iam.READ_ACTIONS:
            return any(tables[t] == resource for t in function.reads) or indexes.get(resource) in function.reads
        if action in iam.WRITE_ACTIONS:
            return any(tables[t] == resource for t in function.writes)
        if action in iam.SECRET_ACTIONS:
            return secrets.get(resource) == function.secret
        if action in iam.EVENT_ACTIONS:
            return resource == bus_arn and bool(function.emits)
        if action in iam.DEAD_LETTER_ACTIONS:
            return queues.get(resource) == function.name
        if action in iam.LOG_ACTIONS:
            return streams.get(resource) == function.name
        return False  # outside every family: never granted

    # (actions, resources) per service: SPEC's families plus actions no role may ever have.
    matrix = [
        (
            (*iam.READ_ACTIONS, *iam.WRITE_ACTIONS, "dynamodb:Scan", "dynamodb:DeleteTable"),
            [*tables.values(), *indexes],
        ),
        ((*iam.SECRET_ACTIONS, "secretsmanager:PutSecretValue"), list(secrets)),
        ((*iam.EVENT_ACTIONS, "events:PutRule"), [bus_arn, default_bus]),
        ((*iam.DEAD_LETTER_ACTIONS, "sqs:ReceiveMessage"), list(queues)),
        ((*iam.LOG_ACTIONS, "logs:DeleteLogGroup"), [*groups, *streams]),
    ]

    def evaluate() -> str:
        judged = granted = 0
        for function in catalog.FUNCTIONS:
            policies = role_policies(iam_client, smoke.naming.role(function.name))
            for actions, resources in matrix:
                for action in actions:
                    for resource in resources:
                        expected = allowed(function, action, resource)
                        decided = permitted(policies, action, resource)
                        expect(decided or not expected, f"{function.name} may not {action} on {resource}")
                        expect(expected or not decided, f"{function.name} may {action} on {resource}")
                        judged += 1
                        granted += expected
        return (
            f"{judged} role x action x resource decisions by moto's IAM evaluator on the deployed policies (every "
            f"action family on every table, index, secret, bus, DLQ and log group): the {granted} of the access "
            "matrix allowed, all others denied"
        )

    def enforced() -> str:
        # SQS is where moto's request-time IAM enforcement honours resource ARNs: send with each
        # function role's own credentials to its DLQ (allowed) and to another's (denied).
        sqs = smoke.client("sqs")
        urls = {
            f.name: sqs.get_queue_url(QueueName=smoke.naming.dead_letter_queue(f.name))["QueueUrl"]
            for f in catalog.FUNCTIONS
        }
        sessions = {f.name: smoke.function_role_client(f.name, "sqs") for f in catalog.FUNCTIONS}
        names = list(urls)
        with enable_iam_authentication():
            for index, name in enumerate(names):
                other = names[(index + 1) % len(names)]
                sessions[name].send_message(QueueUrl=urls[name], MessageBody="{}")
                try:
                    sessions[name].send_message(QueueUrl=urls[other], MessageBody="{}")
                except ClientError as error:
                    expect(denied_by_iam(error), f"{name} -> {other}: {error}")
                else:
                    raise SmokeCheckError(f"{name}'s role could send to {other}'s DLQ")
        for url in urls.values():  # runs before anything real is parked in the DLQs
            sqs.purge_queue(QueueUrl=url)
        return f"{len(names)} roles' own credentials: own DLQ allowed, another function's DLQ denied by moto"

    smoke.report.run("roles allow exactly the access matrix", evaluate)
    smoke.report.run("IAM enforced on role credentials", enforced)


def check_logs(smoke: Smoke) -> None:
    def structured() -> str:
        expect(bool(smoke.logs), "handlers logged nothing")
        # EMF metric lines (``_aws``) are metrics, not log records.
        records = [r for r in map(json.loads, smoke.logs) if "_aws" not in r]
        with_correlation = [r for r in records if r.get("correlation_id")]
        expect(len(with_correlation) == len(records), "a log line has no correlation id")
        return f"{len(records)} handler log lines, all JSON with a correlation id"

    smoke.report.run("handler logs are structured", structured)


# What a smoke runs. "full": everything below. "configuration": the checks of the deployed
# configuration only (tables, functions, schedules, rules, secrets, logs, dashboard, the access
# matrix, IAM and encryption), no function invoked. "none": no smoke, the deploy (and its
# audit) only. The narrower scopes are for tests that break one thing on purpose.
SmokeScope = Literal["full", "configuration", "none"]
SMOKE_SCOPES: tuple[SmokeScope, ...] = get_args(SmokeScope)
BUILT_IN_UNIVERSE = 40  # companies the built-in fakes serve (signal9_tools.fakes.universe)


def run_smoke(
    plan: ProgramRun,
    config: StackConfig,
    query_definitions: dict[str, dict[str, Any]],
    dead_letter_targets: dict[str, str],
    endpoints: Endpoints | None = None,
    *,
    scope: SmokeScope = "full",
    universe: int = BUILT_IN_UNIVERSE,
) -> Report:
    """The smoke against ``endpoints``, or against the built-in fakes (``universe`` companies, served here) when None."""
    if scope not in SMOKE_SCOPES:
        raise ValueError(f"smoke scope {scope!r}: expected one of {SMOKE_SCOPES}")
    if scope == "none":
        return Report()
    now = datetime.now(UTC).replace(microsecond=0)
    fakes = None if endpoints is not None else LocalFakes(AlpacaFake(size=universe), AlphaVantageFake(universe))
    with contextlib.ExitStack() as stack:
        stack.callback(reset_clients)  # the last warm environment's clients end with the run
        deliveries = stack.enter_context(LambdaDeliveries().installed())
        if fakes is not None:
            # PollenateAsset paces itself to the plan (seconds per request); against the fakes,
            # which enforce no rate here, the pacing runs on a compressed clock so the smoke takes
            # seconds (benchmarks/pollenation_chain.py proves the rate against an enforcing fake).
            stack.enter_context(paced_on(CompressedClock(PACING_SPEEDUP)))
            served = stack.enter_context(served_fakes(alpaca=fakes.alpaca, alphavantage=fakes.alphavantage))
            endpoints = Endpoints(
                served.alpaca_url,
                served.alpaca_url,
                served.alphavantage_url,
                {
                    (name, field): value
                    for name, values in served.secrets().items()
                    for field, value in values.items()
                    if not field.endswith("Url")
                },
                built_in_fakes=True,
            )
        assert endpoints is not None
        smoke = Smoke(plan, config, deliveries, query_definitions, dead_letter_targets)
        check_health(smoke)
        check_access(smoke)
        security_checks.check_security(smoke)
        if scope == "configuration":
            return smoke.report
        fired = check_schedules_fire(smoke, now, endpoints, fakes)
        check_collection(smoke, endpoints, fired, fakes, now)
        check_events(smoke, smoke.latest_run)
        check_logs(smoke)
    return smoke.report


def format_report(report: Report, timings: dict[str, float], notes: list[str]) -> str:
    width = max(len(c.name) for c in report.checks)
    lines = [f"{'check'.ljust(width)}  result  detail", f"{'-' * width}  ------  {'-' * 40}"]
    lines += [f"{c.name.ljust(width)}  {'PASS' if c.ok else 'FAIL':<6}  {c.detail}" for c in report.checks]
    passed = len(report.checks) - len(report.failed)
    lines.append("")
    lines.append(f"{passed} passed, {len(report.failed)} failed")
    lines.append("time: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def timed(timings: dict[str, float], name: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def measure() -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            timings[name] = time.perf_counter() - start

    return measure()
