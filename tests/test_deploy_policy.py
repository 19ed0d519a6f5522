"""The deploy role's generated policy: covers every type of every plan, and nothing more than it must."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from signal9 import catalog, deploy_policy, iam
from signal9.boundary import boundary_document
from signal9.deploy_policy import TYPE_GRANTS, UNSCOPABLE, StackTarget, deploy_policy_document
from signal9.naming import Naming
from signal9.policy_rules import evaluate
from signal9_tools.emulator.deploy_audit import Call, DeployAudit
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun

REGION = "us-east-1"


def target(stack: str = "dev") -> StackTarget:
    return StackTarget(stack, ACCOUNT_ID, REGION)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_type_of_every_stack_plan_is_covered(plans: dict[str, ProgramRun]) -> None:
    for stack, plan in plans.items():
        types = {r.type for r in plan.resources}
        assert deploy_policy.uncovered_types(types) == [], stack
        document = deploy_policy_document(target(stack), types)
        granted = {a for s in statements(document) for a in as_list(s["Action"])}
        for resource_type in types & set(TYPE_GRANTS):
            entry = TYPE_GRANTS[resource_type]
            own = {a for g in entry.grants for a in g.actions} | set(entry.unscoped) | set(entry.conditioned)
            assert own <= granted, (stack, resource_type, own - granted)


def test_a_type_missing_from_the_table_is_refused_and_fails_the_policy_rule(dev: ProgramRun) -> None:
    with pytest.raises(deploy_policy.UncoveredTypeError, match=r"aws:s3/bucket:Bucket"):
        deploy_policy_document(target(), ["aws:s3/bucket:Bucket"])
    resources = [*dev.to_json()["resources"], {"type": "aws:s3/bucket:Bucket", "name": "extra", "inputs": {}}]
    violations = [v for v in evaluate(resources) if v.rule == "deploy-policy-covers-types"]
    assert [(v.resource, "aws:s3/bucket:Bucket" in v.message) for v in violations] == [("extra", True)]
    assert not [v for v in evaluate(dev.to_json()["resources"]) if v.rule == "deploy-policy-covers-types"]


def test_each_type_can_be_created_read_and_deleted() -> None:
    """The provider creates, reads (refresh) and deletes every type: each verb needs an action."""
    verbs = {
        "create": ("Create", "Put", "Add", "Subscribe", "Publish"),
        "read": ("Get", "Describe", "List"),
        "delete": ("Delete", "Remove", "Unsubscribe", "Detach", "Schedule"),
    }
    # The provider "deletes" these by clearing the setting or moving the version label.
    by_update = {
        "aws:sqs/queuePolicy:QueuePolicy": "SetQueueAttributes",
        "aws:sns/topicPolicy:TopicPolicy": "SetTopicAttributes",
        "aws:secretsmanager/secretVersion:SecretVersion": "UpdateSecretVersionStage",
    }
    for resource_type, entry in TYPE_GRANTS.items():
        if resource_type == "pulumi:providers:aws":
            continue
        actions = [a.split(":", 1)[1] for g in entry.grants for a in g.actions] + [
            a.split(":", 1)[1] for a in (*entry.unscoped, *entry.conditioned)
        ]
        for verb, prefixes in verbs.items():
            if resource_type.endswith("Exclusive") and verb == "create":
                continue  # the exclusive resources only list and remove
            if verb != "read" and resource_type in by_update:
                prefixes = (*prefixes, by_update[resource_type])
            assert any(a.startswith(prefixes) for a in actions), (resource_type, verb)


# Calls the provider makes after a write or on refresh that the emulator never makes
# (hashicorp/terraform-provider-aws internal/service/<svc>/<file>.go): the table must hold them.
PROVIDER_ONLY_CALLS = {
    "aws:dynamodb/table:Table": {
        "dynamodb:DescribeTable",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:ListTagsOfResource",
    },
    "aws:lambda/function:Function": {
        "lambda:GetFunction",
        "lambda:ListVersionsByFunction",
        "lambda:GetFunctionCodeSigningConfig",
    },
    "aws:secretsmanager/secret:Secret": {"secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"},
    "aws:sqs/queue:Queue": {"sqs:ListQueueTags"},
    "aws:iam/role:Role": {
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
    },
    "aws:kms/key:Key": {"kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"},
    "aws:scheduler/schedule:Schedule": {"scheduler:GetSchedule"},
    "aws:cloudwatch/eventRule:EventRule": {"events:DescribeRule", "events:ListTagsForResource"},
}


def test_provider_reads_the_emulator_never_makes_are_granted() -> None:
    for resource_type, calls in PROVIDER_ONLY_CALLS.items():
        entry = TYPE_GRANTS[resource_type]
        own = {a for g in entry.grants for a in g.actions} | set(entry.unscoped)
        assert calls <= own, (resource_type, calls - own)


def all_documents() -> list[dict[str, Any]]:
    from components.deploy_identities import deploy_statements, preview_statements

    return [{"Statement": deploy_statements(target(s), "bucket", s)} for s in catalog.STACKS] + [
        {"Statement": preview_statements(ACCOUNT_ID, [REGION], "bucket")},
        boundary_document(target()),
    ]


def test_no_wildcard_action_and_star_only_for_unscopable_actions() -> None:
    for document in all_documents():
        for statement in statements(document):
            assert statement["Effect"] == "Allow" and "NotAction" not in statement
            for action in as_list(statement["Action"]):
                assert "*" not in action and "?" not in action, action
            if "*" in as_list(statement["Resource"]):
                assert set(as_list(statement["Action"])) <= set(UNSCOPABLE), statement["Sid"]
    assert all(reason for reason in UNSCOPABLE.values())


def granted_on(document: dict[str, Any], action: str) -> set[str]:
    return {r for s in statements(document) if action in as_list(s["Action"]) for r in as_list(s["Resource"])}


def test_the_bus_policy_calls_are_granted_on_star_as_they_have_no_resource_type() -> None:
    """events:PutPermission/RemovePermission on the bus ARN match no request: pulumi up was denied."""
    document = deploy_policy_document(target(), TYPE_GRANTS)
    for action in ("events:PutPermission", "events:RemovePermission"):
        assert granted_on(document, action) == {"*"}, action


def test_alarm_and_subscription_calls_are_scoped_to_the_stack() -> None:
    """DescribeAlarms is authorised on alarms, the subscription calls on the topic: never "*"."""
    alarms = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:signal9-dev-*"
    topics = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:signal9-dev-*"
    document = deploy_policy_document(target(), TYPE_GRANTS)
    assert granted_on(document, "cloudwatch:DescribeAlarms") == {alarms}
    for action in ("sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"):
        assert granted_on(document, action) == {topics}, action
    from components.deploy_identities import preview_statements

    preview = {"Statement": preview_statements(ACCOUNT_ID, [REGION], "bucket")}
    assert granted_on(preview, "cloudwatch:DescribeAlarms") == {
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:signal9-*-*"
    }


def test_pass_role_only_for_the_stack_roles_to_their_services() -> None:
    document = deploy_policy_document(target(), TYPE_GRANTS)
    passes = [s for s in statements(document) if "iam:PassRole" in as_list(s["Action"])]
    naming = Naming("dev")
    expected = {
        "lambda.amazonaws.com": {f"arn:aws:iam::{ACCOUNT_ID}:role/{naming.role(f.name)}" for f in catalog.FUNCTIONS},
        "scheduler.amazonaws.com": {f"arn:aws:iam::{ACCOUNT_ID}:role/{naming.role('scheduler')}"},
    }
    assert {
        s["Condition"]["StringEquals"]["iam:PassedToService"]: set(as_list(s["Resource"])) for s in passes
    } == expected
    assert all(as_list(s["Action"]) == ["iam:PassRole"] for s in passes)


def test_roles_are_created_only_under_the_boundary_which_cannot_be_removed() -> None:
    audit = DeployAudit.for_stack("dev", ACCOUNT_ID, REGION)
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/signal9-dev-SyncAssets"
    boundary = Naming("dev").permissions_boundary_arn(ACCOUNT_ID)
    assert audit.permitted(Call("iam:CreateRole", role, {"iam:PermissionsBoundary": boundary}))
    assert not audit.permitted(
        Call("iam:CreateRole", role, {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"})
    )
    granted = deploy_policy.all_actions()
    for forbidden in (
        "iam:DeleteRolePermissionsBoundary",
        "iam:CreatePolicyVersion",
        "iam:AttachRolePolicy",
        "iam:CreatePolicy",
    ):
        assert forbidden not in granted


def test_keys_are_created_only_with_the_stack_tags() -> None:
    audit = DeployAudit.for_stack("dev", ACCOUNT_ID, REGION)
    audit.judge("kms", "CreateKey", {"Tags": [{"TagKey": "Component", "TagValue": "observability"}]})
    assert audit.denied == []
    audit.judge("kms", "CreateKey", {"Tags": [{"TagKey": "Environment", "TagValue": "prod"}]})
    assert audit.denied == [
        "kms:CreateKey on * with "
        + str(
            {
                "aws:RequestTag/Project": "signal9",
                "aws:RequestTag/Environment": "prod",
                "aws:RequestTag/ManagedBy": "pulumi",
            }
        )
    ]
    key_statements = [
        s
        for s in statements(deploy_policy_document(target(), TYPE_GRANTS))
        if "kms:DescribeKey" in as_list(s["Action"])
    ]
    assert [s["Condition"] for s in key_statements] == [
        {"StringLike": {"aws:ResourceTag/Project": "signal9", "aws:ResourceTag/Environment": "dev"}}
    ]


def test_the_policy_is_scoped_to_the_stack_names() -> None:
    audit = DeployAudit.for_stack("dev", ACCOUNT_ID, REGION)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/signal9-"
    assert audit.permitted(Call("dynamodb:CreateTable", table + "dev-assets"))
    assert not audit.permitted(Call("dynamodb:CreateTable", table + "prod-assets"))
    assert not audit.permitted(Call("dynamodb:Scan", table + "dev-assets"))
    lambda_role = f"arn:aws:iam::{ACCOUNT_ID}:role/signal9-dev-SyncAssets"
    assert not audit.permitted(Call("iam:PassRole", lambda_role, {"iam:PassedToService": "ec2.amazonaws.com"}))
    audit.judge("dynamodb", "DeleteTable", {"TableName": "signal9-prod-assets"})
    assert audit.denied == [f"dynamodb:DeleteTable on {table}prod-assets"]


def permitted(policy: dict[str, Any], action: str, resource: str) -> bool:
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource) == PermissionResult.PERMITTED


def test_every_role_policy_of_every_plan_is_within_the_boundary(plans: dict[str, ProgramRun]) -> None:
    """A later grant the boundary does not derive (a new resource kind) fails here, by name."""
    for stack, plan in plans.items():
        boundary = boundary_document(StackTarget(stack, ACCOUNT_ID, plan.region))
        policies = plan.of_type("aws:iam/rolePolicy:RolePolicy")
        assert policies
        for resource in policies:
            for action, arn in iam.grants(json.loads(resource.plain_inputs["policy"])):
                assert permitted(boundary, action, arn), (stack, resource.name, action, arn)


def test_every_role_the_program_makes_carries_the_boundary(plans: dict[str, ProgramRun]) -> None:
    for stack, plan in plans.items():
        roles = plan.of_type("aws:iam/role:Role")
        assert len(roles) == len(catalog.FUNCTIONS) + 1
        expected = Naming(stack).permissions_boundary_arn(ACCOUNT_ID)
        assert {r.inputs.get("permissionsBoundary") for r in roles} == {expected}, stack
