"""Signal9's policy rules: plain functions over resources, shared by every way of running them.

The same functions run in three places:

- offline over ``signal9 plan --json`` (``signal9 check --stack <name>`` and the tests),
- inside the CrossGuard pack in ``policy/`` under ``pulumi preview --policy-pack policy``,
- in CI, through both of the above.

A resource is the plan JSON shape: ``{"type", "name", "parent", "inputs"}`` with camelCase
inputs, secrets shown as ``"[secret]"``. Resource rules see one resource and call
``report(message)``; stack rules see every resource (they need context such as the
provider's default tags or the log groups) and call ``report(message, resource_name)``.

This module imports nothing from Pulumi, so the rules can be tested and run without the
policy SDK. Values Pulumi cannot know during a preview arrive as ``UNKNOWN``; a rule never
reports a violation on a value it cannot see (the offline check sees every value).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signal9 import catalog, iam
from signal9.cron import ScheduleExpressionError, check_weekday_only
from signal9.deploy_policy import uncovered_types

Resource = Mapping[str, Any]
Report = Callable[[str], None]
StackReport = Callable[[str, str | None], None]

SECRET_MASK = "[secret]"
UNKNOWN = "<unknown during preview>"
DEV_STACK = "dev"

TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
KMS_KEY = "aws:kms/key:Key"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
SECRET = "aws:secretsmanager/secret:Secret"
EVENT_BUS = "aws:cloudwatch/eventBus:EventBus"
EVENT_BUS_POLICY = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICIES_EXCLUSIVE = "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive"
ROLE_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
AWS_PROVIDER = "pulumi:providers:aws"

# Resource types whose pulumi-aws 7.51 resource takes ``tags`` (tests compare this with the SDK).
TAGGABLE_TYPES = frozenset(
    {
        TABLE,
        ROLE,
        POLICY,
        FUNCTION,
        LOG_GROUP,
        EVENT_RULE,
        QUEUE,
        EVENT_BUS,
        "aws:scheduler/scheduleGroup:ScheduleGroup",
        SECRET,
        TOPIC,
        METRIC_ALARM,
        KMS_KEY,
    }
)
# Types checked to take no ``tags`` in pulumi-aws 7.51 (so the tag rule knows every type it meets).
UNTAGGABLE_TYPES = frozenset(
    {
        ROLE_POLICY,
        SECRET_VERSION,
        SCHEDULE,
        EVENT_TARGET,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        QUEUE_POLICY,
        TOPIC_POLICY,
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        "aws:lambda/permission:Permission",
        "aws:lambda/layerVersion:LayerVersion",
        "aws:cloudwatch/eventArchive:EventArchive",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:cloudwatch/queryDefinition:QueryDefinition",
        "aws:kms/alias:Alias",
        EVENT_BUS_POLICY,
        ROLE_POLICIES_EXCLUSIVE,
        ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
    }
)
COMMON_TAG_KEYS = ("Project", "Environment", "ManagedBy")

# The only actions Signal9 grants on ``Resource: "*"``: X-Ray defines no resource types for
# writing traces, so "*" is the narrowest grant AWS offers (active tracing, FSBP Lambda.7).
# Anything else on "*" (e.g. kms:Decrypt on every key, FSBP KMS.1/KMS.2) is a violation.
ACTIONS_WITHOUT_RESOURCE_LEVEL = frozenset(action.lower() for action in iam.TRACE_ACTIONS)
AWS_MANAGED_POLICY = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/")
# Environment variable names that would carry a credential value (ARNs and names are fine).
CREDENTIAL_NAME = re.compile(r"(API_?KEY|SECRET_?KEY|SECRET_ACCESS|ACCESS_?KEY|PASSWORD|PASSWD|TOKEN|KEY_?ID)$", re.I)


def is_known(value: Any) -> bool:
    return not (isinstance(value, str) and value == UNKNOWN)


def _inputs(resource: Resource) -> Mapping[str, Any]:
    inputs = resource.get("inputs") or {}
    return inputs if isinstance(inputs, Mapping) else {}


def _json(value: Any) -> Any:
    """A JSON document given as text (policies, default tags) or already parsed; None if unreadable."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


# --- tables ------------------------------------------------------------------------------------


def check_table_on_demand_pitr(resource: Resource, report: Report) -> None:
    """Every table bills on demand and keeps point-in-time recovery (docs/contract.md, Tables)."""
    inputs = _inputs(resource)
    billing = inputs.get("billingMode")
    if is_known(billing) and billing != "PAY_PER_REQUEST":
        report(f"table {inputs.get('name')!r} must use billingMode PAY_PER_REQUEST (on demand), not {billing!r}")
    pitr = inputs.get("pointInTimeRecovery")
    enabled = pitr.get("enabled") if isinstance(pitr, Mapping) else None
    if is_known(enabled) and enabled is not True:
        report(f"table {inputs.get('name')!r} must enable pointInTimeRecovery")


def stack_environment(resources: Sequence[Resource]) -> str | None:
    """The stack a plan belongs to, from the AWS provider's default ``Environment`` tag."""
    for resource in resources:
        if resource.get("type") == AWS_PROVIDER:
            environment = default_tags(resource).get("Environment")
            if isinstance(environment, str) and is_known(environment):
                return environment
    return None


def check_table_deletion_protection(resources: Sequence[Resource], report: StackReport) -> None:
    """Outside dev, every table has deletion protection (an unknown stack counts as not dev)."""
    if stack_environment(resources) == DEV_STACK:
        return
    for resource in resources:
        if resource.get("type") != TABLE:
            continue
        protected = _inputs(resource).get("deletionProtectionEnabled")
        if is_known(protected) and protected is not True:
            report(
                f"table {_inputs(resource).get('name')!r} must set deletionProtectionEnabled outside the dev stack",
                resource.get("name"),
            )


# --- functions ---------------------------------------------------------------------------------


def check_function_dead_letter_queue(resource: Resource, report: Report) -> None:
    """Every function's failed asynchronous invocations land in a dead-letter queue."""
    inputs = _inputs(resource)
    dlq = inputs.get("deadLetterConfig")
    target = dlq.get("targetArn") if isinstance(dlq, Mapping) else None
    if not target:
        report(
            f"function {inputs.get('name')!r} has no deadLetterConfig.targetArn (asynchronous failures would be lost)"
        )


def check_log_group_retention(resource: Resource, report: Report) -> None:
    """Every log group expires its events (CloudWatch keeps them forever otherwise)."""
    inputs = _inputs(resource)
    retention = inputs.get("retentionInDays")
    if is_known(retention) and not (isinstance(retention, int | float) and retention > 0):
        report(f"log group {inputs.get('name')!r} must set retentionInDays")


def function_log_group(resource: Resource) -> Any:
    """The log group a function writes to: loggingConfig.logGroup, else Lambda's default name."""
    inputs = _inputs(resource)
    logging = inputs.get("loggingConfig")
    configured = logging.get("logGroup") if isinstance(logging, Mapping) else None
    return configured or f"/aws/lambda/{inputs.get('name')}"


def check_function_log_groups(resources: Sequence[Resource], report: StackReport) -> None:
    """Every function writes to a log group the stack manages (``log-group-retention`` checks its retention)."""
    managed = [_inputs(r).get("name") for r in resources if r.get("type") == LOG_GROUP]
    for resource in resources:
        if resource.get("type") != FUNCTION:
            continue
        group = function_log_group(resource)
        if not is_known(group) or UNKNOWN in managed:
            continue  # a name Pulumi cannot know yet: the offline check judges it
        if group not in managed:
            report(
                f"function {_inputs(resource).get('name')!r} logs to {group!r}, which the stack does not manage "
                "(Lambda would create it with no retention)",
                resource.get("name"),
            )


def check_async_targets_have_dead_letter_queue(resource: Resource, report: Report) -> None:
    """Schedule and event-rule targets send undeliverable invocations to a DLQ, after retrying."""
    inputs = _inputs(resource)
    target = inputs.get("target") if resource.get("type") == SCHEDULE else inputs
    if not isinstance(target, Mapping):
        report(f"{resource.get('name')}: schedule has no target")
        return
    dlq = target.get("deadLetterConfig")
    if not (isinstance(dlq, Mapping) and dlq.get("arn")):
        report(f"{resource.get('name')}: target has no deadLetterConfig.arn (failed deliveries would be lost)")
    if not isinstance(target.get("retryPolicy"), Mapping):
        report(f"{resource.get('name')}: target has no retryPolicy")


# --- IAM ---------------------------------------------------------------------------------------


def policy_documents(resource: Resource) -> Iterator[tuple[str, Any]]:
    """(label, parsed document) for each identity policy a resource carries."""
    inputs = _inputs(resource)
    kind = resource.get("type")
    if kind in (ROLE_POLICY, POLICY):
        yield "policy", _json(inputs.get("policy"))
    elif kind == ROLE:
        for inline in _as_list(inputs.get("inlinePolicies")):
            if isinstance(inline, Mapping):
                yield f"inline policy {inline.get('name')!r}", _json(inline.get("policy"))


def check_iam_no_wildcards(
    resource: Resource, report: Report, unscopable: frozenset[str] = ACTIONS_WITHOUT_RESOURCE_LEVEL
) -> None:
    """No wildcard actions and no ``Resource: "*"`` (except ``unscopable``: actions with no resource-level support)."""
    for label, document in policy_documents(resource):
        if document is None or not is_known(document):
            continue
        if not isinstance(document, Mapping):
            report(f"{resource.get('name')}: {label} is not a JSON policy document")
            continue
        for index, statement in enumerate(_as_list(document.get("Statement"))):
            if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
                continue
            where = f"{resource.get('name')}: {label} statement {statement.get('Sid') or index}"
            if "NotAction" in statement or "NotResource" in statement:
                report(f"{where} allows NotAction/NotResource (an implicit wildcard)")
            actions = [str(a) for a in _as_list(statement.get("Action"))]
            for action in actions:
                if "*" in action or "?" in action:
                    report(f"{where} uses wildcard action {action!r}")
            if "*" in _as_list(statement.get("Resource")):
                broad = [a for a in actions if a.lower() not in unscopable]
                if broad:
                    report(f'{where} grants {", ".join(broad)} on Resource "*"; name the resources')
    if resource.get("type") == ROLE:
        trust = _json(_inputs(resource).get("assumeRolePolicy"))
        for statement in _as_list(trust.get("Statement") if isinstance(trust, Mapping) else None):
            principal = statement.get("Principal") if isinstance(statement, Mapping) else None
            principals = principal.values() if isinstance(principal, Mapping) else [principal]
            if any("*" in _as_list(p) for p in principals):
                report(f"{resource.get('name')}: trust policy lets any principal assume the role")


# CloudWatch Logs is scoped by the log group ARN in the encryption context instead (its documented form).
SOURCE_CONDITION_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount", "kms:encryptioncontext:aws:logs:arn"})


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return set()
    return {str(key).lower() for block in conditions.values() if isinstance(block, Mapping) for key in block}


def check_resource_policies_scoped(resource: Resource, report: Report) -> None:
    """Resource policies never grant anyone, and grant an AWS service only on behalf of named sources.

    A service principal without an ``aws:SourceArn``/``aws:SourceAccount`` condition would let
    that service act for any customer's resource (the confused-deputy problem).
    """
    inputs = _inputs(resource)
    name = resource.get("name")
    if resource.get("type") == LAMBDA_PERMISSION:
        principal = inputs.get("principal")
        if is_known(principal) and principal == "*":
            report(f"{name}: lets any principal invoke the function")
        elif is_known(principal) and str(principal).endswith(".amazonaws.com") and not inputs.get("sourceArn"):
            report(f"{name}: {principal} may invoke the function on behalf of any source; set sourceArn")
        return
    document = _json(inputs.get("policy"))
    if document is None or not is_known(document) or not isinstance(document, Mapping):
        return
    for index, statement in enumerate(_as_list(document.get("Statement"))):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        where = f"{name}: statement {statement.get('Sid') or index}"
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS"))):
            report(f"{where} grants any principal")
        services = _as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        if services and not SOURCE_CONDITION_KEYS & _condition_keys(statement):
            report(
                f"{where} grants {', '.join(map(str, services))} without an aws:SourceArn/aws:SourceAccount condition"
            )


def check_no_aws_managed_policies(resource: Resource, report: Report) -> None:
    """No AWS managed policies: they grant far more than a function needs."""
    inputs = _inputs(resource)
    arns = [
        *_as_list(inputs.get("managedPolicyArns")),
        *_as_list(inputs.get("policyArn")),
        *_as_list(inputs.get("policyArns")),
    ]
    for arn in arns:
        if isinstance(arn, str) and AWS_MANAGED_POLICY.match(arn):
            report(f"{resource.get('name')}: attaches AWS managed policy {arn}; write a least-privilege RolePolicy")
    if resource.get("type") == ROLE and _as_list(inputs.get("managedPolicyArns")):
        report(f"{resource.get('name')}: uses managedPolicyArns (deprecated; grant access with RolePolicy resources)")


# --- credentials -------------------------------------------------------------------------------


def _credential_variables(resource: Resource) -> Iterator[tuple[str, Any]]:
    environment = _inputs(resource).get("environment")
    variables = environment.get("variables") if isinstance(environment, Mapping) else None
    for name, value in (variables or {}).items() if isinstance(variables, Mapping) else ():
        if CREDENTIAL_NAME.search(name):
            yield name, value


def check_no_plaintext_credentials_revealed(resource: Resource, report: Report) -> None:
    """No credential-like plaintext in a resource's configuration (preview: secrets are visible).

    Credentials live in Secrets Manager; functions get the secret's ARN, never the value.
    """
    for name, value in _credential_variables(resource):
        if isinstance(value, str) and is_known(value) and not value.startswith("arn:"):
            report(
                f"{resource.get('name')}: environment variable {name} holds a plaintext credential; pass a secret ARN"
            )


def check_no_plaintext_credentials(resource: Resource, report: Report) -> None:
    """The offline form: additionally, a secret's value must be a Pulumi secret (encrypted in state)."""
    check_no_plaintext_credentials_revealed(resource, report)
    if resource.get("type") == SECRET_VERSION:
        value = _inputs(resource).get("secretString")
        if value is not None and value != SECRET_MASK:
            report(f"{resource.get('name')}: secretString is plaintext; wrap it with pulumi.Output.secret")


def _closest(name: str, choices: Sequence[str]) -> str | None:
    """The choice ``name`` most likely misspells (case aside), if any is close."""
    lowered = {choice.lower(): choice for choice in choices}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1)
    return lowered[found[0]] if found else None


def _plaintext_leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths under ``value`` holding a value that is not ``secure:``."""
    if isinstance(value, Mapping) and set(value) != {"secure"}:
        for key, child in value.items():
            yield from _plaintext_leaves(child, (*path, str(key)))
    elif value is not None and not isinstance(value, Mapping):
        yield path


def check_stack_file_secrets(config: Mapping[str, Any], report: Report) -> None:
    """Credential values in ``Pulumi.<stack>.yaml`` are ``secure:`` (set with ``--secret``).

    The advice names the catalog's secret and field (``alphavantage.apiKey``), never a typo of
    them, and the value is never repeated.
    """
    root = f"{catalog.PROJECT}:secrets"
    fields = {secret.name: secret.fields for secret in catalog.SECRETS}

    def command(secret: str, field: str) -> str:
        return f"pulumi config set --secret --path {root}.{secret}.{field} <value>"

    secrets = config.get(root)
    if secrets is None or (isinstance(secrets, Mapping) and set(secrets) == {"secure"}):
        return
    if not isinstance(secrets, Mapping):
        paths = ", ".join(f"{name}.{field}" for name, names in fields.items() for field in names)
        report(
            f"{root} is plaintext in the stack file; it holds one value per secret and field: remove it, then run "
            f"for each: {command('<secret>', '<field>')} ({paths})"
        )
        return
    for name, value in secrets.items():
        leaves = list(_plaintext_leaves(value))
        if name not in fields:
            guess = _closest(str(name), list(fields))
            if leaves:
                commands = "; ".join(
                    command(guess or "<secret>", (guess and _closest(path[0], fields[guess])) or "<field>")
                    for path in leaves
                )
                report(
                    f"{root}.{name} is plaintext in the stack file and not a secret ({', '.join(sorted(fields))}): "
                    f"remove it, then run: {commands}"
                )
            continue
        for path in leaves:
            where = ".".join((root, str(name), *path))
            if len(path) == 1 and path[0] in fields[name]:
                report(f"{where} is plaintext in the stack file; run: {command(name, path[0])}")
            else:
                field = _closest(path[0], fields[name]) if path else None
                report(
                    f"{where} is plaintext in the stack file and not a field of the {name} secret "
                    f"({', '.join(fields[name])}): remove it, then run: {command(name, field or '<field>')}"
                )


# --- tags --------------------------------------------------------------------------------------


def default_tags(provider: Resource) -> dict[str, Any]:
    """An AWS provider's default tags (its ``defaultTags`` input is JSON text in the plan)."""
    value = _json(_inputs(provider).get("defaultTags"))
    tags = value.get("tags") if isinstance(value, Mapping) else None
    return dict(tags) if isinstance(tags, Mapping) else {}


def check_required_tags(resources: Sequence[Resource], report: StackReport) -> None:
    """Project/Environment/ManagedBy from the provider's default tags, Component on each resource."""
    providers = [r for r in resources if r.get("type") == AWS_PROVIDER]
    for provider in providers:
        tags = default_tags(provider)
        missing = [key for key in COMMON_TAG_KEYS if not tags.get(key)]
        if missing:
            report(
                f"AWS provider {provider.get('name')!r} lacks default tags {', '.join(missing)}", provider.get("name")
            )
        elif is_known(tags["Project"]) and tags["Project"] != catalog.PROJECT:
            report(f"default tag Project must be {catalog.PROJECT!r}, not {tags['Project']!r}", provider.get("name"))
        elif is_known(tags["ManagedBy"]) and tags["ManagedBy"] != "pulumi":
            report(f"default tag ManagedBy must be 'pulumi', not {tags['ManagedBy']!r}", provider.get("name"))
    inherited = set(COMMON_TAG_KEYS) if providers else set()
    for resource in resources:
        if resource.get("type") not in TAGGABLE_TYPES:
            continue
        own = _inputs(resource).get("tags")
        if not is_known(own):
            continue
        present = inherited | set(own if isinstance(own, Mapping) else {})
        missing = [key for key in ("Component", *COMMON_TAG_KEYS) if key not in present]
        if missing:
            report(f"{resource.get('name')}: missing tags {', '.join(missing)}", resource.get("name"))


# --- schedules ---------------------------------------------------------------------------------


def check_schedule_weekdays(resource: Resource, report: Report) -> None:
    """Schedules never fire on Sunday in New York (the maintenance window); rules never run on a clock."""
    inputs = _inputs(resource)
    expression = inputs.get("scheduleExpression")
    if resource.get("type") == EVENT_RULE:
        if expression:
            report(
                f"{resource.get('name')}: EventBridge rule schedules run in UTC; use an EventBridge Scheduler "
                f"schedule in {catalog.DEFAULT_TIMEZONE} instead"
            )
        return
    timezone = inputs.get("scheduleExpressionTimezone")
    if is_known(timezone) and timezone != catalog.DEFAULT_TIMEZONE:
        report(
            f"{resource.get('name')}: scheduleExpressionTimezone is {timezone!r}; Sunday is defined in "
            f"{catalog.DEFAULT_TIMEZONE}"
        )
    if isinstance(expression, str) and is_known(expression):
        try:
            check_weekday_only(expression)
        except ScheduleExpressionError as error:
            report(f"{resource.get('name')}: {expression}: {error}")
    elif expression is None:
        report(f"{resource.get('name')}: schedule has no scheduleExpression")


# --- FSBP: encryption, keys, tracing, the bus, alarms ------------------------------------------

# A customer managed key's ARN; AWS managed keys are named by alias (alias/aws/...).
CUSTOMER_KEY_ARN = re.compile(r"^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key/[\w-]+$")
# Where each data store names its KMS key (camelCase input path), for the customer managed rule.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    TABLE: ("serverSideEncryption", "kmsKeyArn"),
    QUEUE: ("kmsMasterKeyId",),
    SECRET: ("kmsKeyId",),
    LOG_GROUP: ("kmsKeyId",),
    FUNCTION: ("kmsKeyArn",),
    SCHEDULE: ("kmsKeyArn",),
    TOPIC: ("kmsMasterKeyId",),
}
# Lambda runtimes AWS supports today (checked November 2026); FSBP Lambda.2 flags deprecated ones.
SUPPORTED_PYTHON_RUNTIMES = frozenset({"python3.12", "python3.13", "python3.14"})
# The longest wait KMS allows before deleting a key (days): the most time to undo a mistake.
KEY_DELETION_WINDOW_DAYS = 30


def _path(inputs: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = inputs
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _customer_key(value: Any) -> bool:
    return isinstance(value, str) and CUSTOMER_KEY_ARN.match(value) is not None


def check_encryption_at_rest(resources: Sequence[Resource], report: StackReport) -> None:
    """Every queue and topic is encrypted; on staging and prod every data store uses a customer managed key.

    SQS.1 (queues: SSE-SQS or KMS), SNS.1 (the topic: a customer managed key, which CloudWatch
    alarms can use), and the ``signal9:encryption`` contract: tables, DLQs, secrets, log groups,
    function environments and schedules name a customer managed key outside dev.
    """
    required = stack_environment(resources) in catalog.CUSTOMER_MANAGED_KEY_STACKS
    for resource in resources:
        kind, name, inputs = resource.get("type"), resource.get("name"), _inputs(resource)
        if kind not in KEY_INPUTS:
            continue
        key = _path(inputs, KEY_INPUTS[kind])
        if not is_known(key):
            continue
        if kind == QUEUE and not key and inputs.get("sqsManagedSseEnabled") is not True:
            report(
                f"queue {inputs.get('name')!r} is not encrypted at rest (set kmsMasterKeyId or sqsManagedSseEnabled)",
                name,
            )
        elif kind == TOPIC and not _customer_key(key):
            report(f"topic {inputs.get('name')!r} must be encrypted with a customer managed KMS key, not {key!r}", name)
        elif required and not _customer_key(key):
            report(
                f"{name}: {'.'.join(KEY_INPUTS[kind])} must name the stack's customer managed key on this stack", name
            )
        elif kind == TABLE and key and _path(inputs, ("serverSideEncryption", "enabled")) is not True:
            report(f"table {inputs.get('name')!r} names a KMS key but serverSideEncryption.enabled is not true", name)


def check_kms_key_protected(resource: Resource, report: Report) -> None:
    """Keys rotate yearly (KMS.4) and wait the longest window before deletion (KMS.3)."""
    inputs = _inputs(resource)
    rotation = inputs.get("enableKeyRotation")
    if is_known(rotation) and rotation is not True:
        report(f"{resource.get('name')}: enableKeyRotation must be true")
    window = inputs.get("deletionWindowInDays")
    if is_known(window) and window != KEY_DELETION_WINDOW_DAYS:
        report(
            f"{resource.get('name')}: deletionWindowInDays must be {KEY_DELETION_WINDOW_DAYS} (the longest), not {window!r}"
        )


def check_function_tracing_runtime(resource: Resource, report: Report) -> None:
    """Active X-Ray tracing (Lambda.7) on a supported runtime (Lambda.2)."""
    inputs = _inputs(resource)
    mode = _path(inputs, ("tracingConfig", "mode"))
    if is_known(mode) and mode != "Active":
        report(f"function {inputs.get('name')!r} must set tracingConfig.mode Active, not {mode!r}")
    runtime = inputs.get("runtime")
    if is_known(runtime) and runtime not in SUPPORTED_PYTHON_RUNTIMES:
        report(f"function {inputs.get('name')!r} runtime {runtime!r} is not one AWS supports")


def _bus_principals(document: Any) -> list[Any]:
    statements = _as_list(document.get("Statement")) if isinstance(document, Mapping) else []
    allowed: list[Any] = []
    for statement in statements:
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            principal = statement.get("Principal")
            allowed += _as_list(principal.get("AWS")) if isinstance(principal, Mapping) else [principal]
    return allowed


def check_event_bus_policies(resources: Sequence[Resource], report: StackReport) -> None:
    """Every custom bus has a resource policy (EventBridge.3) that lets only named roles put events."""
    policies = {_inputs(r).get("eventBusName"): r for r in resources if r.get("type") == EVENT_BUS_POLICY}
    for bus in (r for r in resources if r.get("type") == EVENT_BUS):
        bus_name = _inputs(bus).get("name")
        if not is_known(bus_name) or UNKNOWN in policies:
            continue
        policy = policies.get(bus_name)
        if policy is None:
            report(f"event bus {bus_name!r} has no resource policy (EventBusPolicy)", bus.get("name"))
            continue
        raw = _inputs(policy).get("policy")
        if not is_known(raw):
            continue  # the role ARNs are not known before the first deploy
        principals = _bus_principals(_json(raw))
        if not principals:
            report(f"event bus {bus_name!r}: the policy allows no one to put events", policy.get("name"))
        for principal in principals:
            if not (isinstance(principal, str) and ":role/" in principal):
                report(
                    f"event bus {bus_name!r}: the policy allows {principal!r}; name IAM roles only", policy.get("name")
                )


# What a TLS-only statement must deny, per resource type (cdk-nag AwsSolutions-SQS4: "*" or "sqs:*";
# AwsSolutions-SNS3: sns:Publish, as AWS's SNS security best practices write it).
TLS_DENIED_ACTIONS: Mapping[str, frozenset[str]] = {QUEUE: frozenset({"*", "sqs:*"}), TOPIC: frozenset({"sns:publish"})}


def _denies_insecure_transport(document: Any, denied: frozenset[str]) -> bool:
    """A statement denies everyone (``*``) these actions when ``aws:SecureTransport`` is false."""
    for statement in _as_list(document.get("Statement")) if isinstance(document, Mapping) else ():
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        everyone = principal == "*" or (isinstance(principal, Mapping) and "*" in _as_list(principal.get("AWS")))
        actions = {str(a).lower() for a in _as_list(statement.get("Action"))}
        condition = statement.get("Condition")
        test = condition.get("Bool") if isinstance(condition, Mapping) else None
        insecure = (
            {str(v).lower() for v in _as_list(test.get("aws:SecureTransport"))} if isinstance(test, Mapping) else set()
        )
        if everyone and actions & denied and insecure == {"false"}:
            return True
    return False


# Where a queue or topic policy names its target: (target type, input, the separator before its name).
POLICY_TARGETS: Mapping[str, tuple[str, str, str]] = {
    QUEUE_POLICY: (QUEUE, "queueUrl", "/"),
    TOPIC_POLICY: (TOPIC, "arn", ":"),
}


def check_tls_only(resources: Sequence[Resource], report: StackReport) -> None:
    """Every queue and topic has a resource policy denying requests not sent over TLS.

    A queue policy names its queue by URL and a topic policy its topic by ARN, both ending
    with the name. What a preview cannot see yet (a new queue's URL, a policy built from new
    ARNs) is not judged.
    """
    documents: dict[tuple[str, str], list[Any]] = {}
    unseen: set[str] = set()  # target types with a policy whose target is not known yet
    for resource in resources:
        if resource.get("type") not in POLICY_TARGETS:
            continue
        target, field, separator = POLICY_TARGETS[str(resource.get("type"))]
        where = _inputs(resource).get(field)
        if isinstance(where, str) and is_known(where):
            documents.setdefault((target, where.rsplit(separator, 1)[-1]), []).append(_inputs(resource).get("policy"))
        else:
            unseen.add(target)
    for resource in resources:
        kind, name = resource.get("type"), _inputs(resource).get("name")
        if kind not in TLS_DENIED_ACTIONS or not isinstance(name, str) or not is_known(name):
            continue
        found = documents.get((str(kind), name), [])
        if any(not is_known(document) for document in found) or (not found and kind in unseen):
            continue
        denied = TLS_DENIED_ACTIONS[str(kind)]
        if not any(_denies_insecure_transport(_json(document), denied) for document in found):
            report(
                f"{'queue' if kind == QUEUE else 'topic'} {name!r} has no policy denying requests without TLS "
                f"(Deny to Principal * of {' or '.join(sorted(denied))} when aws:SecureTransport is false)",
                resource.get("name"),
            )


def check_alarm_actions(resource: Resource, report: Report) -> None:
    """Every alarm notifies someone and its actions are on (CloudWatch.15, CloudWatch.17)."""
    inputs = _inputs(resource)
    if not _as_list(inputs.get("alarmActions")):
        report(f"alarm {inputs.get('name')!r} has no alarmActions")
    if inputs.get("actionsEnabled") is False:
        report(f"alarm {inputs.get('name')!r} has its actions disabled")


# --- the rule set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRule:
    """A rule over one resource of the given types."""

    name: str
    description: str
    types: frozenset[str]
    check: Callable[[Resource, Report], None]
    # The form the CrossGuard pack runs, where secret values are visible (defaults to ``check``).
    preview_check: Callable[[Resource, Report], None] | None = None


@dataclass(frozen=True)
class StackRule:
    """A rule that needs the whole stack."""

    name: str
    description: str
    check: Callable[[Sequence[Resource], StackReport], None]


Rule = ResourceRule | StackRule

# --- deploy identities (bootstrap) ------------------------------------------------------------


def check_deploy_policy_covers_types(resources: Sequence[Resource], report: StackReport) -> None:
    """Every AWS type the plan registers has its provider calls in the deploy role's policy."""
    for resource_type in uncovered_types(str(r.get("type")) for r in resources):
        first = next(r for r in resources if r.get("type") == resource_type)
        report(
            f"{resource_type} is not in signal9/deploy_policy.py TYPE_GRANTS: the deploy role could not create it; "
            "add the provider's create/read/update/delete calls there and re-run the bootstrap (bootstrap/)",
            first.get("name"),
        )


DEPLOY_RULES: tuple[StackRule, ...] = (
    StackRule(
        "deploy-policy-covers-types",
        "Every AWS resource type the program registers is covered by the bootstrap's generated deploy policy.",
        check_deploy_policy_covers_types,
    ),
)

RULES: tuple[Rule, ...] = (
    ResourceRule(
        "table-on-demand-pitr",
        "Every DynamoDB table uses on-demand billing and point-in-time recovery.",
        frozenset({TABLE}),
        check_table_on_demand_pitr,
    ),
    StackRule(
        "table-deletion-protection",
        "Every DynamoDB table outside the dev stack has deletion protection.",
        check_table_deletion_protection,
    ),
    ResourceRule(
        "function-dead-letter-queue",
        "Every Lambda function has a dead-letter queue for failed asynchronous invocations.",
        frozenset({FUNCTION}),
        check_function_dead_letter_queue,
    ),
    StackRule(
        "function-log-group",
        "Every Lambda function logs to a log group the stack manages (created with retention, before the function).",
        check_function_log_groups,
    ),
    ResourceRule(
        "log-group-retention",
        "Every CloudWatch log group sets a retention period.",
        frozenset({LOG_GROUP}),
        check_log_group_retention,
    ),
    ResourceRule(
        "async-target-dead-letter-queue",
        "Every schedule and event-rule target retries and then dead-letters failed deliveries.",
        frozenset({SCHEDULE, EVENT_TARGET}),
        check_async_targets_have_dead_letter_queue,
    ),
    ResourceRule(
        "iam-no-wildcards",
        'IAM policies name their actions and resources: no wildcard actions, no Resource "*".',
        frozenset({ROLE, ROLE_POLICY, POLICY}),
        check_iam_no_wildcards,
    ),
    ResourceRule(
        "resource-policies-scoped",
        "Queue, key, topic, event bus and Lambda resource policies grant no one-at-all, and services only for named sources.",
        frozenset({QUEUE_POLICY, KMS_KEY, LAMBDA_PERMISSION, EVENT_BUS_POLICY, TOPIC, TOPIC_POLICY}),
        check_resource_policies_scoped,
    ),
    ResourceRule(
        "iam-no-aws-managed-policies",
        "No AWS managed policies are attached to any role.",
        frozenset(
            {
                ROLE,
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "aws:iam/policyAttachment:PolicyAttachment",
                "aws:iam/roleManagedPolicies:RoleManagedPolicies",
                ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
            }
        ),
        check_no_aws_managed_policies,
    ),
    ResourceRule(
        "no-plaintext-credentials",
        "Credentials are stored only as Pulumi secrets in Secrets Manager, never as plaintext configuration.",
        frozenset({FUNCTION, SECRET_VERSION}),
        check_no_plaintext_credentials,
        preview_check=check_no_plaintext_credentials_revealed,
    ),
    StackRule(
        "required-tags",
        "Project, Environment and ManagedBy come from the provider's default tags; every resource has Component.",
        check_required_tags,
    ),
    ResourceRule(
        "schedules-skip-sunday",
        f"Schedules cannot fire on Sunday in {catalog.DEFAULT_TIMEZONE} (the maintenance window).",
        frozenset({SCHEDULE, EVENT_RULE}),
        check_schedule_weekdays,
    ),
    StackRule(
        "encryption-at-rest",
        "Queues and the alarm topic are encrypted; outside dev every data store uses the stack's customer managed key.",
        check_encryption_at_rest,
    ),
    ResourceRule(
        "kms-key-rotation-deletion-window",
        f"KMS keys rotate yearly and wait {KEY_DELETION_WINDOW_DAYS} days before deletion.",
        frozenset({KMS_KEY}),
        check_kms_key_protected,
    ),
    ResourceRule(
        "function-tracing-runtime",
        "Every function has active X-Ray tracing and a runtime AWS supports.",
        frozenset({FUNCTION}),
        check_function_tracing_runtime,
    ),
    StackRule(
        "event-bus-policy",
        "Every custom event bus has a resource policy letting only named IAM roles put events.",
        check_event_bus_policies,
    ),
    StackRule(
        "tls-only",
        "Every SQS queue and SNS topic has a policy denying requests without TLS (cdk-nag AwsSolutions-SQS4, SNS3).",
        check_tls_only,
    ),
    ResourceRule(
        "alarm-actions",
        "Every CloudWatch alarm has actions and they are enabled.",
        frozenset({METRIC_ALARM}),
        check_alarm_actions,
    ),
    *DEPLOY_RULES,
)


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str | None
    message: str


def evaluate(resources: Sequence[Resource], rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Run every rule over a plan's resources (the offline form: secrets masked)."""
    violations: list[Violation] = []

    def collector(rule: str, default: str | None) -> Callable[..., None]:
        def report(message: str, name: str | None = default) -> None:
            violations.append(Violation(rule, name, message))

        return report

    for rule in rules:
        if isinstance(rule, StackRule):
            rule.check(resources, collector(rule.name, None))
            continue
        for resource in resources:
            if resource.get("type") in rule.types:
                rule.check(resource, collector(rule.name, resource.get("name")))
    return violations


# --- the CrossGuard adapter (imports pulumi_policy only when called) ---------------------------


def plain(value: Any) -> Any:
    """Policy-SDK props as plain data, with values unknown during preview replaced by ``UNKNOWN``.

    The SDK's props raise on access to an unknown value; one unknown field must not stop a
    stack rule from judging everything else.
    """
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except Exception as error:  # pulumi_policy.proxy.UnknownValueError
                if not hasattr(error, "unknown_type_sentinel"):
                    raise
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except Exception as error:
                if not hasattr(error, "unknown_type_sentinel"):
                    raise
                items.append(UNKNOWN)
        return items
    return value


def policy_resource(resource_type: str, name: str, props: Any, parent: str | None = None) -> dict[str, Any]:
    """A policy SDK resource in the plan JSON shape the rules read."""
    return {"type": resource_type, "name": name, "parent": parent, "inputs": plain(props)}


def crossguard_policies() -> list[Any]:
    """The rules as pulumi_policy policies (the pack in ``policy/__main__.py`` serves these)."""
    from pulumi_policy import (
        EnforcementLevel,
        ReportViolation,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )

    def resource_validation(rule: ResourceRule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
        check = rule.preview_check or rule.check

        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if args.resource_type in rule.types:
                check(
                    policy_resource(args.resource_type, args.name, args.props),
                    lambda message: report_violation(message, None),
                )

        return validate

    def stack_validation(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
        def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
            resources: list[dict[str, Any]] = []
            urns: dict[str, str] = {}
            for r in args.resources:
                # Providers may appear only as a resource's provider: add each once.
                for item in (r.provider, r):
                    if item is not None and item.urn not in urns.values():
                        parent = getattr(getattr(item, "parent", None), "name", None)
                        resources.append(policy_resource(item.resource_type, item.name, item.props, parent))
                        urns.setdefault(item.name, item.urn)
            rule.check(resources, lambda message, name: report_violation(message, urns.get(name or "")))

        return validate

    policies: list[Any] = []
    for rule in RULES:
        if isinstance(rule, ResourceRule):
            policies.append(
                ResourceValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=resource_validation(rule),
                    enforcement_level=EnforcementLevel.MANDATORY,
                )
            )
        else:
            policies.append(
                StackValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=stack_validation(rule),
                    enforcement_level=EnforcementLevel.MANDATORY,
                )
            )
    return policies
