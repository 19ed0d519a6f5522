"""The end-to-end smoke run against a stack deployed in the emulator.

Everything is read back from moto (what was deployed), not from the program's inputs,
except where moto keeps no record (noted in ``Deployment.notes``). Handlers run in-process
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
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication
from moto.iam.access_control import IAMPolicy, PermissionResult

from functions.shared.aws import reset_clients
from functions.shared.clock import iso_utc, market_today_and_yesterday
from functions.shared.events import PollenationNeeded
from functions.shared.observability import logger as handler_logger
from functions.shared.scheduled import delivered_input
from signal9 import catalog
from signal9.config import StackConfig
from signal9.emulator.delivery import LambdaDeliveries
from signal9.fakes.alphavantage import AlphaVantageFake
from signal9.fakes.server import serving
from signal9.mockrun import ProgramRun
from signal9.naming import Naming

LOCAL_TEST_VALUE = "local-test-not-a-real-key"
# Never called: Phase 1 handlers stop at their placeholder before any external request.
LOCAL_BASE_URL = "http://127.0.0.1:9/local-test"
# Secrets whose collectors are real and talk to a local fake during the smoke: name -> fake's URL.
FakeUrls = dict[str, str]


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
def function_environment(variables: dict[str, str]) -> Iterator[None]:
    """Exactly the deployed function's variables on top of the emulator's AWS settings."""
    saved = dict(os.environ)
    os.environ.update(variables)
    reset_clients()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_clients()


@dataclass
class Smoke:
    """One smoke run: the stack as deployed, the emulator's clients and the report."""

    plan: ProgramRun
    config: StackConfig
    deliveries: LambdaDeliveries
    query_definitions: dict[str, dict[str, Any]]
    report: Report = field(default_factory=Report)
    logs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.naming = Naming(self.plan.stack)
        self.region = self.plan.region

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)  # type: ignore[call-overload]

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
        try:
            with (
                function_environment(config["Environment"]["Variables"]),
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
                    return handler(event, context)
                finally:
                    stream.setStream(previous)
        finally:
            self.logs.extend(line for line in output.getvalue().splitlines() if line.strip())

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
    """The event Scheduler would deliver: the target input with its context attributes filled in."""
    return delivered_input(
        schedule["Target"]["Input"],
        execution_id=str(uuid.uuid4()),
        scheduled_time=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
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
        for function in catalog.FUNCTIONS:
            deployed = smoke.configuration(smoke.naming.function(function.name))
            (planned,) = [
                r.plain_inputs
                for r in plan.of_type("aws:lambda/function:Function")
                if r.inputs["name"] == deployed["FunctionName"]
            ]
            expect(
                deployed["MemorySize"] == config.memory_mb(function), f"{function.name} memory {deployed['MemorySize']}"
            )
            expect(
                deployed["Timeout"] == config.timeout_seconds(function),
                f"{function.name} timeout {deployed['Timeout']}",
            )
            expect(deployed["Architectures"] == ["arm64"], f"{function.name} architectures {deployed['Architectures']}")
            expect(deployed["Runtime"] == planned["runtime"], f"{function.name} runtime {deployed['Runtime']}")
            expect(
                deployed["Environment"]["Variables"] == planned["environment"]["variables"],
                f"{function.name} environment differs from the program's",
            )
            async_config = lambda_.get_function_event_invoke_config(FunctionName=deployed["FunctionName"])
            expect(async_config["MaximumRetryAttempts"] <= 2, f"{function.name} async retries")
        return f"{len(catalog.FUNCTIONS)} functions with catalog/stack memory, timeout, arm64, env and async config"

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
            expect(rule["State"] == "ENABLED", f"{rule['Name']} is {rule['State']}")
            expect(
                smoke.lambda_target(rule["Name"]).endswith(f":function:{smoke.naming.function(event.consumer)}"),
                f"{rule['Name']} target",
            )
        archives = events.list_archives(EventSourceArn=events.describe_event_bus(Name=smoke.naming.event_bus)["Arn"])[
            "Archives"
        ]
        expect(len(archives) == 1, "the bus has no archive")
        return (
            f"{len(catalog.EVENTS)} rules ENABLED on {smoke.naming.event_bus}, targets as the catalog; archive present"
        )

    def secrets() -> str:
        client = smoke.client("secretsmanager")
        for secret in catalog.SECRETS:
            value = json.loads(client.get_secret_value(SecretId=smoke.naming.secret(secret.name))["SecretString"])
            expect(set(value) == set(secret.fields), f"{secret.name} fields {sorted(value)}")
        return f"{len(catalog.SECRETS)} secrets readable with fields as the catalog"

    def log_groups() -> str:
        logs = smoke.client("logs")
        for function in catalog.FUNCTIONS:
            name = smoke.naming.log_group(function.name)
            (group,) = [
                g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
            ]
            expect(
                group.get("retentionInDays") == config.logRetentionDays,
                f"{name} retention {group.get('retentionInDays')}",
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


def seed(smoke: Smoke, now: datetime, fakes: FakeUrls) -> None:
    """Local test credentials and rows so the scheduled jobs have work to do."""
    client = smoke.client("secretsmanager")
    for secret in catalog.SECRETS:
        url = fakes.get(secret.name, LOCAL_BASE_URL)
        value = {name: url if name.endswith("Url") else LOCAL_TEST_VALUE for name in secret.fields}
        client.put_secret_value(SecretId=smoke.naming.secret(secret.name), SecretString=json.dumps(value))
    resource = boto3.resource("dynamodb", region_name=smoke.region)
    assets = resource.Table(smoke.naming.table("assets"))
    for symbol, days_ago in (("AAPL", 3), ("MSFT", 9), ("TSLA", 1)):
        stamp = iso_utc(now - timedelta(days=days_ago))  # the sort-key format the handlers write
        assets.put_item(
            Item={"symbol": symbol, "lastPollenationDate": stamp, "status": "active", "avgVolume": 1_000_000}
        )
    calendar = resource.Table(smoke.naming.table("earningsCalendar"))
    for symbol, earnings_date in _calendar_keys(now):
        calendar.put_item(Item={"asset_symbol": symbol, "earnings_date": earnings_date})


def check_schedules_fire(smoke: Smoke, now: datetime) -> None:
    scheduler = smoke.client("scheduler")
    for function in catalog.scheduled_functions():
        trigger = catalog.schedule_trigger(function)

        def fire(trigger: catalog.ScheduleTrigger = trigger) -> str:
            schedule = scheduler.get_schedule(
                Name=smoke.naming.schedule(trigger.schedule), GroupName=smoke.naming.schedule_group
            )
            result = smoke.invoke(schedule["Target"]["Arn"], scheduler_delivery(schedule, now))
            return f"{schedule['Target']['Arn'].rsplit(':', 1)[-1]} -> {json.dumps(result, default=str)[:90]}"

        smoke.report.run(f"schedule {trigger.schedule} fired", fire)

    def delivered() -> str:
        results = smoke.deliver()
        pollenated = results[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
        processed = results[smoke.naming.rule(catalog.EARNINGS_PROCESSED)]
        expect(len(pollenated) >= 3, f"only {len(pollenated)} pollenationNeeded deliveries")
        # The seeded AAPL (today) and MSFT (yesterday), plus whoever the synced fake calendar lists today.
        expect(
            len(processed) >= 2,
            f"{len(processed)} earningsProcessed deliveries, expected at least 2 (AAPL today, MSFT yesterday)",
        )
        marked = boto3.resource("dynamodb", region_name=smoke.region).Table(smoke.naming.table("earningsCalendar"))
        rows = [marked.get_item(Key={"asset_symbol": s, "earnings_date": d})["Item"] for s, d in _calendar_keys(now)]
        expect(all(row.get("processed") for row in rows), f"calendar rows not marked: {rows}")
        return (
            f"{len(pollenated)} pollenationNeeded -> PollenateAsset, {len(processed)} earningsProcessed -> "
            "MarkEarningsProcessed; calendar rows marked processed"
        )

    smoke.report.run("emitted events routed by the rules", delivered)


def _calendar_keys(now: datetime) -> list[tuple[str, str]]:
    """The seeded earnings rows: AAPL reporting today and MSFT yesterday, in market (New York) dates."""
    today, yesterday = market_today_and_yesterday(now)
    return [("AAPL", today.isoformat()), ("MSFT", yesterday.isoformat())]


def check_events(smoke: Smoke, now: datetime) -> None:
    def near_misses() -> str:
        good = PollenationNeeded(symbol="NVDA", reason="regular", requestedAt=now).entry(smoke.naming.event_bus)
        smoke.put_event({**good, "Source": "signal9.other"})
        smoke.put_event({**good, "DetailType": "pollenationWanted"})
        leaked = smoke.deliveries.take()
        expect(not leaked, f"near misses matched: {[d.rule for d in leaked]}")
        return "wrong source and wrong detail-type match no rule"

    def put_and_route() -> str:
        entry = PollenationNeeded(symbol="NVDA", reason="regular", requestedAt=now).entry(smoke.naming.event_bus)
        smoke.put_event(entry)
        results = smoke.deliver()
        (result,) = results[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
        expect(result["recorded"] is True, f"PollenateAsset did not record NVDA: {result}")
        return "pollenationNeeded put on the bus reached PollenateAsset through its rule; NVDA recorded"

    def malformed_to_dlq() -> str:
        before = {t.name: count_items(smoke, t.name) for t in catalog.TABLES}
        smoke.put_event(
            {
                "EventBusName": smoke.naming.event_bus,
                "Source": catalog.EVENT_SOURCE,
                "DetailType": catalog.POLLENATION_NEEDED,
                "Detail": json.dumps({"symbol": "not a symbol", "reason": "someday"}),
            }
        )
        (delivery,) = smoke.deliveries.take()
        target, event = delivery.function_arn, delivery.event
        attempts = 1 + int(
            smoke.client("lambda").get_function_event_invoke_config(FunctionName=target)["MaximumRetryAttempts"]
        )
        errors = []
        for _ in range(attempts):  # Lambda's asynchronous retries, then the dead-letter queue
            try:
                smoke.invoke(target, event)
            except Exception as error:
                errors.append(type(error).__name__)
        expect(len(errors) == attempts, "the malformed event was accepted")
        after = {t.name: count_items(smoke, t.name) for t in catalog.TABLES}
        expect(before == after, "the malformed event wrote something")
        # moto keeps no DeadLetterConfig, so the queue comes from what the program deployed.
        (planned,) = [
            r.plain_inputs
            for r in smoke.plan.of_type("aws:lambda/function:Function")
            if target.endswith(f":function:{r.inputs['name']}")
        ]
        queue_arn = planned["deadLetterConfig"]["targetArn"]
        sqs = smoke.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        depth = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
                "ApproximateNumberOfMessages"
            ]
        )
        expect(depth == 1, f"DLQ depth {depth}")
        return (
            f"rejected {attempts}x ({errors[0]}; Lambda's async retries replayed by the emulator), nothing written, "
            f"parked in {queue_arn.rsplit(':', 1)[-1]}"
        )

    smoke.report.run("near-miss events ignored", near_misses)
    smoke.report.run("pollenationNeeded routed to PollenateAsset", put_and_route)
    smoke.report.run("malformed event ends in the DLQ", malformed_to_dlq)


def check_access(smoke: Smoke) -> None:
    """Each deployed role's policies, read back from moto, judged by moto's IAM policy engine.

    moto enforces IAM on requests only against resource "*", which denies every
    resource-scoped grant; so the smoke evaluates the deployed policies itself with moto's
    evaluator and the real ARNs: each grant of the access matrix is allowed, and calls just
    outside it (a Scan, another table, the other secret, another queue) are not.
    """
    iam, dynamodb = smoke.client("iam"), smoke.client("dynamodb")
    table_arns = {
        t.name: dynamodb.describe_table(TableName=smoke.naming.table(t.name))["Table"]["TableArn"]
        for t in catalog.TABLES
    }
    secret_arns = {
        s.name: smoke.client("secretsmanager").describe_secret(SecretId=smoke.naming.secret(s.name))["ARN"]
        for s in catalog.SECRETS
    }
    bus_arn = smoke.client("events").describe_event_bus(Name=smoke.naming.event_bus)["Arn"]
    queue_arn = {
        f.name: f"arn:aws:sqs:{smoke.region}:{bus_arn.split(':')[4]}:{smoke.naming.dead_letter_queue(f.name)}"
        for f in catalog.FUNCTIONS
    }

    def permitted(policies: list[IAMPolicy], action: str, resource: str) -> bool:
        results = [policy.is_action_permitted(action, resource) for policy in policies]
        return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results

    def evaluate() -> str:
        checked = 0
        for function in catalog.FUNCTIONS:
            role = smoke.naming.role(function.name)
            policies = [
                IAMPolicy(json.dumps(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]))
                for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
            ]
            allowed = [("dynamodb:Query", table_arns[t]) for t in function.reads]
            allowed += [("dynamodb:PutItem", table_arns[t]) for t in function.writes]
            allowed += [("secretsmanager:GetSecretValue", secret_arns[function.secret])] if function.secret else []
            allowed += [("events:PutEvents", bus_arn)] if function.emits else []
            allowed += [("sqs:SendMessage", queue_arn[function.name])]
            denied = [("dynamodb:Scan", table_arns[t]) for t in function.tables]
            denied += [("dynamodb:DeleteTable", table_arns[t]) for t in function.tables]
            denied += [("dynamodb:PutItem", table_arns[t]) for t in catalog.TABLE_NAMES if t not in function.writes]
            denied += [
                ("secretsmanager:GetSecretValue", arn) for name, arn in secret_arns.items() if name != function.secret
            ]
            denied += [("events:PutEvents", bus_arn)] if not function.emits else []
            denied += [("sqs:SendMessage", arn) for name, arn in queue_arn.items() if name != function.name]
            for action, resource in allowed:
                expect(permitted(policies, action, resource), f"{function.name} may not {action} on {resource}")
            for action, resource in denied:
                expect(not permitted(policies, action, resource), f"{function.name} may {action} on {resource}")
            checked += len(allowed) + len(denied)
        return f"{checked} calls judged on the deployed policies: the matrix allowed, everything just outside denied"

    def enforced() -> str:
        # SQS is where moto's request-time IAM enforcement honours resource ARNs: send with each
        # function role's own credentials to its DLQ (allowed) and to another's (denied).
        sqs = smoke.client("sqs")
        urls = {
            f.name: sqs.get_queue_url(QueueName=smoke.naming.dead_letter_queue(f.name))["QueueUrl"]
            for f in catalog.FUNCTIONS
        }
        sessions = {}
        for function in catalog.FUNCTIONS:
            credentials = smoke.client("sts").assume_role(
                RoleArn=smoke.client("iam").get_role(RoleName=smoke.naming.role(function.name))["Role"]["Arn"],
                RoleSessionName="signal9-local-smoke",
            )["Credentials"]
            sessions[function.name] = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=smoke.region,
            ).client("sqs")
        names = list(urls)
        with enable_iam_authentication():
            for index, name in enumerate(names):
                other = names[(index + 1) % len(names)]
                sessions[name].send_message(QueueUrl=urls[name], MessageBody="{}")
                try:
                    sessions[name].send_message(QueueUrl=urls[other], MessageBody="{}")
                except ClientError as error:
                    denied = error.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and "AccessDenied" in str(
                        error
                    )
                    expect(denied, f"{name} -> {other}: {error}")
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


def run_smoke(plan: ProgramRun, config: StackConfig, query_definitions: dict[str, dict[str, Any]]) -> Report:
    now = datetime.now(UTC).replace(microsecond=0)
    # The AlphaVantage collectors are real: they read a local fake that accepts the smoke's test key.
    with LambdaDeliveries().installed() as deliveries, serving(AlphaVantageFake(api_key=LOCAL_TEST_VALUE)) as av:
        smoke = Smoke(plan, config, deliveries, query_definitions)
        check_health(smoke)
        seed(smoke, now, {"alphavantage": av.url})
        smoke.report.add("seed", True, f"local test credentials ({LOCAL_TEST_VALUE!r}) and 3 assets, 2 earnings rows")
        check_access(smoke)
        check_schedules_fire(smoke, now)
        check_events(smoke, now)
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
