"""``signal9 verify --stack STACK``: the deployed stack read back and held against its plan, read-only.

The plan is the program run under Pulumi's mocks (``signal9_tools.mockrun``), from the same stack
file and revision that ``pulumi up`` deployed. Each check reads one kind of resource and gives one
result per fact: the check, the resource, what the plan (or the catalog, or the stack config)
expects and what AWS answered. Identifiers only AWS knows (account, key ids, secret suffixes) are
compared by what they name: an ARN of the stack key reads ``alias/signal9-<stack>``, the account
``<account>``. A resource that is not there is one result (``exists``: found ``missing``).

The checks (``CHECKS``) are the ones ``signal9 local up`` runs against the emulator
(signal9_tools/emulator/health_checks.py calls them on the emulated stack): one implementation,
online and offline. What only the emulator can do (deliberate failures, access denials, invoking
every path) stays in its smoke.

``--invoke`` (dev, or on request) then runs each scheduled function once, synchronously, as its
schedule would (``Invoke`` with the schedule's own input, its context attributes filled for now)
and requires ``signal9 status`` to be all fresh. Exit 0 when every result holds, 1 otherwise, 2
when the command cannot run (credentials, permissions: one line), as ``signal9 status``.

Read with the preview role (or the deploy role): every call is a read of
``signal9.deploy_policy.TYPE_GRANTS`` (``READ_CALLS`` lists them); ``--invoke`` also needs
``lambda:InvokeFunction`` on the scheduled functions and ``signal9 status``'s reads, which the
deploy role holds (``signal9.bootstrap_policies.verify_statements``).
"""

from __future__ import annotations

import argparse
import functools
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from components.secrets import PLACEHOLDER_TAG, placeholder_tag_value
from functions.shared import env
from functions.shared.scheduled import delivered_input
from signal9 import catalog, config, cron
from signal9.config import StackConfig
from signal9.naming import Naming
from signal9.stackfile import stack_region
from signal9_tools import status as status_command
from signal9_tools.cli import add_stack_argument
from signal9_tools.mockrun import ProgramRun, run_program
from signal9_tools.sessions import aws_session

# Every call `verify` makes (the preview role holds each as a read of the deploy table;
# tests/test_verify.py records the calls against the emulator and judges them with that role's policy).
READ_CALLS = (
    "dynamodb:DescribeTable",
    "dynamodb:DescribeContinuousBackups",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionEventInvokeConfig",
    "lambda:GetFunctionConcurrency",
    "scheduler:GetSchedule",
    "events:DescribeRule",
    "events:ListTargetsByRule",
    "events:DescribeEventBus",
    "events:DescribeArchive",
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "sns:GetTopicAttributes",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "logs:DescribeLogGroups",
    "secretsmanager:DescribeSecret",
    "kms:DescribeKey",
    "kms:GetKeyRotationStatus",
)
AWS_PERMISSIONS = (
    "the reads of the deploy table (the preview role and the deploy role have them); --invoke also "
    "lambda:InvokeFunction on the scheduled functions and `signal9 status`'s reads (the deploy role has them)"
)
# Error codes AWS answers for a resource that does not exist, by service.
NOT_FOUND = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceNotFound",
        "NotFoundException",
        "NotFound",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "ResourceNotFoundFault",
    }
)
DEFAULT_KEY = "default (no customer managed key)"
MISSING = "missing"
CATALOG_ASYNC = (
    f"{catalog.ASYNC_MAXIMUM_RETRY_ATTEMPTS} retries, events up to {catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s"
)
NONE = "none"


@dataclass(frozen=True)
class Result:
    """One fact: ``check`` of ``resource``; what was expected and what AWS answered."""

    check: str
    resource: str
    expected: str
    found: str
    ok: bool


def same(check: str, resource: str, expected: Any, found: Any) -> Result:
    """A result that holds when the two values read the same."""
    return Result(check, resource, str(expected), str(found), str(expected) == str(found))


class MissingError(LookupError):
    """AWS answered that the resource does not exist."""


def read(call: Callable[..., Any], **arguments: Any) -> Any:
    """One AWS read; a not-found answer becomes MissingError (any other error is raised)."""
    try:
        return call(**arguments)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND:
            raise MissingError(str(error)) from None
        raise


def canonical(value: Any) -> Any:
    """A policy or pattern document as AWS may return it, made comparable: one-element lists are
    their element, keys sorted (AWS reorders and unwraps; the meaning is the same)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if not isinstance(value, dict | list):
            return value
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [canonical(v) for v in value]
        return items[0] if len(items) == 1 else sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def name_of(arn: str | None) -> str:
    """The resource an ARN names (a queue, function, role, topic, secret name): its last segment."""
    if not arn:
        return NONE
    last = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if ":secret:" in arn:  # a secret's ARN ends in -<6 random characters>
        return arn.split(":secret:", 1)[1].rsplit("-", 1)[0]
    return last


@dataclass
class Stack:
    """One deployed stack as ``verify`` reads it: its plan, its config and clients to its account."""

    plan: ProgramRun
    config: StackConfig
    client: Callable[[str], Any]
    allowed_alarms: frozenset[str] = frozenset()
    # The stack key as the plan knows it (mock or emulator identifiers).
    planned_key: str | None = field(default=None)

    def __post_init__(self) -> None:
        self.naming = Naming(self.plan.stack)
        self.planned_key = self.planned_key or self.plan.outputs.get("stackKeyArn")
        self._exists: dict[tuple[str, str], bool] = {}

    @cached_property
    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    @cached_property
    def stack_key(self) -> str | None:
        try:
            key = read(self.client("kms").describe_key, KeyId=f"alias/{self.naming.prefix}")
        except MissingError:
            return None
        return str(key["KeyMetadata"]["Arn"])

    def exists(self, kind: str, name: str) -> bool:
        """Whether a table, secret or bus of this name (or ARN) exists; asked once per run."""
        if (kind, name) not in self._exists:
            describe: dict[str, Callable[[], Any]] = {
                "table": lambda: self.client("dynamodb").describe_table(TableName=name),
                "secret": lambda: self.client("secretsmanager").describe_secret(SecretId=name),
                "bus": lambda: self.client("events").describe_event_bus(Name=name),
            }
            try:
                read(describe[kind])
                self._exists[kind, name] = True
            except MissingError:
                self._exists[kind, name] = False
        return self._exists[kind, name]

    def planned(self, resource_type: str) -> list[dict[str, Any]]:
        return [r.plain_inputs for r in self.plan.of_type(resource_type)]

    def planned_by(self, resource_type: str, field_name: str, value: str) -> dict[str, Any] | None:
        found = [i for i in self.planned(resource_type) if str(i.get(field_name, "")).endswith(value)]
        return found[0] if found else None

    def key_label(self, arn: str | None, planned: bool) -> str:
        """A key ARN as what it is: the stack key's alias, the default key, or the ARN itself."""
        if not arn:
            return DEFAULT_KEY
        stack_key = self.planned_key if planned else self.stack_key
        if stack_key and (arn == stack_key or stack_key.endswith(f"/{arn}")):
            return f"alias/{self.naming.prefix}"
        return arn

    def key_result(self, check: str, resource: str, planned: str | None, found: str | None) -> Result:
        """The key the plan names for a resource against the one AWS answers, each read as what it is."""
        return same(check, resource, self.key_label(planned, planned=True), self.key_label(found, planned=False))

    def labels(self, text: str, planned: bool) -> str:
        """Text (a policy, a pattern) with the account and the stack key read as what they name."""
        stack_key = self.planned_key if planned else self.stack_key
        if stack_key:
            text = text.replace(stack_key, f"alias/{self.naming.prefix}")
        account = plan_account(self.plan) if planned else self.account_id
        return text.replace(f":{account}:", ":<account>:")

    def document(self, text: str | None, planned: bool) -> Any:
        return canonical(self.labels(text, planned)) if text else None

    def policy_result(self, check: str, resource: str, planned: str | None, found: str | None) -> Result:
        """The policy the plan sets on a resource against the one AWS answers (``none`` when neither has one)."""
        return policy_result(check, resource, self.document(planned, planned=True), self.document(found, planned=False))


def plan_account(plan: ProgramRun) -> str:
    """The account the plan's ARNs name (the mocks' or the emulator's): the alarm topic's ARN has it."""
    return str(plan.outputs["alarmTopicArn"]).split(":")[4]


def policy_result(check: str, resource: str, expected: Any, found: Any) -> Result:
    """Two policy documents (canonical): equal, or the first statement id that differs."""
    if expected == found:
        summary = NONE if expected is None else f"as the plan ({_sids(expected)})"
        return Result(check, resource, summary, summary, True)
    return Result(check, resource, f"as the plan ({_sids(expected)})", f"differs ({_sids(found)})", False)


def _sids(document: Any) -> str:
    if not isinstance(document, dict):
        return NONE
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    return "statements " + ", ".join(str(s.get("Sid", "?")) for s in statements if isinstance(s, dict))


def each(what: str, resource: str, body: Callable[[], list[Result]]) -> list[Result]:
    """The results of one resource, or one ``<what> exists`` result when AWS says it is not there."""
    try:
        return body()
    except MissingError:
        return [Result(f"{what} exists", resource, "present", MISSING, False)]


# ---------------------------------------------------------------------------------- the checks


def _key_schema(partition: str, sort: str) -> str:
    return f"{partition} HASH, {sort} RANGE"


def tables(stack: Stack) -> list[Result]:
    """ACTIVE, point-in-time recovery, keys and indexes as the catalog, deletion protection and key as configured."""
    dynamodb = stack.client("dynamodb")
    results: list[Result] = []
    for table in catalog.TABLES:
        name = stack.naming.table(table.name)

        def one(table: catalog.Table = table, name: str = name) -> list[Result]:
            found = read(dynamodb.describe_table, TableName=name)["Table"]
            backups = read(dynamodb.describe_continuous_backups, TableName=name)["ContinuousBackupsDescription"]
            expected_keys = [_key_schema(table.partition.name, table.sort.name)] + [
                f"{i.name}: {_key_schema(i.partition.name, i.sort.name)}" for i in table.indexes
            ]
            schema = {k["KeyType"]: k["AttributeName"] for k in found["KeySchema"]}
            found_keys = [_key_schema(schema.get("HASH", "?"), schema.get("RANGE", "?"))]
            for index in sorted(found.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"]):
                keys = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
                found_keys.append(f"{index['IndexName']}: {_key_schema(keys.get('HASH', '?'), keys.get('RANGE', '?'))}")
            planned = stack.planned_by("aws:dynamodb/table:Table", "name", name) or {}
            sse = planned.get("serverSideEncryption") or {}
            description = found.get("SSEDescription") or {}
            return [
                same("table status", name, "ACTIVE", found["TableStatus"]),
                same("table keys and indexes", name, "; ".join(expected_keys), "; ".join(found_keys)),
                same(
                    "table point-in-time recovery",
                    name,
                    "ENABLED",
                    backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
                ),
                same(
                    "table deletion protection",
                    name,
                    stack.config.protection.deletionProtection,
                    found.get("DeletionProtectionEnabled", False),
                ),
                stack.key_result(
                    "table key",
                    name,
                    sse.get("kmsKeyArn") if sse.get("enabled") else None,
                    description.get("KMSMasterKeyArn"),
                ),
            ]

        results += each("table", name, one)
    return results


def _environment(
    name: str, planned: Mapping[str, str], found: Mapping[str, str], resources: Mapping[str, str]
) -> Result:
    """The variables as the plan; those naming a resource by the resource's name (an ARN's suffix is
    the account's). Differing, missing or extra variables are what the result shows."""

    def shown(variables: Mapping[str, str]) -> dict[str, str]:
        return {k: name_of(v) if k in resources else v for k, v in variables.items()}

    expected, deployed = shown(planned), shown(found)
    differ = sorted(k for k in expected.keys() | deployed.keys() if expected.get(k) != deployed.get(k))
    if not differ:
        summary = f"{len(expected)} variables as the plan"
        return Result("function environment", name, summary, summary, True)
    return Result(
        "function environment",
        name,
        ", ".join(f"{k}={expected.get(k, '(unset)')}" for k in differ),
        ", ".join(f"{k}={deployed.get(k, '(unset)')}" for k in differ),
        False,
    )


def _resource_variables(function: catalog.Function) -> dict[str, str]:
    """The function's variables that name a resource -> what kind of resource."""
    variables = {env.table_variable(t): "table" for t in function.tables}
    if function.secret:
        variables[env.secret_variable(function.secret)] = "secret"
    if function.emits:
        variables[env.EVENT_BUS_NAME] = "bus"
    return variables


def _unresolved(stack: Stack, variables: Mapping[str, str], kinds: Mapping[str, str]) -> list[str]:
    """The variables whose resource AWS does not know."""
    return [
        f"{name}={variables.get(name)} (no such {kind})"
        for name, kind in sorted(kinds.items())
        if variables.get(name) is None or not stack.exists(kind, variables[name])
    ]


def _async_settings(config: Mapping[str, Any]) -> str:
    """Retries and maximum event age of an async config or retry policy (either spelling); unset ones say so."""

    def value(*keys: str) -> str:
        found = next((config[k] for k in keys if config.get(k) is not None), None)
        return "unset" if found is None else str(int(float(found)))

    retries = value("MaximumRetryAttempts", "maximumRetryAttempts")
    age = value("MaximumEventAgeInSeconds", "maximumEventAgeInSeconds")
    return f"{retries} retries, events up to {age} s"


def functions(stack: Stack) -> list[Result]:
    """Runtime, architecture, layers, memory, timeout, tracing, key, environment (resolving), DLQ,
    async retries and reserved concurrency as the plan."""
    lambda_ = stack.client("lambda")
    results: list[Result] = []
    for function in catalog.FUNCTIONS:
        name = stack.naming.function(function.name)

        def one(function: catalog.Function = function, name: str = name) -> list[Result]:
            found = read(lambda_.get_function_configuration, FunctionName=name)
            planned = stack.planned_by("aws:lambda/function:Function", "name", name) or {}
            kinds = _resource_variables(function)
            variables = (found.get("Environment") or {}).get("Variables", {})
            unresolved = _unresolved(stack, variables, kinds)
            try:
                async_found = _async_settings(read(lambda_.get_function_event_invoke_config, FunctionName=name))
            except MissingError:
                async_found = NONE
            concurrency = read(lambda_.get_function_concurrency, FunctionName=name).get("ReservedConcurrentExecutions")
            planned_concurrency = planned.get("reservedConcurrentExecutions")
            return [
                same("function runtime", name, planned.get("runtime"), found.get("Runtime")),
                same(
                    "function architecture",
                    name,
                    ", ".join(planned.get("architectures", [])),
                    ", ".join(found.get("Architectures", [])),
                ),
                same(
                    "function layers",
                    name,
                    ", ".join(planned.get("layers", [])) or NONE,
                    ", ".join(layer["Arn"] for layer in found.get("Layers", [])) or NONE,
                ),
                same("function memory (MB)", name, stack.config.memory_mb(function), found.get("MemorySize")),
                same("function timeout (s)", name, stack.config.timeout_seconds(function), found.get("Timeout")),
                same(
                    "function tracing",
                    name,
                    (planned.get("tracingConfig") or {}).get("mode", "PassThrough"),
                    (found.get("TracingConfig") or {}).get("Mode"),
                ),
                stack.key_result("function key", name, planned.get("kmsKeyArn"), found.get("KMSKeyArn")),
                _environment(name, (planned.get("environment") or {}).get("variables", {}), variables, kinds),
                Result(
                    "function environment resolves",
                    name,
                    f"{len(kinds)} resources exist" if kinds else NONE,
                    "; ".join(unresolved) or (f"{len(kinds)} resources exist" if kinds else NONE),
                    not unresolved,
                ),
                same(
                    "function dead-letter queue",
                    name,
                    stack.naming.dead_letter_queue(function.name),
                    name_of((found.get("DeadLetterConfig") or {}).get("TargetArn")),
                ),
                same("function async retries", name, CATALOG_ASYNC, async_found),
                same(
                    "function reserved concurrency",
                    name,
                    NONE if planned_concurrency is None else int(float(planned_concurrency)),
                    NONE if concurrency is None else concurrency,
                ),
            ]

        results += each("function", name, one)
    return results


def _target(arn: str, role: str | None, queue: str | None, retry: Mapping[str, Any] | None) -> str:
    parts = [name_of(arn)]
    if role:
        parts.append(f"as {name_of(role)}")
    parts.append(f"dead letters to {name_of(queue)}")
    if retry:
        parts.append(_async_settings(retry))
    return ", ".join(parts)


def _no_sunday(expression: str) -> str:
    try:
        cron.check_weekday_only(expression)
    except cron.ScheduleExpressionError as error:
        return str(error)
    return "never on Sunday"


def schedules(stack: Stack) -> list[Result]:
    """State, expression, time zone, target (function, role, DLQ, retries) and key as configured; none fires on Sunday."""
    scheduler = stack.client("scheduler")
    results: list[Result] = []
    for function in catalog.scheduled_functions():
        name = stack.naming.schedule(catalog.schedule_trigger(function).schedule)

        def one(function: catalog.Function = function, name: str = name) -> list[Result]:
            found = read(scheduler.get_schedule, Name=name, GroupName=stack.naming.schedule_group)
            planned = stack.planned_by("aws:scheduler/schedule:Schedule", "name", name) or {}
            target, deployed = planned.get("target") or {}, found.get("Target") or {}
            enabled = stack.config.schedule_enabled(function)
            return [
                same("schedule state", name, "ENABLED" if enabled else "DISABLED", found.get("State")),
                same(
                    "schedule expression",
                    name,
                    stack.config.schedule_expression(function),
                    found.get("ScheduleExpression"),
                ),
                same("schedule time zone", name, stack.config.timezone, found.get("ScheduleExpressionTimezone")),
                same("schedule skips Sunday", name, "never on Sunday", _no_sunday(found.get("ScheduleExpression", ""))),
                same(
                    "schedule target",
                    name,
                    _target(
                        stack.naming.function(function.name),
                        target.get("roleArn"),
                        stack.naming.dead_letter_queue(function.name),
                        target.get("retryPolicy"),
                    ),
                    _target(
                        deployed.get("Arn", ""),
                        deployed.get("RoleArn"),
                        (deployed.get("DeadLetterConfig") or {}).get("Arn"),
                        deployed.get("RetryPolicy"),
                    ),
                ),
                stack.key_result("schedule key", name, planned.get("kmsKeyArn"), found.get("KmsKeyArn")),
            ]

        results += each("schedule", name, one)
    return results


def event_routes(stack: Stack) -> list[Result]:
    """Each rule enabled with its pattern and target (function, DLQ, retries); the bus policy and archive as the plan."""
    events = stack.client("events")
    bus = stack.naming.event_bus
    results: list[Result] = []
    for event in catalog.EVENTS:
        name = stack.naming.rule(event.detail_type)

        def one(event: catalog.Event = event, name: str = name) -> list[Result]:
            found = read(events.describe_rule, Name=name, EventBusName=bus)
            planned = stack.planned_by("aws:cloudwatch/eventRule:EventRule", "name", name) or {}
            targets = read(events.list_targets_by_rule, Rule=name, EventBusName=bus)["Targets"]
            planned_targets = [
                t for t in stack.planned("aws:cloudwatch/eventTarget:EventTarget") if t.get("rule") == name
            ]
            return [
                same("rule state", name, planned.get("state") or "ENABLED", found.get("State")),
                same(
                    "rule pattern",
                    name,
                    json.dumps(canonical(planned.get("eventPattern"))),
                    json.dumps(canonical(found.get("EventPattern"))),
                ),
                same(
                    "rule targets",
                    name,
                    "; ".join(
                        _target(
                            stack.naming.function(event.consumer),
                            None,
                            stack.naming.dead_letter_queue(event.consumer),
                            t.get("retryPolicy"),
                        )
                        for t in planned_targets
                    )
                    or NONE,
                    "; ".join(
                        sorted(
                            _target(t["Arn"], None, (t.get("DeadLetterConfig") or {}).get("Arn"), t.get("RetryPolicy"))
                            for t in targets
                        )
                    )
                    or NONE,
                ),
            ]

        results += each("rule", name, one)

    def bus_policy() -> list[Result]:
        found = read(events.describe_event_bus, Name=bus)
        planned = stack.planned_by("aws:cloudwatch/eventBusPolicy:EventBusPolicy", "eventBusName", bus) or {}
        return [stack.policy_result("bus policy", bus, planned.get("policy"), found.get("Policy"))]

    results += each("bus", bus, bus_policy)
    for archive in stack.planned("aws:cloudwatch/eventArchive:EventArchive"):
        name = archive["name"]

        def archived(archive: dict[str, Any] = archive, name: str = name) -> list[Result]:
            found = read(events.describe_archive, ArchiveName=name)
            return [
                same(
                    "bus archive",
                    name,
                    f"{name_of(archive['eventSourceArn'])}, {int(float(archive.get('retentionDays', 0)))} days",
                    f"{name_of(found.get('EventSourceArn'))}, {found.get('RetentionDays', 0)} days",
                )
            ]

        results += each("bus archive", name, archived)
    return results


def _queue_key(stack: Stack, attributes: Mapping[str, Any], planned: bool) -> str:
    key = attributes.get("kmsMasterKeyId" if planned else "KmsMasterKeyId")
    if key:
        return stack.key_label(str(key), planned)
    managed = attributes.get("sqsManagedSseEnabled" if planned else "SqsManagedSseEnabled")
    return "SQS managed (SSE-SQS)" if str(managed).lower() == "true" else "unencrypted"


def queues_and_topic(stack: Stack) -> list[Result]:
    """Each dead-letter queue's and the alarm topic's encryption and policy as the plan."""
    sqs = stack.client("sqs")
    results: list[Result] = []
    for planned in stack.planned("aws:sqs/queue:Queue"):
        name = planned["name"]

        def one(planned: dict[str, Any] = planned, name: str = name) -> list[Result]:
            url = read(sqs.get_queue_url, QueueName=name)["QueueUrl"]
            found = read(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])["Attributes"]
            policy = stack.planned_by("aws:sqs/queuePolicy:QueuePolicy", "queueUrl", f"/{name}") or {}
            return [
                same("queue encryption", name, _queue_key(stack, planned, True), _queue_key(stack, found, False)),
                stack.policy_result("queue policy", name, policy.get("policy"), found.get("Policy")),
            ]

        results += each("queue", name, one)
    sns = stack.client("sns")
    for planned in stack.planned("aws:sns/topic:Topic"):
        name = planned["name"]

        def topic(planned: dict[str, Any] = planned, name: str = name) -> list[Result]:
            arn = f"arn:aws:sns:{stack.plan.region}:{stack.account_id}:{name}"
            found = read(sns.get_topic_attributes, TopicArn=arn)["Attributes"]
            topic_results = [
                stack.key_result("topic encryption", name, planned.get("kmsMasterKeyId"), found.get("KmsMasterKeyId"))
            ]
            # A topic always has a policy (AWS writes its default): compared when the program sets one.
            policy = stack.planned_by("aws:sns/topicPolicy:TopicPolicy", "arn", f":{name}")
            if policy is not None:
                topic_results.append(
                    stack.policy_result("topic policy", name, policy.get("policy"), found.get("Policy"))
                )
            return topic_results

        results += each("topic", name, topic)
    return results


def _actions(alarm: Mapping[str, Any], alarm_key: str, ok_key: str) -> str:
    alarm_to = ", ".join(sorted(name_of(a) for a in alarm.get(alarm_key) or [])) or NONE
    ok_to = ", ".join(sorted(name_of(a) for a in alarm.get(ok_key) or [])) or NONE
    return f"ALARM -> {alarm_to}; OK -> {ok_to}"


def alarms(stack: Stack) -> list[Result]:
    """Every planned alarm exists with its actions; none is in ALARM but those allowed (``--allow-alarm``)."""
    cloudwatch = stack.client("cloudwatch")
    deployed: dict[str, dict[str, Any]] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{stack.naming.prefix}-"):
        deployed.update({alarm["AlarmName"]: alarm for alarm in page.get("MetricAlarms", [])})
    results: list[Result] = []
    for planned in stack.planned("aws:cloudwatch/metricAlarm:MetricAlarm"):
        name = planned["name"]
        found = deployed.get(name)
        if found is None:
            results.append(Result("alarm exists", name, "present", MISSING, False))
            continue
        actions = _actions(found, "AlarmActions", "OKActions") if found.get("ActionsEnabled", True) else "disabled"
        results.append(same("alarm actions", name, _actions(planned, "alarmActions", "okActions"), actions))
        state = found.get("StateValue", "?")
        allowed = name in stack.allowed_alarms or name.removeprefix(f"{stack.naming.prefix}-") in stack.allowed_alarms
        results.append(
            Result(
                "alarm not in ALARM",
                name,
                "OK or INSUFFICIENT_DATA" + (" (ALARM allowed by --allow-alarm)" if allowed else ""),
                state,
                state != "ALARM" or allowed,
            )
        )
    return results


def log_groups(stack: Stack) -> list[Result]:
    """Each function's log group: retention and key as configured."""
    logs = stack.client("logs")
    results: list[Result] = []
    for function in catalog.FUNCTIONS:
        name = stack.naming.log_group(function.name)
        planned = stack.planned_by("aws:cloudwatch/logGroup:LogGroup", "name", name) or {}
        groups = [
            g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
        ]
        if not groups:
            results.append(Result("log group exists", name, "present", MISSING, False))
            continue
        (group,) = groups
        results += [
            same("log group retention (days)", name, stack.config.logRetentionDays, group.get("retentionInDays")),
            stack.key_result("log group key", name, planned.get("kmsKeyId"), group.get("kmsKeyId")),
        ]
    return results


def dashboard(stack: Stack) -> list[Result]:
    """The dashboard's body as the plan (widgets, metrics, alarms shown)."""
    cloudwatch = stack.client("cloudwatch")
    results: list[Result] = []
    for planned in stack.planned("aws:cloudwatch/dashboard:Dashboard"):
        name = planned["dashboardName"]

        def one(planned: dict[str, Any] = planned, name: str = name) -> list[Result]:
            found = read(cloudwatch.get_dashboard, DashboardName=name)
            expected = json.loads(stack.labels(planned["dashboardBody"], planned=True))
            body = json.loads(stack.labels(found["DashboardBody"], planned=False))
            widgets = f"{len(expected.get('widgets', []))} widgets"
            return [
                Result(
                    "dashboard body",
                    name,
                    f"as the plan, {widgets}",
                    f"as the plan, {widgets}"
                    if body == expected
                    else f"differs, {len(body.get('widgets', []))} widgets",
                    body == expected,
                )
            ]

        results += each("dashboard", name, one)
    return results


def secrets(stack: Stack) -> list[Result]:
    """Each secret exists with its key, and none holds the deploy-time placeholder (read from its tag, never its value)."""
    client = stack.client("secretsmanager")
    results: list[Result] = []
    for secret in catalog.SECRETS:
        name = stack.naming.secret(secret.name)

        def one(name: str = name) -> list[Result]:
            found = read(client.describe_secret, SecretId=name)
            planned = stack.planned_by("aws:secretsmanager/secret:Secret", "name", name) or {}
            tags = {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}
            return [
                stack.key_result("secret key", name, planned.get("kmsKeyId"), found.get("KmsKeyId")),
                same(
                    "secret holds no placeholder",
                    name,
                    f"{PLACEHOLDER_TAG}={placeholder_tag_value(())}",
                    f"{PLACEHOLDER_TAG}={tags.get(PLACEHOLDER_TAG, 'missing (deployed before the tag)')}",
                ),
            ]

        results += each("secret", name, one)
    return results


def stack_key(stack: Stack) -> list[Result]:
    """The stack key exists under its alias and rotates yearly."""
    alias = f"alias/{stack.naming.prefix}"
    if stack.stack_key is None:
        return [Result("stack key exists", alias, "present", MISSING, False)]
    rotation = read(stack.client("kms").get_key_rotation_status, KeyId=stack.stack_key)["KeyRotationEnabled"]
    return [same("stack key rotates", alias, True, rotation)]


Check = Callable[[Stack], list[Result]]
# The checks by subject, in the order they print (`make local` runs each as one report line).
CHECKS: dict[str, Check] = {
    "tables": tables,
    "functions": functions,
    "schedules": schedules,
    "event routes": event_routes,
    "queues and topic": queues_and_topic,
    "alarms": alarms,
    "log groups": log_groups,
    "dashboard": dashboard,
    "secrets": secrets,
    "stack key": stack_key,
}


def summary(results: list[Result]) -> str:
    """One line for a check's results: what held, or each result that did not."""
    failed = [r for r in results if not r.ok]
    if failed:
        return "; ".join(f"{r.check} {r.resource}: expected {r.expected}, found {r.found}" for r in failed)
    resources = len({r.resource for r in results})
    return f"{len(results)} facts of {resources} resources as the plan, catalog and stack config say"


def run_checks(stack: Stack) -> Iterator[Result]:
    for check in CHECKS.values():
        yield from check(stack)


# ---------------------------------------------------------------------------------- --invoke


def scheduler_delivery(schedule: Mapping[str, Any], when: datetime) -> Any:
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


def invoke_scheduled(stack: Stack, now: datetime) -> list[Result]:
    """One synchronous run of each scheduled function with its schedule's input; each must succeed."""
    results = []
    lambda_ = stack.client("lambda")
    for function in catalog.scheduled_functions():
        name = stack.naming.schedule(catalog.schedule_trigger(function).schedule)
        if not stack.config.schedule_enabled(function):
            continue  # switched off in the stack config: nothing to prove by running it
        schedule = read(stack.client("scheduler").get_schedule, Name=name, GroupName=stack.naming.schedule_group)
        answer = lambda_.invoke(
            FunctionName=schedule["Target"]["Arn"],
            InvocationType="RequestResponse",
            Payload=json.dumps(scheduler_delivery(schedule, now)).encode(),
        )
        payload = answer["Payload"].read().decode(errors="replace")
        failed = answer.get("FunctionError")
        results.append(
            Result(
                "scheduled run succeeds",
                stack.naming.function(function.name),
                "succeeded",
                f"{failed}: {payload[:120]}" if failed else "succeeded",
                not failed,
            )
        )
    return results


def status_results(status: status_command.Status) -> list[Result]:
    """`signal9 status` after the runs: every enabled collector fresh, no DLQ message, no alarm in ALARM."""
    results = [
        same("status after the runs", row.function, "fresh", row.verdict) for row in status.collectors if row.enabled
    ]
    results += [same("dead-letter queue empty", name, 0, depth) for name, depth in status.dead_letter_queues.items()]
    results.append(same("status alarms in ALARM", status.stack, NONE, ", ".join(status.alarms_in_alarm) or NONE))
    return results


# ---------------------------------------------------------------------------------- the command


def format_results(stack_name: str, results: list[Result]) -> str:
    rows = [("PASS" if r.ok else "FAIL", r.check, r.resource, r.expected, r.found) for r in results]
    header = ("RESULT", "CHECK", "RESOURCE", "EXPECTED", "FOUND")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    lines = [f"signal9 verify: stack {stack_name!r} against its plan"]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in (header, *rows)
    ]
    failed = [r for r in results if not r.ok]
    lines.append("")
    lines += [f"FAILED: {r.check}: {r.resource}: expected {r.expected}, found {r.found}" for r in failed]
    lines.append(f"verify: {len(results) - len(failed)} passed, {len(failed)} failed")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "verify", help="check the deployed stack against its plan, read-only (uses AWS); exit 1 on any difference"
    )
    add_stack_argument(parser)
    parser.add_argument(
        "--invoke",
        action="store_true",
        help="also run each scheduled function once, synchronously, then require `signal9 status` all fresh "
        "(dev; calls the real APIs)",
    )
    parser.add_argument(
        "--allow-alarm",
        action="append",
        default=[],
        metavar="ALARM",
        help="an alarm (full name or without the signal9-<stack>- prefix) that may be in ALARM; repeatable",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.set_defaults(run=run, aws_permissions=AWS_PERMISSIONS)


def verify(
    stack_name: str,
    session: Any,
    *,
    invoke: bool = False,
    allowed_alarms: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> list[Result]:
    """Every result for the deployed ``stack_name`` (the plan from its stack file), ``--invoke``'s included."""
    stack_config = config.load_stack(stack_name)
    stack = Stack(run_program(stack_name), stack_config, functools.cache(session.client), allowed_alarms)
    results = list(run_checks(stack))
    if all(r.found == MISSING for r in results):  # nothing at all: another account, region or endpoint
        raise status_command.NotDeployedError(f"stack {stack_name!r}")
    if invoke:
        moment = now or datetime.now(UTC)
        results += invoke_scheduled(stack, moment)
        results += status_results(status_command.collect(session, stack_name, stack_config, datetime.now(UTC)))
    return results


def run(args: argparse.Namespace, session: Any = None) -> int:
    session = session or aws_session(profile=args.profile, region=stack_region(args.stack))
    results = verify(args.stack, session, invoke=args.invoke, allowed_alarms=frozenset(args.allow_alarm))
    if args.json:
        print(json.dumps({"stack": args.stack, "results": [asdict(r) for r in results]}, indent=2))
    else:
        print(format_results(args.stack, results))
    return 0 if all(r.ok for r in results) else 1
