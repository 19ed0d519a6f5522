"""Realistic AWS identifiers for resources created under Pulumi's mock runtime.

A mocked resource gets the id and ARN that AWS would give it, built from its physical
name, the stack's region and account ``123456789012``, so cross-references in
``signal9 plan`` read like a real deployment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

ACCOUNT_ID = "123456789012"

# The input that carries each type's physical name (default: "name").
_NAME_INPUT = {
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:lambda/layerVersion:LayerVersion": "layerName",
}


def _suffix(name: str, length: int = 7) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def physical_name(typ: str, logical: str, inputs: Mapping[str, Any]) -> str:
    """The name AWS will know the resource by: explicit input, else Pulumi's auto-name."""
    explicit = inputs.get(_NAME_INPUT.get(typ, "name"))
    return explicit if isinstance(explicit, str) else f"{logical}-{_suffix(logical)}"


State = dict[str, Any]
Builder = Callable[[str, str, Mapping[str, Any]], tuple[str, State]]


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _table(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": _arn("dynamodb", region, f"table/{name}")}


def _role(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "uniqueId": f"AROA{_suffix(name, 17).upper()}"}


def _policy(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}"
    return arn, {"arn": arn}


def _bucket(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": f"arn:aws:s3:::{name}", "bucket": name}


def _queue(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    url = f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}"
    return url, {"arn": _arn("sqs", region, name), "url": url}


def _function(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = _arn("lambda", region, f"function:{name}")
    invoke = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return name, {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "invokeArn": invoke, "version": "$LATEST"}


def _layer_version(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    layer = _arn("lambda", region, f"layer:{name}")
    return f"{layer}:1", {"arn": f"{layer}:1", "layerArn": layer, "version": "1"}


def _log_group(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": _arn("logs", region, f"log-group:{name}")}


def _event_bus(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": _arn("events", region, f"event-bus/{name}")}


def _event_rule(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    bus = str(inputs.get("eventBusName") or "default")
    bus = bus.rsplit("/", 1)[-1]
    path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
    return f"{bus}/{name}", {"arn": _arn("events", region, path)}


def _event_archive(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": _arn("events", region, f"archive/{name}")}


def _schedule_group(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": _arn("scheduler", region, f"schedule-group/{name}")}


def _schedule(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    group = str(inputs.get("groupName") or "default")
    return f"{group}/{name}", {"arn": _arn("scheduler", region, f"schedule/{group}/{name}")}


def _secret(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    # Secrets Manager appends six random characters to a secret's ARN.
    arn = _arn("secretsmanager", region, f"secret:{name}-{_suffix(name, 6)}")
    return arn, {"arn": arn}


def _topic(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = _arn("sns", region, name)
    return arn, {"arn": arn}


def _alarm(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"arn": _arn("cloudwatch", region, f"alarm:{name}")}


def _dashboard(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {"dashboardArn": f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/{name}"}


def _uuid(name: str) -> str:
    """A stable UUID-shaped id (query definitions, KMS keys) derived from the name."""
    return f"{_suffix(name, 8)}-{_suffix(name + '1', 4)}-{_suffix(name + '2', 4)}-{_suffix(name + '3', 4)}-{_suffix(name + '4', 12)}"


def _query_definition(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    query_id = _uuid(name)
    return query_id, {"queryDefinitionId": query_id}


def _kms_key(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    key_id = _uuid(name)
    return key_id, {"arn": _arn("kms", region, f"key/{key_id}"), "keyId": key_id}


def _generic(name: str, region: str, inputs: Mapping[str, Any]) -> tuple[str, State]:
    return name, {}


BUILDERS: dict[str, Builder] = {
    "aws:dynamodb/table:Table": _table,
    "aws:iam/role:Role": _role,
    "aws:iam/policy:Policy": _policy,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:sqs/queue:Queue": _queue,
    "aws:lambda/function:Function": _function,
    "aws:lambda/layerVersion:LayerVersion": _layer_version,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/eventBus:EventBus": _event_bus,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventArchive:EventArchive": _event_archive,
    "aws:scheduler/scheduleGroup:ScheduleGroup": _schedule_group,
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:sns/topic:Topic": _topic,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/queryDefinition:QueryDefinition": _query_definition,
    "aws:kms/key:Key": _kms_key,
}


def mock_state(typ: str, logical: str, inputs: Mapping[str, Any], region: str) -> tuple[str, State]:
    """The (id, state) AWS would report for a new resource: its inputs plus computed ids."""
    name = physical_name(typ, logical, inputs)
    resource_id, computed = BUILDERS.get(typ, _generic)(name, region, inputs)
    return resource_id, {**inputs, "name": inputs.get("name", name), **computed, "id": resource_id}
