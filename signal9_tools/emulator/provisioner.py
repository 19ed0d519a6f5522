"""A Pulumi mock runtime that really creates each resource in the emulator.

``MotoProvisioner.new_resource`` turns the inputs the program registered into the boto3
calls a provider would make, against the embedded moto server, and hands back moto's
own identifiers and ARNs. Outputs therefore flow between resources exactly as in a real
deployment. A resource type without a creator here is an error, never skipped.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components.packaging import zip_files
from signal9_tools.awsapi import create_table_request, point_in_time_recovery_request
from signal9_tools.emulator.deploy_audit import DeployAudit
from signal9_tools.emulator.request_constraints import RequestConstraints
from signal9_tools.emulator.server import Clients
from signal9_tools.mockrun import AwsLikeMocks, ProgramRun, reveal

State = dict[str, Any]
Creator = Callable[["MotoProvisioner", Mapping[str, Any]], tuple[str, State]]
# Deletes one resource as the provider would on `pulumi destroy`; returns what AWS keeps meanwhile as
# text (anything else it returns, such as a boto3 answer, says nothing is kept).
Destroyer = Callable[["MotoProvisioner", "Created"], object]


@dataclass(frozen=True)
class Created:
    """One resource the provisioner created, with what destroying it needs (never a secret value)."""

    type: str
    name: str
    id: str
    fields: dict[str, Any]


@dataclass
class Deployment:
    """What deploying a stack into the emulator leaves for the smoke and the report."""

    plan: ProgramRun
    created: list[Created]  # in creation order
    notes: list[str]
    query_definitions: dict[str, State]  # saved Logs Insights queries (moto has none)
    dead_letter_targets: dict[str, str]  # function name -> dead-letter target ARN (moto keeps none)
    audit: tuple[bool, str]  # the stack's deploy policy's verdict on the deploy's calls, and its detail
    requests: tuple[bool, str]  # the verdict of the constraints AWS enforces on requests, and its detail


# Inputs a destroyer reads besides the id, per type (kept as created; JSON-safe, no secret).
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "aws:lambda/permission:Permission": ("function",),
    "aws:cloudwatch/eventTarget:EventTarget": ("rule", "eventBusName", "targetId"),
    "aws:secretsmanager/secret:Secret": ("recoveryWindowInDays",),
    "aws:kms/key:Key": ("deletionWindowInDays", "policy"),
}


class UnsupportedResourceError(RuntimeError):
    """The program registered a resource type the emulator cannot create."""


def _tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    return dict(inputs.get("tags") or {})


def _tag_list(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in _tags(inputs).items()]


def _int(value: Any) -> int:
    return int(float(value))


def archive_zip(code: Any) -> bytes:
    """The deployment zip for a recorded ``code`` input (a Pulumi AssetArchive of files).

    Asset paths are relative to the directory the program ran from, as Pulumi reads them.
    """
    return zip_files({name: Path(asset.path) for name, asset in code.assets.items()})


class MotoProvisioner(AwsLikeMocks):
    """Creates resources in moto (``AWS_ENDPOINT_URL`` points boto3 at it)."""

    def __init__(self, region: str) -> None:
        super().__init__(region)
        self.notes: list[str] = []
        # moto has no Logs Insights query definitions; the emulator keeps them for the smoke.
        self.query_definitions: dict[str, State] = {}
        # moto's Lambda keeps no DeadLetterConfig: function name -> the target ARN it was created with.
        self.dead_letter_targets: dict[str, str] = {}
        self._lock = threading.Lock()
        self._clients = Clients(region)
        # Set by `signal9 local up`: judges every call against the stack's deploy policy.
        self.audit: DeployAudit | None = None
        # Every call is checked against the constraints AWS enforces on requests.
        self.constraints = RequestConstraints()
        # Every resource created, in creation order (`signal9 local down` deletes them in reverse).
        self.created: list[Created] = []

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def client(self, service: str) -> Any:
        client = self.constraints.watch(self._clients(service))
        return self.audit.watch(client, service) if self.audit else client

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, State]:
        if args.typ.startswith("pulumi:providers:") or not args.custom:
            return f"{args.name}-id", dict(args.inputs)
        creator = CREATORS.get(args.typ)
        if creator is None:
            raise UnsupportedResourceError(f"signal9 local cannot create {args.typ} ({args.name}); add a creator")
        inputs = reveal(dict(args.inputs))
        with self._lock:  # the runtime registers resources from several threads
            self.constraints.creating(f'{args.typ} "{args.name}"')
            resource_id, computed = creator(self, inputs)
            kept = {field: inputs[field] for field in KEPT_FIELDS.get(args.typ, ()) if field in inputs}
            self.created.append(Created(args.typ, args.name, resource_id, kept))
        return resource_id, {**inputs, **computed, "id": resource_id}

    def destroy(self, resource: Created) -> str | None:
        """Delete one created resource through the same clients (judged by the audit when set)."""
        destroyer = DESTROYERS.get(resource.type)
        if destroyer is None:
            raise UnsupportedResourceError(f"signal9 local cannot delete {resource.type} ({resource.name}); add one")
        kept = destroyer(self, resource)
        return kept if isinstance(kept, str) else None

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            identity = self.client("sts").get_caller_identity()
            return {"accountId": identity["Account"], "arn": identity["Arn"], "userId": identity["UserId"]}, []
        return super().call(args)


def _table(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    dynamodb = p.client("dynamodb")
    table = dynamodb.create_table(**create_table_request(inputs))["TableDescription"]
    dynamodb.update_continuous_backups(**point_in_time_recovery_request(inputs))
    return table["TableName"], {"arn": table["TableArn"]}


def _role(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    role = p.client("iam").create_role(
        RoleName=inputs["name"],
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Description=inputs.get("description", ""),
        Tags=_tag_list(inputs),
        **({"PermissionsBoundary": inputs["permissionsBoundary"]} if inputs.get("permissionsBoundary") else {}),
    )["Role"]
    return role["RoleName"], {"arn": role["Arn"], "uniqueId": role["RoleId"]}


def _role_policy(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    name = inputs.get("name") or "policy"
    p.client("iam").put_role_policy(RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"])
    return f"{inputs['role']}:{name}", {"name": name}


def _role_policies_exclusive(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    # What the provider does: remove every inline policy of the role that is not listed.
    iam = p.client("iam")
    for name in iam.list_role_policies(RoleName=inputs["roleName"])["PolicyNames"]:
        if name not in inputs["policyNames"]:
            iam.delete_role_policy(RoleName=inputs["roleName"], PolicyName=name)
    return inputs["roleName"], {}


def _role_policy_attachments_exclusive(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    # What the provider does: detach every managed policy of the role that is not listed.
    iam = p.client("iam")
    for policy in iam.list_attached_role_policies(RoleName=inputs["roleName"])["AttachedPolicies"]:
        if policy["PolicyArn"] not in (inputs.get("policyArns") or []):
            iam.detach_role_policy(RoleName=inputs["roleName"], PolicyArn=policy["PolicyArn"])
    return inputs["roleName"], {}


def _queue(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    sqs = p.client("sqs")
    attributes = {"MessageRetentionPeriod": str(_int(inputs.get("messageRetentionSeconds", 345600)))}
    if inputs.get("sqsManagedSseEnabled"):
        attributes["SqsManagedSseEnabled"] = "true"
    if inputs.get("kmsMasterKeyId"):
        attributes["KmsMasterKeyId"] = inputs["kmsMasterKeyId"]
    url = sqs.create_queue(QueueName=inputs["name"], Attributes=attributes, tags=_tags(inputs))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, {"arn": arn, "url": url}


def _queue_policy(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    p.client("sqs").set_queue_attributes(QueueUrl=inputs["queueUrl"], Attributes={"Policy": inputs["policy"]})
    return inputs["queueUrl"], {}


def _log_group(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    logs = p.client("logs")
    logs.create_log_group(
        logGroupName=inputs["name"],
        tags=_tags(inputs),
        **({"kmsKeyId": inputs["kmsKeyId"]} if inputs.get("kmsKeyId") else {}),
    )
    if inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=inputs["name"], retentionInDays=_int(inputs["retentionInDays"]))
    group = logs.describe_log_groups(logGroupNamePrefix=inputs["name"])["logGroups"][0]
    return inputs["name"], {"arn": group["arn"].removesuffix(":*")}


def _layer_version(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    """Publish the layer archive the program names (the file `pulumi up` uploads)."""
    layer = p.client("lambda").publish_layer_version(
        LayerName=inputs["layerName"],
        Description=inputs.get("description", ""),
        Content={"ZipFile": Path(inputs["code"].path).read_bytes()},
        CompatibleRuntimes=inputs["compatibleRuntimes"],
        CompatibleArchitectures=inputs["compatibleArchitectures"],
    )
    arn = layer["LayerVersionArn"]
    return arn, {"arn": arn, "layerArn": layer["LayerArn"], "version": str(layer["Version"])}


def _function(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    logging = inputs.get("loggingConfig") or {}
    function = p.client("lambda").create_function(
        FunctionName=inputs["name"],
        Description=inputs.get("description", ""),
        Runtime=inputs["runtime"],
        Role=inputs["role"],
        Handler=inputs["handler"],
        Code={"ZipFile": archive_zip(inputs["code"])},
        MemorySize=_int(inputs["memorySize"]),
        Timeout=_int(inputs["timeout"]),
        Architectures=inputs["architectures"],
        Environment={"Variables": (inputs.get("environment") or {}).get("variables", {})},
        DeadLetterConfig={"TargetArn": inputs["deadLetterConfig"]["targetArn"]},
        LoggingConfig={
            "LogFormat": logging["logFormat"],
            "ApplicationLogLevel": logging["applicationLogLevel"],
            "SystemLogLevel": logging["systemLogLevel"],
            "LogGroup": logging["logGroup"],
        },
        Layers=list(inputs.get("layers", [])),
        TracingConfig={"Mode": (inputs.get("tracingConfig") or {}).get("mode", "PassThrough")},
        **({"KMSKeyArn": inputs["kmsKeyArn"]} if inputs.get("kmsKeyArn") else {}),
        Tags=_tags(inputs),
    )
    if inputs.get("reservedConcurrentExecutions") is not None:
        p.client("lambda").put_function_concurrency(
            FunctionName=inputs["name"], ReservedConcurrentExecutions=_int(inputs["reservedConcurrentExecutions"])
        )
    p.dead_letter_targets[function["FunctionName"]] = inputs["deadLetterConfig"]["targetArn"]
    arn = function["FunctionArn"]
    return inputs["name"], {"arn": arn, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST"}


def _invoke_config(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    p.client("lambda").put_function_event_invoke_config(
        FunctionName=inputs["functionName"],
        MaximumRetryAttempts=_int(inputs["maximumRetryAttempts"]),
        MaximumEventAgeInSeconds=_int(inputs["maximumEventAgeInSeconds"]),
    )
    return inputs["functionName"], {}


def _permission(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    # Pulumi auto-names the statement when none is given; a stable digest stands in for that.
    statement = inputs.get("statementId") or f"signal9-{hashlib.sha256(inputs['sourceArn'].encode()).hexdigest()[:12]}"
    p.client("lambda").add_permission(
        FunctionName=inputs["function"],
        StatementId=statement,
        Action=inputs["action"],
        Principal=inputs["principal"],
        SourceArn=inputs["sourceArn"],
    )
    return statement, {"statementId": statement}


def _event_bus(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = p.client("events").create_event_bus(Name=inputs["name"], Tags=_tag_list(inputs))["EventBusArn"]
    return inputs["name"], {"arn": arn}


def _event_bus_policy(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    p.client("events").put_permission(EventBusName=inputs["eventBusName"], Policy=inputs["policy"])
    return inputs["eventBusName"], {}


def _event_archive(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = p.client("events").create_archive(
        ArchiveName=inputs["name"],
        EventSourceArn=inputs["eventSourceArn"],
        Description=inputs.get("description", ""),
        RetentionDays=_int(inputs.get("retentionDays", 0)),
    )["ArchiveArn"]
    return inputs["name"], {"arn": arn}


def _event_rule(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = p.client("events").put_rule(
        Name=inputs["name"],
        EventBusName=inputs["eventBusName"],
        EventPattern=inputs["eventPattern"],
        Description=inputs.get("description", ""),
        # As the program asked; the provider's default when it says nothing is ENABLED.
        State=inputs.get("state") or "ENABLED",
        Tags=_tag_list(inputs),
    )["RuleArn"]
    return f"{inputs['eventBusName']}/{inputs['name']}", {"arn": arn}


def _event_target(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    retry = inputs["retryPolicy"]
    p.client("events").put_targets(
        Rule=inputs["rule"],
        EventBusName=inputs["eventBusName"],
        Targets=[
            {
                "Id": inputs["targetId"],
                "Arn": inputs["arn"],
                "RetryPolicy": {
                    "MaximumRetryAttempts": _int(retry["maximumRetryAttempts"]),
                    "MaximumEventAgeInSeconds": _int(retry["maximumEventAgeInSeconds"]),
                },
                "DeadLetterConfig": {"Arn": inputs["deadLetterConfig"]["arn"]},
            }
        ],
    )
    return f"{inputs['eventBusName']}-{inputs['rule']}-{inputs['targetId']}", {}


def _schedule_group(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = p.client("scheduler").create_schedule_group(Name=inputs["name"], Tags=_tag_list(inputs))["ScheduleGroupArn"]
    return inputs["name"], {"arn": arn}


def _schedule(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    target = inputs["target"]
    retry = target["retryPolicy"]
    arn = p.client("scheduler").create_schedule(
        Name=inputs["name"],
        GroupName=inputs["groupName"],
        Description=inputs.get("description", ""),
        ScheduleExpression=inputs["scheduleExpression"],
        ScheduleExpressionTimezone=inputs["scheduleExpressionTimezone"],
        FlexibleTimeWindow={"Mode": inputs["flexibleTimeWindow"]["mode"]},
        State=inputs["state"],
        **({"KmsKeyArn": inputs["kmsKeyArn"]} if inputs.get("kmsKeyArn") else {}),
        Target={
            "Arn": target["arn"],
            "RoleArn": target["roleArn"],
            "Input": target["input"],
            "RetryPolicy": {
                "MaximumRetryAttempts": _int(retry["maximumRetryAttempts"]),
                "MaximumEventAgeInSeconds": _int(retry["maximumEventAgeInSeconds"]),
            },
            "DeadLetterConfig": {"Arn": target["deadLetterConfig"]["arn"]},
        },
    )["ScheduleArn"]
    return f"{inputs['groupName']}/{inputs['name']}", {"arn": arn}


def _secret(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = p.client("secretsmanager").create_secret(
        Name=inputs["name"],
        Description=inputs.get("description", ""),
        Tags=_tag_list(inputs),
        **({"KmsKeyId": inputs["kmsKeyId"]} if inputs.get("kmsKeyId") else {}),
    )["ARN"]
    return arn, {"arn": arn}


def _secret_version(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    version = p.client("secretsmanager").put_secret_value(
        SecretId=inputs["secretId"], SecretString=inputs["secretString"]
    )
    return f"{inputs['secretId']}|{version['VersionId']}", {"versionId": version["VersionId"], "arn": version["ARN"]}


def _kms_key(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    kms = p.client("kms")
    key = kms.create_key(
        Policy=inputs["policy"],
        Description=inputs.get("description", ""),
        Tags=[{"TagKey": k, "TagValue": v} for k, v in _tags(inputs).items()],
    )["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return key["KeyId"], {"arn": key["Arn"], "keyId": key["KeyId"]}


def _kms_alias(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    p.client("kms").create_alias(AliasName=inputs["name"], TargetKeyId=inputs["targetKeyId"])
    return inputs["name"], {"arn": f"arn:aws:kms:{p.region}:123456789012:{inputs['name']}"}


def _topic(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    attributes = {"KmsMasterKeyId": inputs["kmsMasterKeyId"]} if inputs.get("kmsMasterKeyId") else {}
    arn = p.client("sns").create_topic(Name=inputs["name"], Attributes=attributes, Tags=_tag_list(inputs))["TopicArn"]
    return arn, {"arn": arn}


def _topic_policy(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    p.client("sns").set_topic_attributes(
        TopicArn=inputs["arn"], AttributeName="Policy", AttributeValue=inputs["policy"]
    )
    return inputs["arn"], {}


def _subscription(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    arn = p.client("sns").subscribe(
        TopicArn=inputs["topic"], Protocol=inputs["protocol"], Endpoint=inputs["endpoint"], ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    return arn, {"arn": arn}


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    if "expression" in query:
        request["Expression"] = query["expression"]
    if "label" in query:
        request["Label"] = query["label"]
    if "metric" in query:
        metric = query["metric"]
        request["MetricStat"] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": [{"Name": k, "Value": v} for k, v in (metric.get("dimensions") or {}).items()],
            },
            "Period": _int(metric["period"]),
            "Stat": metric["stat"],
        }
    return request


def _alarm(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    request: dict[str, Any] = {
        "AlarmName": inputs["name"],
        "AlarmDescription": inputs.get("alarmDescription", ""),
        "ActionsEnabled": True,
        "AlarmActions": inputs.get("alarmActions", []),
        "OKActions": inputs.get("okActions", []),
        "EvaluationPeriods": _int(inputs["evaluationPeriods"]),
        "DatapointsToAlarm": _int(inputs.get("datapointsToAlarm", inputs["evaluationPeriods"])),
        "Threshold": float(inputs["threshold"]),
        "ComparisonOperator": inputs["comparisonOperator"],
        "TreatMissingData": inputs.get("treatMissingData", "missing"),
        "Tags": _tag_list(inputs),
    }
    if inputs.get("metricQueries"):
        request["Metrics"] = [_metric_query(q) for q in inputs["metricQueries"]]
    else:
        request.update(
            Namespace=inputs["namespace"],
            MetricName=inputs["metricName"],
            Statistic=inputs["statistic"],
            Period=_int(inputs["period"]),
            Dimensions=[{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()],
        )
    p.client("cloudwatch").put_metric_alarm(**request)
    arn = p.client("cloudwatch").describe_alarms(AlarmNames=[inputs["name"]])["MetricAlarms"][0]["AlarmArn"]
    return inputs["name"], {"arn": arn}


def _dashboard(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    body = inputs["dashboardBody"]
    p.client("cloudwatch").put_dashboard(DashboardName=inputs["dashboardName"], DashboardBody=body)
    arn = p.client("cloudwatch").get_dashboard(DashboardName=inputs["dashboardName"])["DashboardArn"]
    return inputs["dashboardName"], {"dashboardArn": arn}


def _query_definition(p: MotoProvisioner, inputs: Mapping[str, Any]) -> tuple[str, State]:
    # moto does not implement logs:PutQueryDefinition (it answers 500), so the emulator keeps
    # the definition itself and says so in the report; the inputs are still checked here.
    if not inputs["queryString"] or not inputs["logGroupNames"]:
        raise ValueError(f"query definition {inputs['name']} needs a query and log groups")
    query_id = f"local-{len(p.query_definitions) + 1}"
    p.query_definitions[inputs["name"]] = dict(inputs)
    p.note("moto has no Logs Insights query definitions: saved queries are kept and checked by the emulator")
    return query_id, {"queryDefinitionId": query_id}


CREATORS: dict[str, Creator] = {
    "aws:dynamodb/table:Table": _table,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive": _role_policies_exclusive,
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": _role_policy_attachments_exclusive,
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/queuePolicy:QueuePolicy": _queue_policy,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lambda/layerVersion:LayerVersion": _layer_version,
    "aws:lambda/function:Function": _function,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _invoke_config,
    "aws:lambda/permission:Permission": _permission,
    "aws:cloudwatch/eventBus:EventBus": _event_bus,
    "aws:cloudwatch/eventArchive:EventArchive": _event_archive,
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": _event_bus_policy,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:scheduler/scheduleGroup:ScheduleGroup": _schedule_group,
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": _subscription,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/queryDefinition:QueryDefinition": _query_definition,
}


# --- `signal9 local down`: each type deleted as the provider deletes it ------------------------------


def _days(resource: Created, field: str) -> int:
    return _int(resource.fields.get(field, 0) or 0)


def _delete_secret(p: MotoProvisioner, resource: Created) -> str | None:
    window = _days(resource, "recoveryWindowInDays")
    client = p.client("secretsmanager")
    if window == 0:
        client.delete_secret(SecretId=resource.id, ForceDeleteWithoutRecovery=True)
        return None
    client.delete_secret(SecretId=resource.id, RecoveryWindowInDays=window)
    return f"scheduled for deletion: recoverable for {window} days (signal9:secretRecoveryWindowDays)"


def _delete_key(p: MotoProvisioner, resource: Created) -> str | None:
    window = _days(resource, "deletionWindowInDays")
    p.client("kms").schedule_key_deletion(KeyId=resource.id, PendingWindowInDays=window)
    return f"pending deletion for {window} days (CancelKeyDeletion undoes it)"


def _delete_queue_policy(p: MotoProvisioner, resource: Created) -> None:
    p.client("sqs").set_queue_attributes(QueueUrl=resource.id, Attributes={"Policy": ""})


def _delete_target(p: MotoProvisioner, resource: Created) -> None:
    fields = resource.fields
    p.client("events").remove_targets(
        Rule=fields["rule"], EventBusName=fields["eventBusName"], Ids=[fields["targetId"]]
    )


def _delete_rule(p: MotoProvisioner, resource: Created) -> None:
    bus, name = resource.id.split("/", 1)
    p.client("events").delete_rule(Name=name, EventBusName=bus)


def _delete_schedule(p: MotoProvisioner, resource: Created) -> None:
    group, name = resource.id.split("/", 1)
    p.client("scheduler").delete_schedule(Name=name, GroupName=group)


def _delete_role_policy(p: MotoProvisioner, resource: Created) -> None:
    role, name = resource.id.split(":", 1)
    p.client("iam").delete_role_policy(RoleName=role, PolicyName=name)


def _delete_topic_policy(p: MotoProvisioner, resource: Created) -> None:
    """The provider's delete puts back SNS's default policy (the topic owner's account only)."""
    account = resource.id.split(":")[4]
    default = {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Publish"],
                "Resource": resource.id,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            }
        ],
    }
    p.client("sns").set_topic_attributes(
        TopicArn=resource.id, AttributeName="Policy", AttributeValue=json.dumps(default)
    )


def _delete_layer_version(p: MotoProvisioner, resource: Created) -> None:
    name, version = resource.id.split(":layer:", 1)[1].rsplit(":", 1)
    p.client("lambda").delete_layer_version(LayerName=name, VersionNumber=int(version))


def _forget(p: MotoProvisioner, resource: Created) -> None:
    """What the provider's delete leaves to the resource it belongs to (or the emulator keeps itself)."""


def _by_id(service: str, method: str, parameter: str) -> Destroyer:
    def destroy(p: MotoProvisioner, resource: Created) -> None:
        getattr(p.client(service), method)(**{parameter: resource.id})

    return destroy


DESTROYERS: dict[str, Destroyer] = {
    "aws:dynamodb/table:Table": _by_id("dynamodb", "delete_table", "TableName"),
    "aws:iam/role:Role": _by_id("iam", "delete_role", "RoleName"),
    "aws:iam/rolePolicy:RolePolicy": _delete_role_policy,
    # The provider's delete of the exclusive-set resources removes them from state only.
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive": _forget,
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": _forget,
    "aws:sqs/queue:Queue": _by_id("sqs", "delete_queue", "QueueUrl"),
    "aws:sqs/queuePolicy:QueuePolicy": _delete_queue_policy,
    "aws:cloudwatch/logGroup:LogGroup": _by_id("logs", "delete_log_group", "logGroupName"),
    "aws:lambda/function:Function": _by_id("lambda", "delete_function", "FunctionName"),
    "aws:lambda/layerVersion:LayerVersion": _delete_layer_version,
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _by_id(
        "lambda", "delete_function_event_invoke_config", "FunctionName"
    ),
    "aws:lambda/permission:Permission": lambda p, r: p.client("lambda").remove_permission(
        FunctionName=r.fields["function"], StatementId=r.id
    ),
    "aws:cloudwatch/eventBus:EventBus": _by_id("events", "delete_event_bus", "Name"),
    "aws:cloudwatch/eventArchive:EventArchive": _by_id("events", "delete_archive", "ArchiveName"),
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": lambda p, r: p.client("events").remove_permission(
        EventBusName=r.id, RemoveAllPermissions=True
    ),
    "aws:cloudwatch/eventRule:EventRule": _delete_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _delete_target,
    "aws:scheduler/scheduleGroup:ScheduleGroup": _by_id("scheduler", "delete_schedule_group", "Name"),
    "aws:scheduler/schedule:Schedule": _delete_schedule,
    "aws:secretsmanager/secret:Secret": _delete_secret,
    # Deleting a version only moves its staging labels; the secret's own deletion takes it.
    "aws:secretsmanager/secretVersion:SecretVersion": _forget,
    "aws:kms/key:Key": _delete_key,
    "aws:kms/alias:Alias": _by_id("kms", "delete_alias", "AliasName"),
    "aws:sns/topic:Topic": _by_id("sns", "delete_topic", "TopicArn"),
    "aws:sns/topicPolicy:TopicPolicy": _delete_topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": _by_id("sns", "unsubscribe", "SubscriptionArn"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda p, r: p.client("cloudwatch").delete_alarms(AlarmNames=[r.id]),
    "aws:cloudwatch/dashboard:Dashboard": lambda p, r: p.client("cloudwatch").delete_dashboards(DashboardNames=[r.id]),
    # Kept by the emulator in the `local up` process (moto has no query definitions).
    "aws:cloudwatch/queryDefinition:QueryDefinition": _forget,
}
