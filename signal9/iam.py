"""The least-privilege access matrix of docs/contract.md, as IAM policy documents built from the catalog.

Pure functions over plain strings (no Pulumi): FunctionFleet resolves the ARNs and calls
``access_policy``; the security review, the policy checks and the tests can call the same
function with any ARNs they like. One function's grant is exactly:

- reads: dynamodb GetItem, BatchGetItem, Query on the table (and ``<arn>/index/*`` when the
  table has indexes, since Query on a GSI is authorised against the index ARN);
- writes: dynamodb PutItem, UpdateItem, DeleteItem, BatchWriteItem on the table;
- secretsmanager:GetSecretValue on its one secret;
- events:PutEvents on the Signal9 bus, only if it emits;
- sqs:SendMessage on its own dead-letter queue (Lambda delivers failed async events with
  the function's role);
- logs:CreateLogStream and logs:PutLogEvents on the streams of its own log group (``<group>:*``):
  AWS authorises both on the log-stream resource type only, so the bare group ARN would match nothing;
- xray:PutTraceSegments and xray:PutTelemetryRecords on ``*`` (active tracing): X-Ray defines
  no resource types for them, so ``*`` is the narrowest grant AWS offers;
- with a customer managed stack key: kms:Decrypt and kms:GenerateDataKey on that key only,
  and only through the services that encrypt the function's data (``kms:ViaService``).

No wildcard actions, no managed policies, ``Resource: "*"`` only for the two X-Ray actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from signal9 import catalog

POLICY_VERSION = "2012-10-17"
LAMBDA_SERVICE = "lambda.amazonaws.com"

READ_ACTIONS: tuple[str, ...] = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
WRITE_ACTIONS: tuple[str, ...] = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
SECRET_ACTIONS: tuple[str, ...] = ("secretsmanager:GetSecretValue",)
EVENT_ACTIONS: tuple[str, ...] = ("events:PutEvents",)
DEAD_LETTER_ACTIONS: tuple[str, ...] = ("sqs:SendMessage",)
LOG_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")
# AWS offers no narrower resource than "*" for these (X-Ray has no resource types for them).
TRACE_ACTIONS: tuple[str, ...] = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
# What a role needs to read (Decrypt) and write (GenerateDataKey) data a service encrypts with
# the stack key: DynamoDB items, SQS messages, secret values, the function's environment.
ROLE_KEY_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class FunctionResources:
    """The ARNs one function's grants refer to (only those it is entitled to are used)."""

    dead_letter_queue: str
    log_group: str
    # Catalog table name -> table ARN; may hold more tables than the function touches.
    tables: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = None
    event_bus: str | None = None
    # The stack's customer managed key, when the stack encrypts its data with it.
    key: str | None = None
    # The region of the services that use the key (for kms:ViaService).
    region: str = ""


def index_arn(table_arn: str) -> str:
    """The ARN pattern of every index of a table."""
    return f"{table_arn}/index/*"


def log_stream_arn(log_group_arn: str) -> str:
    """The ARN pattern of every stream in a log group (CreateLogStream and PutLogEvents are authorised on streams)."""
    return f"{log_group_arn}:*"


def _statement(sid: str, actions: tuple[str, ...], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def function_key_services(function: catalog.Function) -> tuple[str, ...]:
    """The services that use the stack key on ``function``'s behalf (for ``kms:ViaService``)."""
    services = ["lambda", "sqs"]  # its environment, its dead-letter queue
    if function.tables:
        services.append("dynamodb")
    if function.secret:
        services.append("secretsmanager")
    return tuple(services)


# The Scheduler execution role: schedule payloads and dead-lettering into the encrypted DLQs.
SCHEDULER_KEY_SERVICES: tuple[str, ...] = ("scheduler", "sqs")


def key_statement(key_arn: str, services: tuple[str, ...], region: str) -> dict[str, Any]:
    """Use of the stack key, only through ``services`` in ``region`` (never a direct Decrypt)."""
    if not region:
        raise ValueError("the stack key's services need a region (kms:ViaService)")
    return {
        **_statement("UseStackKeyViaServices", ROLE_KEY_ACTIONS, [key_arn]),
        "Condition": {"StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}},
    }


def _table_arn(function: catalog.Function, resources: FunctionResources, table: str) -> str:
    try:
        return resources.tables[table]
    except KeyError:
        raise ValueError(f"{function.name} touches table {table!r} but no ARN was given for it") from None


def access_statements(function: catalog.Function, resources: FunctionResources) -> list[dict[str, Any]]:
    """The policy statements granting ``function`` exactly its catalog access, one Sid per kind."""
    statements = []
    if function.reads:
        read_resources: list[str] = []
        for table in function.reads:
            arn = _table_arn(function, resources, table)
            read_resources.append(arn)
            if catalog.table(table).indexes:
                read_resources.append(index_arn(arn))
        statements.append(_statement("ReadTables", READ_ACTIONS, read_resources))
    if function.writes:
        write_resources = [_table_arn(function, resources, table) for table in function.writes]
        statements.append(_statement("WriteTables", WRITE_ACTIONS, write_resources))
    if function.secret:
        if not resources.secret:
            raise ValueError(f"{function.name} reads secret {function.secret!r} but no secret ARN was given")
        statements.append(_statement("ReadOwnSecret", SECRET_ACTIONS, [resources.secret]))
    if function.emits:
        if not resources.event_bus:
            raise ValueError(f"{function.name} emits {', '.join(function.emits)} but no event bus ARN was given")
        statements.append(_statement("PutEventsOnSignal9Bus", EVENT_ACTIONS, [resources.event_bus]))
    statements.append(_statement("SendToOwnDeadLetterQueue", DEAD_LETTER_ACTIONS, [resources.dead_letter_queue]))
    # Both actions are authorised on the log-stream type only (Service Authorization Reference).
    statements.append(_statement("WriteOwnLogGroup", LOG_ACTIONS, [log_stream_arn(resources.log_group)]))
    statements.append(_statement("WriteTraces", TRACE_ACTIONS, ["*"]))
    if resources.key:
        statements.append(key_statement(resources.key, function_key_services(function), resources.region))
    return statements


def access_policy(function: catalog.Function, resources: FunctionResources) -> dict[str, Any]:
    """The identity policy document for ``function``'s role."""
    return {"Version": POLICY_VERSION, "Statement": access_statements(function, resources)}


def scheduler_statements(
    function_arns: list[str], queue_arns: list[str], key_arn: str | None = None, region: str = ""
) -> list[dict[str, Any]]:
    """The Scheduler role: invoke exactly the scheduled functions; dead-letter into exactly their DLQs.

    With the stack key: decrypt schedule payloads and encrypt DLQ messages, through Scheduler
    and SQS only.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "InvokeScheduledFunctions",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": function_arns,
        },
        {"Sid": "DeadLetterUndeliveredJobs", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arns},
    ]
    if key_arn:
        statements.append(key_statement(key_arn, SCHEDULER_KEY_SERVICES, region))
    return statements


def lambda_trust_policy() -> dict[str, Any]:
    """Only the Lambda service may assume a function role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "LambdaAssumesRole",
                "Effect": "Allow",
                "Principal": {"Service": LAMBDA_SERVICE},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def grants(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (action, resource) pair a policy document allows: for comparing policies exactly."""
    pairs: set[tuple[str, str]] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if isinstance(resources, str) else resources:
                pairs.add((action, resource))
    return pairs
