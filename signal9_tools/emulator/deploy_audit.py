"""Judge every AWS call ``signal9 local up`` makes while deploying against the stack's deploy policy.

The provisioner's boto3 clients get a botocore ``before-call`` hook: each operation becomes
its IAM action (``<prefix>:<Operation>``) on the ARN of the resource it names, and moto's IAM
policy evaluator (the one the smoke's role checks use) judges it against the deploy role's
policy that the bootstrap generates for this stack (``signal9.deploy_policy``). The calls
that carry a condition in the policy are judged with it: ``iam:CreateRole`` with the
boundary it passes (``iam:PermissionsBoundary``), ``kms:CreateKey`` with its tags, and the
implicit ``iam:PassRole`` of ``lambda:CreateFunction`` and ``scheduler:CreateSchedule``
with ``iam:PassedToService``. A call the policy does not allow is recorded with the action
and resource named (the emulator lets it through, so the deploy completes and every missing
action is reported at once) and fails the run.

Every call on a KMS key is also judged against that key's own policy for the deploy role
(``signal9_tools.policy_check.key_policy_refusal``, as ``signal9 preflight`` judges the plan): AWS
authorises a key by its policy first, and moto evaluates none. The audit keeps each key's policy
as the deploy creates or replaces it; ``CreateKey`` is judged as ``PutKeyPolicy`` on the new
policy (AWS's policy lockout safety check), every other call on the key it names.

What stands in for AWS: the judging is moto's evaluator over the policy document, not
AWS's request-time enforcement (moto enforces only ``Resource: "*"`` grants on requests).
moto's evaluator knows only ``StringEquals`` and treats a condition key the call does not
supply as met: the ``aws:ResourceTag`` conditions on existing keys are therefore proven by
tests/test_deploy_policy.py, not here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from moto.iam.access_control import IAMPolicy, PermissionResult

from signal9.bootstrap_policies import deploy_role_name
from signal9.boundary import boundary_document
from signal9.deploy_policy import LAMBDA_SERVICE, SCHEDULER_SERVICE, TYPE_GRANTS, StackTarget, deploy_policy_document
from signal9_tools.policy_check import KeyCaller, key_policy_refusal

# Calls that need no permission (every identity may ask who it is).
UNAUTHORISED_CALLS = frozenset({"sts:GetCallerIdentity"})

Params = Mapping[str, Any]


def _name_arn(target: StackTarget, service: str, resource: str) -> str:
    return f"arn:{target.partition}:{service}:{target.region}:{target.account_id}:{resource}"


def _queue_arn(target: StackTarget, params: Params) -> str:
    name = params.get("QueueName") or urlparse(str(params.get("QueueUrl"))).path.rsplit("/", 1)[-1]
    return _name_arn(target, "sqs", name)


def _key_arn(target: StackTarget, params: Params) -> str:
    key = str(params.get("KeyId") or params.get("TargetKeyId") or "*")
    return key if key.startswith("arn:") else _name_arn(target, "kms", f"key/{key}")


def _secret_arn(target: StackTarget, params: Params) -> str:
    secret = str(params.get("SecretId") or params.get("Name"))
    return secret if secret.startswith("arn:") else _name_arn(target, "secretsmanager", f"secret:{secret}-XXXXXX")


def _function_arn(target: StackTarget, params: Params) -> str:
    function = str(params["FunctionName"])
    return function if function.startswith("arn:") else _name_arn(target, "lambda", f"function:{function}")


def _rule_arn(target: StackTarget, params: Params) -> str:
    bus = str(params.get("EventBusName") or "default").rsplit("/", 1)[-1]
    return _name_arn(target, "events", f"rule/{bus}/{params.get('Rule') or params.get('Name')}")


# The resource each (service, operation) acts on, as an ARN.
RESOURCES: dict[str, Callable[[StackTarget, Params], str]] = {
    "dynamodb": lambda t, p: _name_arn(t, "dynamodb", f"table/{p['TableName']}"),
    "iam": lambda t, p: f"arn:{t.partition}:iam::{t.account_id}:role/{p['RoleName']}",
    "sqs": _queue_arn,
    "logs": lambda t, p: _name_arn(
        t, "logs", f"log-group:{p.get('logGroupName') or p.get('logGroupNamePrefix') or '*'}"
    ),
    "lambda": _function_arn,
    "kms": _key_arn,
    "secretsmanager": _secret_arn,
    "sns": lambda t, p: str(p.get("TopicArn") or _name_arn(t, "sns", str(p.get("Name")))),
}


def _resource(service: str, template: str) -> Callable[[StackTarget, Params], str]:
    """The ARN of ``service`` whose resource part is ``template`` filled with the call's parameters."""
    return lambda t, p: _name_arn(t, service, template.format_map({"EventBusName": "default", **p}))


_BUS = _resource("events", "event-bus/{Name}")
_BUS_OF_CALL = _resource("events", "event-bus/{EventBusName}")
_ARCHIVE = _resource("events", "archive/{ArchiveName}")
_SCHEDULE = _resource("scheduler", "schedule/{GroupName}/{Name}")
_SCHEDULE_GROUP = _resource("scheduler", "schedule-group/{Name}")
_ALIAS = _resource("kms", "{AliasName}")
OPERATION_RESOURCES: dict[str, Callable[[StackTarget, Params], str]] = {
    "events:CreateEventBus": _BUS,
    "events:CreateArchive": _ARCHIVE,
    "events:PutPermission": _BUS_OF_CALL,
    "events:PutRule": _rule_arn,
    "events:PutTargets": _rule_arn,
    "scheduler:CreateScheduleGroup": _SCHEDULE_GROUP,
    "scheduler:CreateSchedule": _SCHEDULE,
    # The reads of `signal9 verify` and `signal9 status` (tests/test_verify.py judges them with this table).
    "scheduler:GetSchedule": _SCHEDULE,
    "events:DescribeRule": _rule_arn,
    "events:ListTargetsByRule": _rule_arn,
    "events:DescribeEventBus": _BUS,
    "events:DescribeArchive": _ARCHIVE,
    # What `signal9 local down` calls, as the provider deletes each type.
    "scheduler:DeleteSchedule": _SCHEDULE,
    "scheduler:DeleteScheduleGroup": _SCHEDULE_GROUP,
    "events:DeleteRule": _rule_arn,
    "events:RemoveTargets": _rule_arn,
    "events:DeleteEventBus": _BUS,
    "events:DeleteArchive": _ARCHIVE,
    "events:RemovePermission": _BUS_OF_CALL,
    "cloudwatch:DeleteAlarms": lambda t, p: _name_arn(t, "cloudwatch", f"alarm:{p['AlarmNames'][0]}"),
    "cloudwatch:DeleteDashboards": lambda t, p: (
        f"arn:{t.partition}:cloudwatch::{t.account_id}:dashboard/{p['DashboardNames'][0]}"
    ),
    "kms:DeleteAlias": _ALIAS,
    "sns:Unsubscribe": lambda t, p: str(p["SubscriptionArn"]),
    "kms:CreateAlias": _ALIAS,
    "kms:CreateKey": lambda t, p: "*",
    "cloudwatch:PutMetricAlarm": lambda t, p: _name_arn(t, "cloudwatch", f"alarm:{p['AlarmName']}"),
    # Authorised on each alarm it names (the provider reads one alarm back by name), or on the
    # alarms a prefix selects (`signal9 status`, `signal9 verify`).
    "cloudwatch:DescribeAlarms": lambda t, p: _name_arn(
        t, "cloudwatch", f"alarm:{p['AlarmNames'][0]}" if p.get("AlarmNames") else f"alarm:{p['AlarmNamePrefix']}*"
    ),
    "cloudwatch:GetMetricData": lambda t, p: "*",
    "cloudwatch:PutDashboard": lambda t, p: (
        f"arn:{t.partition}:cloudwatch::{t.account_id}:dashboard/{p['DashboardName']}"
    ),
    "cloudwatch:GetDashboard": lambda t, p: (
        f"arn:{t.partition}:cloudwatch::{t.account_id}:dashboard/{p['DashboardName']}"
    ),
    "logs:DescribeLogGroups": lambda t, p: "*",
    "lambda:PublishLayerVersion": lambda t, p: _name_arn(t, "lambda", f"layer:{p['LayerName']}"),
    "lambda:DeleteLayerVersion": lambda t, p: _name_arn(t, "lambda", f"layer:{p['LayerName']}:{p['VersionNumber']}"),
}


@dataclass(frozen=True)
class Call:
    action: str
    resource: str
    conditions: dict[str, str] = field(default_factory=dict)


# API operations whose IAM action has another name.
ACTION_NAMES = {"lambda:Invoke": "lambda:InvokeFunction"}


def calls_of(target: StackTarget, service: str, operation: str, params: Params) -> list[Call]:
    """The IAM authorisations one API call needs (itself, plus an implicit PassRole)."""
    action = ACTION_NAMES.get(f"{service}:{operation}", f"{service}:{operation}")
    resolve = OPERATION_RESOURCES.get(action) or RESOURCES.get(service)
    if resolve is None:
        raise KeyError(f"{action}: the deploy audit cannot name its resource; add it to deploy_audit.py")
    conditions: dict[str, str] = {}
    if action == "iam:CreateRole":
        conditions["iam:PermissionsBoundary"] = str(params.get("PermissionsBoundary", ""))
    if action == "kms:CreateKey":
        # The real provider merges its default tags (Project, Environment, ManagedBy) into the
        # request; the emulator's creators send only the resource's own tags.
        tags = {**target.naming.common_tags(), **{t["TagKey"]: t["TagValue"] for t in params.get("Tags", [])}}
        conditions.update({f"aws:RequestTag/{key}": value for key, value in tags.items()})
    calls = [Call(action, resolve(target, params), conditions)]
    if action == "lambda:CreateFunction":
        calls.append(Call("iam:PassRole", str(params["Role"]), {"iam:PassedToService": LAMBDA_SERVICE}))
        # Lambda reads each layer version a function lists, as the caller (Lambda's layers guide).
        calls += [Call("lambda:GetLayerVersion", str(layer)) for layer in params.get("Layers", [])]
    if action == "scheduler:CreateSchedule":
        role = str(params["Target"]["RoleArn"])
        calls.append(Call("iam:PassRole", role, {"iam:PassedToService": SCHEDULER_SERVICE}))
    return calls


def _key_id(key: str) -> str:
    """A key id from a key id or key ARN."""
    return key.rsplit("/", 1)[-1]


@dataclass
class DeployAudit:
    """The deploy policy of one stack, and every call judged against it (calls on keys also
    against the key's own policy)."""

    target: StackTarget
    document: dict[str, Any]
    judged: list[Call] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    # Key id -> its policy as the deploy set it; the calls judged against one, and those refused.
    key_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    key_calls: list[str] = field(default_factory=list)
    key_refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._statements = [
            IAMPolicy(json.dumps({"Version": self.document["Version"], "Statement": [statement]}))
            for statement in self.document["Statement"]
            if statement["Effect"] == "Allow"
        ]

    @classmethod
    def for_stack(cls, stack: str, account_id: str, region: str) -> DeployAudit:
        target = StackTarget(stack, account_id, region)
        return cls(target, deploy_policy_document(target, TYPE_GRANTS))

    @property
    def caller(self) -> KeyCaller:
        role = deploy_role_name(self.target.stack)
        arn = f"arn:{self.target.partition}:iam::{self.target.account_id}:role/{role}"
        return KeyCaller(f"the deploy role {role}", self.target.account_id, arn)

    def judge_key_call(self, operation: str, params: Params) -> None:
        """A call on a key, against that key's own policy (CreateKey: the lockout check on the new one)."""
        if operation == "CreateKey":
            action, key, policy = "kms:PutKeyPolicy", "the new key", json.loads(str(params.get("Policy") or "{}"))
        else:
            named = params.get("KeyId") or params.get("TargetKeyId")
            if not named:
                return  # a call on no key (ListAliases): the deploy policy alone decides
            action, key = f"kms:{operation}", _key_id(str(named))
            if key not in self.key_policies:
                return  # a key this deploy did not create: nothing to judge it against
            policy = self.key_policies[key]
        self.key_calls.append(action)
        why = key_policy_refusal(policy, self.caller, action)
        if why is not None:
            self.key_refused.append(f"{action} on {key}: {why}")
        if operation == "PutKeyPolicy":
            self.key_policies[key] = json.loads(str(params["Policy"]))

    def key_created(self, params: Params, parsed: Mapping[str, Any]) -> None:
        """Remember a created key's policy under the id AWS gave it."""
        self.key_policies[str(parsed["KeyMetadata"]["KeyId"])] = json.loads(str(params.get("Policy") or "{}"))

    def permitted(self, call: Call) -> bool:
        """Allowed by some statement. Judged one statement at a time: moto turns an unmet
        condition into a Deny even when the statement's resources do not match the call."""
        return any(
            statement.is_action_permitted(call.action, call.resource, incoming_condition_values=call.conditions or None)
            == PermissionResult.PERMITTED
            for statement in self._statements
        )

    def judge(self, service: str, operation: str, params: Params) -> None:
        action = f"{service}:{operation}"
        if action in UNAUTHORISED_CALLS:
            return
        try:
            calls = calls_of(self.target, service, operation, params)
        except KeyError as unknown:
            self.denied.append(str(unknown.args[0]))
            return
        for call in calls:
            self.judged.append(call)
            if not self.permitted(call):
                condition = f" with {call.conditions}" if call.conditions else ""
                self.denied.append(f"{call.action} on {call.resource}{condition}")
        if service == "kms":
            self.judge_key_call(operation, params)

    def watch(self, client: Any, service: str) -> Any:
        """Hook ``client`` so each call is judged before it is sent (boto3 service names are IAM prefixes)."""

        created: list[Mapping[str, Any]] = []

        def before_parameter_build(params: Mapping[str, Any], model: Any, **_: Any) -> None:
            self.judge(service, model.name, params)
            if model.name == "CreateKey":
                created.append(params)

        def after_create_key(parsed: Mapping[str, Any], **_: Any) -> None:
            if created and "KeyMetadata" in parsed:
                self.key_created(created.pop(), parsed)

        # unique_id: the provisioner reuses one client per service, so it is hooked once.
        client.meta.events.register(
            "before-parameter-build.*.*", before_parameter_build, unique_id="signal9-deploy-audit"
        )
        client.meta.events.register("after-call.kms.CreateKey", after_create_key, unique_id="signal9-key-audit")
        return client

    @property
    def passed(self) -> bool:
        """Every call allowed, and calls were judged at all (a hook that never fired proves nothing)."""
        return bool(self.judged) and not self.denied and not self.key_refused

    def summary(self) -> str:
        if not self.judged:
            return "no deploy call was judged: the provisioner's clients were not watched"
        refusals = []
        if self.denied:
            refusals.append(
                f"the generated {self.target.stack} deploy policy does not allow: " + "; ".join(self.denied)
            )
        if self.key_refused:
            refusals.append(f"the key policies refuse {self.caller.name}: " + "; ".join(self.key_refused))
        if refusals:
            return " | ".join(refusals)
        actions = {c.action for c in self.judged}
        return (
            f"{len(self.judged)} deploy calls ({len(actions)} distinct actions) allowed by the generated "
            f"{self.target.stack} deploy policy (moto's IAM evaluator, conditions included); the "
            f"{len(self.key_calls)} on keys ({', '.join(sorted(set(self.key_calls)))}) also by the key's own "
            "policy (signal9's key-policy check: moto evaluates none)"
        )


def install_boundary(iam_client: Any, target: StackTarget) -> str:
    """What the bootstrap does before the first deploy: create the stack's permissions boundary."""
    arn = iam_client.create_policy(
        PolicyName=target.naming.permissions_boundary, PolicyDocument=json.dumps(boundary_document(target))
    )["Policy"]["Arn"]
    return str(arn)
