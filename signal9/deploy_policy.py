"""The deploy role's permissions, as data: resource type -> provider API calls -> resource patterns.

One stack's deploy role (assumed by GitHub Actions in that stack's environment) runs
``pulumi up`` of the program. Pulumi's AWS provider is the Terraform AWS provider bridged,
so for each resource type the program registers, the calls are the ones the provider's
resource code makes to create, read (refresh, drift), update and delete it, including the
reads it does after each write (tags, waits). ``TYPE_GRANTS`` lists them per type, each with
the provider source file it was taken from (``PROVIDER_SOURCE``: pulumi/terraform-provider-aws,
the fork of hashicorp/terraform-provider-aws that pulumi-aws bridges, ``internal/service/<svc>/<file>.go``;
e.g. lambda/function.go reads back with GetFunction, ListVersionsByFunction and
GetFunctionCodeSigningConfig after every create and on each refresh) and the resource patterns of the stack's own names
(``SCOPES``: resource types whose ARN formats come from AWS's Service Authorization Reference,
read through ``signal9.aws_reference``). ``deploy_policy_document`` turns the types of one stack's
plan into the IAM policy; ``signal9.policy_rules`` fails a plan that registers a type
missing here, so adding a resource type forces this table (and the bootstrap) to follow.

Rules the table keeps (tests/test_deploy_policy.py proves them):

- no wildcard in any action; ``Resource: "*"`` only for the actions in ``UNSCOPABLE``, which
  AWS documents with no resource type, each with the reason. The generator checks every grant
  against the reference (``check_against_reference``): a scoped action must have the scope's
  resource type, an unscoped one none, so the policy and ``signal9 preflight`` cannot disagree;
- roles can be created (and given a boundary) only with the stack's permissions boundary
  (``iam:PermissionsBoundary``), and ``iam:DeleteRolePermissionsBoundary`` is never granted;
- ``iam:PassRole`` only for the stack's function roles (to Lambda) and its scheduler role
  (to EventBridge Scheduler), with ``iam:PassedToService``;
- KMS keys have random ids: key actions are limited to keys tagged with this stack
  (``aws:ResourceTag``), key creation to requests carrying the stack's tags (``aws:RequestTag``).

This module is data and standard library at import time (the CrossGuard pack imports it for
``uncovered_types``); the reference data is read only when a policy is generated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signal9 import aws_reference, catalog
from signal9.naming import Naming

POLICY_VERSION = "2012-10-17"
# pulumi-aws bridges Pulumi's fork of the Terraform provider; the resource code is the same.
PROVIDER_SOURCE = "https://github.com/pulumi/terraform-provider-aws/blob/main/internal/service/"
AUTHORIZATION_REFERENCE = "https://docs.aws.amazon.com/service-authorization/latest/reference/"
LAMBDA_SERVICE = "lambda.amazonaws.com"
SCHEDULER_SERVICE = "scheduler.amazonaws.com"


# Resource patterns of one stack, by scope name: a resource type of the Service Authorization
# Reference and the names that fill its ARN format (signal9.aws_reference), so every pattern has
# the format AWS authorises the scope's actions on. Placeholders in the names: {prefix}
# (signal9-<stack>) {project} {stack}; the format's own partition, region and account are filled
# by ``StackTarget``.
@dataclass(frozen=True)
class Scope:
    service: str
    resource_type: str  # as the reference names it
    names: tuple[tuple[str, str], ...]  # ARN format placeholder -> value

    def template(self) -> str:
        return aws_reference.committed_slice().arn_template(self.service, self.resource_type, dict(self.names))


def _scope(service: str, resource_type: str, **names: str) -> Scope:
    return Scope(service, resource_type, tuple(names.items()))


SCOPES: dict[str, Scope] = {
    "table": _scope("dynamodb", "table", TableName="{prefix}-*"),
    "role": _scope("iam", "role", RoleNameWithPath="{prefix}-*"),
    "queue": _scope("sqs", "queue", QueueName="{prefix}-*"),
    # Lambda's log groups; the trailing * also covers the ``:*`` form of a group's ARN.
    "log-group": _scope("logs", "log-group", LogGroupName="/aws/lambda/{prefix}-*"),
    "function": _scope("lambda", "function", FunctionName="{prefix}-*"),
    # The handlers' layer (components/handler_layer.py): publishing names the layer, reading and
    # deleting name one of its versions.
    "handler-layer": _scope("lambda", "layer", LayerName="{prefix}-*"),
    "handler-layer-version": _scope("lambda", "layerVersion", LayerName="{prefix}-*", LayerVersion="*"),
    "event-bus": _scope("events", "event-bus", EventBusName="{prefix}"),
    "event-rule": _scope("events", "rule-on-custom-event-bus", EventBusName="{prefix}", RuleName="{prefix}-*"),
    "event-archive": _scope("events", "archive", ArchiveName="{prefix}-*"),
    "schedule-group": _scope("scheduler", "schedule-group", GroupName="{prefix}"),
    "schedule": _scope("scheduler", "schedule", GroupName="{prefix}", ScheduleName="{prefix}-*"),
    "secret": _scope("secretsmanager", "Secret", SecretId="{project}/{stack}/*"),
    # The trailing * also covers the topics' subscriptions (<topic ARN>:<id>).
    "topic": _scope("sns", "topic", TopicName="{prefix}-*"),
    "alarm": _scope("cloudwatch", "alarm", AlarmName="{prefix}-*"),
    "dashboard": _scope("cloudwatch", "dashboard", DashboardName="{prefix}"),
    # Key ids are random; the stack's keys are told apart by their tags (KEY_CONDITION).
    "kms-key": _scope("kms", "key", KeyId="*"),
    "kms-alias": _scope("kms", "alias", Alias="{prefix}-*"),
    # The stack key's own alias is the bare prefix (components: alias/signal9-<stack>).
    "kms-stack-alias": _scope("kms", "alias", Alias="{prefix}"),
}
# Scopes whose statements carry a condition (placeholders as in SCOPES).
KEY_CONDITION = {"StringLike": {"aws:ResourceTag/Project": "{project}", "aws:ResourceTag/Environment": "{stack}"}}
CREATE_KEY_CONDITION = {
    "StringEquals": {"aws:RequestTag/Project": "{project}", "aws:RequestTag/Environment": "{stack}"}
}
SCOPE_CONDITIONS: dict[str, dict[str, Any]] = {"kms-key": KEY_CONDITION}


@dataclass(frozen=True)
class Grant:
    """API actions the provider calls on resources of the given scopes."""

    actions: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TypeGrants:
    """Everything ``pulumi up`` needs for one resource type, and where the calls come from."""

    source: str  # provider file under internal/service/
    grants: tuple[Grant, ...]
    # Actions that can only take Resource "*" (keys of UNSCOPABLE).
    unscoped: tuple[str, ...] = ()
    # Actions whose only allowed form carries a condition (SPECIAL_STATEMENTS).
    conditioned: tuple[str, ...] = ()


# Actions the Service Authorization Reference lists with no resource type (or only optional ones
# Signal9 never uses: aws_reference.star_is_narrowest): "*" is the narrowest grant possible. The
# generator holds this list against the reference (``check_against_reference``): an action here
# that has a resource type, or a scoped action that has none, stops it.
UNSCOPABLE: dict[str, str] = {
    "kms:CreateKey": "the key does not exist yet (no resource type); limited by aws:RequestTag to the stack's tags",
    "kms:ListAliases": "a list call with no resource type; the provider reads an alias back through it",
    "logs:DescribeLogGroups": "a list call with no resource type; the provider finds its log group through it",
    "logs:PutQueryDefinition": "CloudWatch Logs query definitions have no resource type in IAM",
    "logs:DescribeQueryDefinitions": "CloudWatch Logs query definitions have no resource type in IAM",
    "logs:DeleteQueryDefinition": "CloudWatch Logs query definitions have no resource type in IAM",
    # The bus policy is written through these: IAM cannot limit them to one bus.
    "events:PutPermission": "EventBridge authorises it on no resource type (not even the bus it changes)",
    "events:RemovePermission": "EventBridge authorises it on no resource type (not even the bus it changes)",
    "cloudwatch:GetMetricData": (
        "classic metrics have no resource type (its one type, an OTLP dataset, is optional and unused: "
        "aws_reference.STAR_FOR_UNUSED_OPTIONAL_TYPES); `signal9 status` reads run metrics"
    ),
    "cloudwatch:PutMetricData": (
        "metric data has no resource type; the deploy role's is limited to the Signal9 namespace "
        "(cloudwatch:namespace), to mark a deploy for the missed-run alarms"
    ),
    # Read by the preview role before a first deploy (`signal9 preflight --account`) and in the preview workflow.
    "lambda:GetAccountSettings": "the account's Lambda limits have no resource type; preflight --account reads them",
    "iam:ListOpenIDConnectProviders": "a list call with no resource type; preflight --account looks for GitHub's",
    "access-analyzer:ValidatePolicy": "validating a policy document touches no resource (the preview workflow)",
    # Granted to the function roles (active tracing), so the permissions boundary carries them.
    "xray:PutTraceSegments": "X-Ray trace segments have no resource type in IAM (active tracing)",
    "xray:PutTelemetryRecords": "X-Ray telemetry has no resource type in IAM (active tracing)",
}


def referenced() -> tuple[set[str], set[tuple[str, str]]]:
    """The actions and resource types the generator asks the reference about (its committed slice)."""
    actions = set(UNSCOPABLE)
    for entry in TYPE_GRANTS.values():
        actions.update(a for grant in entry.grants for a in grant.actions)
        actions.update(entry.unscoped, entry.conditioned)
    return actions, {(scope.service, scope.resource_type) for scope in SCOPES.values()}


class ReferenceMismatchError(ValueError):
    """The table grants an action in a way AWS's Service Authorization Reference cannot match."""


def check_against_reference(action: str, scope: str | None) -> None:
    """``action`` on ``scope`` (None: on "*") is a grant AWS can match, or the generator stops.

    Scoped: the scope's resource type is one of the action's; on "*": "*" is the narrowest
    grant (``aws_reference.star_is_narrowest``) and the action is in ``UNSCOPABLE`` (with its reason).
    """
    reference = aws_reference.committed_slice()
    spec = reference.action(action)
    if scope is None:
        if not reference.star_is_narrowest(action) or action not in UNSCOPABLE:
            raise ReferenceMismatchError(
                f'{action} on "*": the Service Authorization Reference lists resource types '
                f"{[t for t, _ in spec.resource_types]}; scope it (UNSCOPABLE holds only actions without)"
            )
        return
    wanted = SCOPES[scope].resource_type.lower()
    if wanted not in {t.lower() for t, _ in spec.resource_types}:
        raise ReferenceMismatchError(
            f"{action} on scope {scope!r} ({SCOPES[scope].service}:{SCOPES[scope].resource_type}): the Service "
            f"Authorization Reference authorises it on {[t for t, _ in spec.resource_types] or 'no resource type'}"
        )


# What `signal9 status` (signal9_tools/status.py) calls beyond the table's reads (GetQueueUrl,
# GetQueueAttributes, DescribeAlarms): the preview role gets them too
# (signal9.bootstrap_policies.read_only_document), so status runs with the preview role.
# logs:FilterLogEvents takes the log-group resource type (Service Authorization Reference, CloudWatch Logs).
STATUS_UNSCOPED_ACTIONS = ("cloudwatch:GetMetricData",)
STATUS_LOG_GROUP_ACTIONS = ("logs:FilterLogEvents",)

_TAGS = ("TagResource", "UntagResource")

# What the provider calls on a key itself (kms/key.go: create reads back, updates, rotation, tags,
# deletion) and on the key an alias points at (kms/alias.go). AWS authorises each against the key's
# own policy as well as the caller's IAM policy (signal9_tools.policy_check.key_policy_refusal), so
# the key policies must let the deploying principal make them: the bootstrap keys delegate exactly
# these to the account (signal9.bootstrap_policies.KEY_ADMIN_ACTIONS).
KEY_LIFECYCLE_ACTIONS = tuple(
    f"kms:{a}"
    for a in (
        "DescribeKey",
        "GetKeyPolicy",
        "PutKeyPolicy",
        "GetKeyRotationStatus",
        "EnableKeyRotation",
        "DisableKeyRotation",
        "UpdateKeyDescription",
        "EnableKey",
        "DisableKey",
        "ListResourceTags",
        "ScheduleKeyDeletion",
        *_TAGS,
    )
)
ALIAS_ACTIONS = ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias")
# What the services use a key for while the deploy creates resources encrypted with it, with the
# deploying principal's permissions (only on a stack that encrypts its data with its key).
KEY_SERVICE_USE_ACTIONS = tuple(f"kms:{a}" for a in ("Encrypt", "Decrypt", "GenerateDataKey", "CreateGrant"))

TYPE_GRANTS: dict[str, TypeGrants] = {
    # Configuring the provider validates credentials (sts:GetCallerIdentity needs no grant);
    # getRegion/getPartition answer locally.
    "pulumi:providers:aws": TypeGrants("provider/provider.go", ()),
    "aws:dynamodb/table:Table": TypeGrants(
        "dynamodb/table.go",
        (
            Grant(
                tuple(
                    f"dynamodb:{a}"
                    for a in (
                        "CreateTable",
                        "DescribeTable",
                        "UpdateTable",
                        "DeleteTable",
                        "DescribeContinuousBackups",
                        "UpdateContinuousBackups",
                        "DescribeTimeToLive",
                        "UpdateTimeToLive",
                        "ListTagsOfResource",
                        *_TAGS,
                    )
                ),
                ("table",),
            ),
        ),
    ),
    "aws:iam/role:Role": TypeGrants(
        "iam/role.go",
        (
            Grant(
                tuple(
                    f"iam:{a}"
                    for a in (
                        "GetRole",
                        "UpdateRole",
                        "UpdateRoleDescription",
                        "UpdateAssumeRolePolicy",
                        "DeleteRole",
                        "TagRole",
                        "UntagRole",
                        "ListRoleTags",
                        # Every read fills inline_policy and managed_policy_arns (readRoleInlinePolicies).
                        "ListRolePolicies",
                        "GetRolePolicy",
                        "ListAttachedRolePolicies",
                        # Deleting a role: the provider first removes it from instance profiles.
                        "ListInstanceProfilesForRole",
                    )
                ),
                ("role",),
            ),
        ),
        conditioned=("iam:CreateRole", "iam:PutRolePermissionsBoundary"),
    ),
    "aws:iam/rolePolicy:RolePolicy": TypeGrants(
        "iam/role_policy.go",
        (Grant(("iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"), ("role",)),),
    ),
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive": TypeGrants(
        "iam/role_policies_exclusive.go",
        (Grant(("iam:ListRolePolicies", "iam:DeleteRolePolicy"), ("role",)),),
    ),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": TypeGrants(
        "iam/role_policy_attachments_exclusive.go",
        (Grant(("iam:ListAttachedRolePolicies", "iam:DetachRolePolicy"), ("role",)),),
    ),
    "aws:sqs/queue:Queue": TypeGrants(
        "sqs/queue.go",
        (
            Grant(
                tuple(
                    f"sqs:{a}"
                    for a in (
                        "CreateQueue",
                        "GetQueueAttributes",
                        "SetQueueAttributes",
                        "GetQueueUrl",
                        "DeleteQueue",
                        "ListQueueTags",
                        "TagQueue",
                        "UntagQueue",
                    )
                ),
                ("queue",),
            ),
        ),
    ),
    "aws:sqs/queuePolicy:QueuePolicy": TypeGrants(
        "sqs/queue_policy.go",
        (Grant(("sqs:SetQueueAttributes", "sqs:GetQueueAttributes"), ("queue",)),),
    ),
    "aws:cloudwatch/logGroup:LogGroup": TypeGrants(
        "logs/group.go",
        (
            Grant(
                tuple(
                    f"logs:{a}"
                    for a in (
                        "CreateLogGroup",
                        "DeleteLogGroup",
                        "PutRetentionPolicy",
                        "DeleteRetentionPolicy",
                        # kms_key_id on a log group (pre-covered for the log-group key).
                        "AssociateKmsKey",
                        "DisassociateKmsKey",
                        "ListTagsForResource",
                        *_TAGS,
                    )
                ),
                ("log-group",),
            ),
        ),
        unscoped=("logs:DescribeLogGroups",),
    ),
    "aws:cloudwatch/queryDefinition:QueryDefinition": TypeGrants(
        "logs/query_definition.go",
        (),
        unscoped=("logs:PutQueryDefinition", "logs:DescribeQueryDefinitions", "logs:DeleteQueryDefinition"),
    ),
    "aws:lambda/function:Function": TypeGrants(
        "lambda/function.go",
        (
            Grant(
                tuple(
                    f"lambda:{a}"
                    for a in (
                        "CreateFunction",
                        "GetFunction",
                        "GetFunctionConfiguration",
                        "UpdateFunctionCode",
                        "UpdateFunctionConfiguration",
                        "DeleteFunction",
                        "ListVersionsByFunction",
                        "PublishVersion",
                        "GetFunctionCodeSigningConfig",
                        # reserved_concurrent_executions (pre-covered).
                        "GetFunctionConcurrency",
                        "PutFunctionConcurrency",
                        "DeleteFunctionConcurrency",
                        "ListTags",
                        *_TAGS,
                    )
                ),
                ("function",),
            ),
            # Attaching a layer version needs read access to it (the stack's handler layer).
            Grant(("lambda:GetLayerVersion",), ("handler-layer-version",)),
        ),
        conditioned=("iam:PassRole",),
    ),
    "aws:lambda/layerVersion:LayerVersion": TypeGrants(
        "lambda/layer_version.go",
        (
            Grant(("lambda:PublishLayerVersion",), ("handler-layer",)),
            Grant(("lambda:GetLayerVersion", "lambda:DeleteLayerVersion"), ("handler-layer-version",)),
        ),
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": TypeGrants(
        "lambda/function_event_invoke_config.go",
        (
            Grant(
                (
                    "lambda:PutFunctionEventInvokeConfig",
                    "lambda:GetFunctionEventInvokeConfig",
                    "lambda:UpdateFunctionEventInvokeConfig",
                    "lambda:DeleteFunctionEventInvokeConfig",
                ),
                ("function",),
            ),
        ),
    ),
    "aws:lambda/permission:Permission": TypeGrants(
        "lambda/permission.go",
        (Grant(("lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission"), ("function",)),),
    ),
    "aws:cloudwatch/eventBus:EventBus": TypeGrants(
        "events/bus.go",
        (
            Grant(
                tuple(
                    f"events:{a}"
                    for a in (
                        "CreateEventBus",
                        "DescribeEventBus",
                        "UpdateEventBus",
                        "DeleteEventBus",
                        "ListTagsForResource",
                        *_TAGS,
                    )
                ),
                ("event-bus",),
            ),
        ),
    ),
    # Pre-covered: a resource policy on the bus (helper `security`).
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": TypeGrants(
        "events/bus_policy.go",
        (Grant(("events:DescribeEventBus",), ("event-bus",)),),
        unscoped=("events:PutPermission", "events:RemovePermission"),
    ),
    "aws:cloudwatch/eventArchive:EventArchive": TypeGrants(
        "events/archive.go",
        (
            Grant(
                ("events:CreateArchive", "events:DescribeArchive", "events:UpdateArchive", "events:DeleteArchive"),
                ("event-archive",),
            ),
            # An archive is created on its source bus: CreateArchive is authorised on both.
            Grant(("events:CreateArchive",), ("event-bus",)),
        ),
    ),
    "aws:cloudwatch/eventRule:EventRule": TypeGrants(
        "events/rule.go",
        (
            Grant(
                tuple(
                    f"events:{a}"
                    for a in (
                        "PutRule",
                        "DescribeRule",
                        "DeleteRule",
                        "EnableRule",
                        "DisableRule",
                        "ListTargetsByRule",
                        "ListTagsForResource",
                        *_TAGS,
                    )
                ),
                ("event-rule",),
            ),
        ),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": TypeGrants(
        "events/target.go",
        (Grant(("events:PutTargets", "events:ListTargetsByRule", "events:RemoveTargets"), ("event-rule",)),),
    ),
    "aws:scheduler/scheduleGroup:ScheduleGroup": TypeGrants(
        "scheduler/schedule_group.go",
        (
            Grant(
                tuple(
                    f"scheduler:{a}"
                    for a in (
                        "CreateScheduleGroup",
                        "GetScheduleGroup",
                        "DeleteScheduleGroup",
                        "ListTagsForResource",
                        *_TAGS,
                    )
                ),
                ("schedule-group",),
            ),
        ),
    ),
    "aws:scheduler/schedule:Schedule": TypeGrants(
        "scheduler/schedule.go",
        (
            Grant(
                (
                    "scheduler:CreateSchedule",
                    "scheduler:GetSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                ),
                ("schedule",),
            ),
        ),
        conditioned=("iam:PassRole",),
    ),
    "aws:secretsmanager/secret:Secret": TypeGrants(
        "secretsmanager/secret.go",
        (
            Grant(
                tuple(
                    f"secretsmanager:{a}"
                    for a in (
                        "CreateSecret",
                        "DescribeSecret",
                        "UpdateSecret",
                        "DeleteSecret",
                        # The provider reads the (absent) resource policy on every refresh.
                        "GetResourcePolicy",
                        *_TAGS,
                    )
                ),
                ("secret",),
            ),
        ),
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": TypeGrants(
        "secretsmanager/secret_version.go",
        (
            Grant(
                (
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:ListSecretVersionIds",
                    # Deleting a version removes its staging labels.
                    "secretsmanager:UpdateSecretVersionStage",
                ),
                ("secret",),
            ),
        ),
    ),
    "aws:kms/key:Key": TypeGrants(
        "kms/key.go",
        (
            Grant(KEY_LIFECYCLE_ACTIONS, ("kms-key",)),
            # Creating a table, secret (version), function, log group or schedule encrypted with the
            # stack key makes the service use the key with the caller's permissions (kms:ViaService):
            # e.g. DynamoDB CreateGrant/DescribeKey, Secrets Manager GenerateDataKey/Decrypt.
            Grant(KEY_SERVICE_USE_ACTIONS, ("kms-key",)),
        ),
        unscoped=("kms:CreateKey",),
    ),
    "aws:kms/alias:Alias": TypeGrants(
        "kms/alias.go",
        (
            # Alias calls are authorised on the alias and on the key it points at.
            Grant(ALIAS_ACTIONS, ("kms-alias", "kms-stack-alias", "kms-key")),
        ),
        unscoped=("kms:ListAliases",),
    ),
    "aws:sns/topic:Topic": TypeGrants(
        "sns/topic.go",
        (
            Grant(
                tuple(
                    f"sns:{a}"
                    for a in (
                        "CreateTopic",
                        "GetTopicAttributes",
                        "SetTopicAttributes",
                        "DeleteTopic",
                        "ListTagsForResource",
                        *_TAGS,
                    )
                ),
                ("topic",),
            ),
        ),
    ),
    "aws:sns/topicPolicy:TopicPolicy": TypeGrants(
        "sns/topic_policy.go",
        # Delete puts the topic's default policy back (SetTopicAttributes).
        (Grant(("sns:SetTopicAttributes", "sns:GetTopicAttributes"), ("topic",)),),
    ),
    "aws:sns/topicSubscription:TopicSubscription": TypeGrants(
        "sns/topic_subscription.go",
        # The subscription calls are authorised on the topic (an optional resource type in the
        # reference); the topic scope's trailing * covers the subscription ARNs too.
        (
            Grant(
                (
                    "sns:Subscribe",
                    "sns:GetTopicAttributes",
                    "sns:GetSubscriptionAttributes",
                    "sns:SetSubscriptionAttributes",
                    "sns:Unsubscribe",
                ),
                ("topic",),
            ),
        ),
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": TypeGrants(
        "cloudwatch/metric_alarm.go",
        (
            Grant(
                (
                    "cloudwatch:PutMetricAlarm",
                    # The provider reads each alarm back by name: authorised on the alarm.
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:ListTagsForResource",
                    *(f"cloudwatch:{a}" for a in _TAGS),
                ),
                ("alarm",),
            ),
        ),
    ),
    "aws:cloudwatch/dashboard:Dashboard": TypeGrants(
        "cloudwatch/dashboard.go",
        (Grant(("cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"), ("dashboard",)),),
    ),
}


class UncoveredTypeError(ValueError):
    """A plan registers a resource type the deploy policy has no actions for."""


def is_aws_type(resource_type: str) -> bool:
    """Types the deploy role acts on: AWS resources and the AWS provider (not components)."""
    return resource_type.startswith("aws:") or resource_type == "pulumi:providers:aws"


def uncovered_types(types: Iterable[str]) -> list[str]:
    """The AWS types among ``types`` that ``TYPE_GRANTS`` does not cover, sorted."""
    return sorted({t for t in types if is_aws_type(t) and t not in TYPE_GRANTS})


@dataclass(frozen=True)
class StackTarget:
    """Where one stack deploys: the values the patterns are filled with."""

    stack: str
    account_id: str
    region: str
    partition: str = "aws"

    @property
    def naming(self) -> Naming:
        return Naming(self.stack)

    def fill(self, template: str) -> str:
        return template.format(
            partition=self.partition,
            region=self.region,
            account=self.account_id,
            prefix=self.naming.prefix,
            project=catalog.PROJECT,
            stack=self.stack,
        )

    def scope(self, name: str) -> str:
        return self.fill(SCOPES[name].template())

    def condition(self, template: Mapping[str, Any]) -> dict[str, Any]:
        return {op: {key: self.fill(value) for key, value in values.items()} for op, values in template.items()}

    def role_arn(self, role: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.naming.role(role)}"

    @property
    def boundary_arn(self) -> str:
        return self.naming.permissions_boundary_arn(self.account_id, self.partition)


def _special_statements(target: StackTarget, types: set[str]) -> list[dict[str, Any]]:
    """The conditioned grants: role creation under the boundary, PassRole, key creation."""
    statements: list[dict[str, Any]] = []
    if "aws:iam/role:Role" in types:
        statements.append(
            {
                "Sid": "CreateRolesOnlyUnderTheBoundary",
                "Effect": "Allow",
                "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                "Resource": target.scope("role"),
                "Condition": {"StringEquals": {"iam:PermissionsBoundary": target.boundary_arn}},
            }
        )
    if "aws:lambda/function:Function" in types:
        statements.append(
            {
                "Sid": "PassFunctionRolesToLambda",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [target.role_arn(f.name) for f in catalog.FUNCTIONS],
                "Condition": {"StringEquals": {"iam:PassedToService": LAMBDA_SERVICE}},
            }
        )
    if "aws:scheduler/schedule:Schedule" in types:
        statements.append(
            {
                "Sid": "PassSchedulerRoleToScheduler",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": target.role_arn(SCHEDULER_ROLE),
                "Condition": {"StringEquals": {"iam:PassedToService": SCHEDULER_SERVICE}},
            }
        )
    return statements


# The logical role name Schedules gives its execution role (``Naming.role("scheduler")``).
SCHEDULER_ROLE = "scheduler"


def _sid(scope: str) -> str:
    return "".join(part.capitalize() for part in scope.split("-"))


def type_statements(target: StackTarget, types: Iterable[str]) -> list[dict[str, Any]]:
    """The deploy statements for these resource types, merged by scope (one statement per scope)."""
    wanted = set(types)
    missing = uncovered_types(wanted)
    if missing:
        raise UncoveredTypeError(
            f"no deploy permissions for {', '.join(missing)}: add the provider's calls to "
            "signal9/deploy_policy.py TYPE_GRANTS (and re-run the bootstrap)"
        )
    by_scope: dict[str, set[str]] = {}
    unscoped: set[str] = set()
    for resource_type in sorted(wanted & set(TYPE_GRANTS)):
        entry = TYPE_GRANTS[resource_type]
        for grant in entry.grants:
            for scope in grant.scopes:
                by_scope.setdefault(scope, set()).update(grant.actions)
        unscoped.update(entry.unscoped)
        # Every conditioned grant (CreateRole, PutRolePermissionsBoundary, PassRole) is on roles.
        for action in entry.conditioned:
            check_against_reference(action, "role")
    for scope, actions in by_scope.items():
        for action in actions:
            check_against_reference(action, scope)
    for action in unscoped:
        check_against_reference(action, None)
    statements: list[dict[str, Any]] = []
    for scope, actions in sorted(by_scope.items()):
        statement: dict[str, Any] = {
            "Sid": _sid(scope),
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": target.scope(scope),
        }
        if scope in SCOPE_CONDITIONS:
            statement["Condition"] = target.condition(SCOPE_CONDITIONS[scope])
        statements.append(statement)
    create_key = {"kms:CreateKey"} & unscoped
    if create_key:
        statements.append(
            {
                "Sid": "CreateKeysTaggedForTheStack",
                "Effect": "Allow",
                "Action": sorted(create_key),
                "Resource": "*",
                "Condition": target.condition(CREATE_KEY_CONDITION),
            }
        )
    if unscoped - create_key:
        statements.append(
            {
                "Sid": "ActionsWithoutResourceTypes",
                "Effect": "Allow",
                "Action": sorted(unscoped - create_key),
                "Resource": "*",
            }
        )
    return statements + _special_statements(target, wanted)


def deploy_policy_document(target: StackTarget, types: Iterable[str]) -> dict[str, Any]:
    """The deploy role's resource permissions for a plan with these resource types."""
    return {"Version": POLICY_VERSION, "Statement": type_statements(target, types)}


def all_actions() -> set[str]:
    """Every action the table can grant (for the static checks)."""
    actions = {a for entry in TYPE_GRANTS.values() for g in entry.grants for a in g.actions}
    actions |= {a for entry in TYPE_GRANTS.values() for a in (*entry.unscoped, *entry.conditioned)}
    return actions


def key_calls(types: Iterable[str], service_use: bool) -> tuple[str, ...]:
    """The calls a deploy of these resource types makes on a key it creates, authorised by that
    key's policy too: its lifecycle and alias calls, plus the services' uses when ``service_use``."""
    wanted = set(types)
    calls = {
        action
        for resource_type in ("aws:kms/key:Key", "aws:kms/alias:Alias")
        if resource_type in wanted
        for grant in TYPE_GRANTS[resource_type].grants
        if "kms-key" in grant.scopes
        for action in grant.actions
    }
    if not service_use:
        calls -= set(KEY_SERVICE_USE_ACTIONS)
    return tuple(sorted(calls))
