"""Policy rules: each fails on a crafted violation, passes on a compliant plan and on every stack."""

from __future__ import annotations

import copy
import importlib
import inspect
import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from signal9 import policy_rules
from signal9.policy_rules import RULES, UNKNOWN, Violation, evaluate
from signal9_tools import check, cli
from signal9_tools.mockrun import ProgramRun
from tests.fixtures import reuse_planned_runs

Plan = list[dict[str, Any]]
ARN = "arn:aws:{}:us-east-1:123456789012:{}"


def policy(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def tls_only(action: str, resource: str) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def compliant_plan(stack: str = "prod") -> Plan:
    """One compliant resource of each kind a rule looks at."""

    def res(typ: str, logical: str, **inputs: Any) -> dict[str, Any]:
        return {"type": typ, "name": logical, "parent": None, "inputs": inputs}

    tags = {"Component": "test"}
    dlq = ARN.format("sqs", "signal9-prod-SyncAssets-dlq")
    key = ARN.format("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
    role = "arn:aws:iam::123456789012:role/signal9-prod-PollenateAsset"
    bus = ARN.format("events", "event-bus/signal9-prod")
    topic = ARN.format("sns", "signal9-prod-alarms")
    return [
        res(
            "pulumi:providers:aws",
            "aws",
            defaultTags=json.dumps({"tags": {"Project": "signal9", "Environment": stack, "ManagedBy": "pulumi"}}),
        ),
        res(
            "aws:dynamodb/table:Table",
            "assets-table",
            name="signal9-prod-assets",
            billingMode="PAY_PER_REQUEST",
            pointInTimeRecovery={"enabled": True},
            deletionProtectionEnabled=True,
            serverSideEncryption={"enabled": True, "kmsKeyArn": key},
            tags=tags,
        ),
        res(
            "aws:cloudwatch/logGroup:LogGroup",
            "SyncAssets-log-group",
            name="/aws/lambda/signal9-prod-SyncAssets",
            retentionInDays=90.0,
            kmsKeyId=key,
            tags=tags,
        ),
        res(
            "aws:lambda/function:Function",
            "SyncAssets-function",
            name="signal9-prod-SyncAssets",
            deadLetterConfig={"targetArn": dlq},
            runtime="python3.13",
            tracingConfig={"mode": "Active"},
            kmsKeyArn=key,
            loggingConfig={"logFormat": "JSON", "logGroup": "/aws/lambda/signal9-prod-SyncAssets"},
            environment={
                "variables": {"ALPACA_SECRET_ARN": ARN.format("secretsmanager", "secret:signal9/prod/alpaca")}
            },
            tags=tags,
        ),
        res(
            "aws:iam/role:Role",
            "SyncAssets-role",
            assumeRolePolicy=policy(
                [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
            ),
            tags=tags,
        ),
        res(
            "aws:iam/rolePolicy:RolePolicy",
            "SyncAssets-policy",
            policy=policy(
                [
                    {
                        "Sid": "Reads",
                        "Effect": "Allow",
                        "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                        "Resource": [ARN.format("dynamodb", "table/signal9-prod-assets")],
                    }
                ]
            ),
        ),
        res(
            "aws:scheduler/schedule:Schedule",
            "sync-assets-schedule",
            scheduleExpression="cron(30 5 ? * MON-SAT *)",
            scheduleExpressionTimezone="America/New_York",
            kmsKeyArn=key,
            target={"arn": "fn", "deadLetterConfig": {"arn": dlq}, "retryPolicy": {"maximumRetryAttempts": 2.0}},
        ),
        res(
            "aws:cloudwatch/eventTarget:EventTarget",
            "pollenationNeeded-target",
            arn="fn",
            deadLetterConfig={"arn": dlq},
            retryPolicy={"maximumRetryAttempts": 3.0},
        ),
        res("aws:secretsmanager/secretVersion:SecretVersion", "alpaca-secret-version", secretString="[secret]"),
        res(
            "aws:sqs/queuePolicy:QueuePolicy",
            "PollenateAsset-dlq-policy",
            queueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/signal9-prod-SyncAssets-dlq",
            policy=policy(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": dlq,
                        "Condition": {"ArnEquals": {"aws:SourceArn": ARN.format("events", "rule/signal9-prod/r")}},
                    },
                    tls_only("sqs:*", dlq),
                ]
            ),
        ),
        res(
            "aws:sns/topicPolicy:TopicPolicy",
            "alarms-topic-policy",
            arn=topic,
            policy=policy(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": topic,
                        "Condition": {"ArnLike": {"aws:SourceArn": ARN.format("cloudwatch", "alarm:signal9-prod-*")}},
                    },
                    tls_only("sns:Publish", topic),
                ]
            ),
        ),
        res(
            "aws:lambda/permission:Permission",
            "pollenationNeeded-invoke-permission",
            function="signal9-prod-PollenateAsset",
            principal="events.amazonaws.com",
            action="lambda:InvokeFunction",
            sourceArn=ARN.format("events", "rule/signal9-prod/r"),
        ),
        res("aws:sqs/queue:Queue", "SyncAssets-dlq", name="signal9-prod-SyncAssets-dlq", kmsMasterKeyId=key, tags=tags),
        res("aws:sns/topic:Topic", "alarms-topic", name="signal9-prod-alarms", kmsMasterKeyId=key, tags=tags),
        res("aws:secretsmanager/secret:Secret", "alpaca-secret", name="signal9/prod/alpaca", kmsKeyId=key, tags=tags),
        res(
            "aws:kms/key:Key",
            "stack-key",
            enableKeyRotation=True,
            deletionWindowInDays=30.0,
            policy=policy(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ]
            ),
            tags=tags,
        ),
        res("aws:cloudwatch/eventBus:EventBus", "signal9-event-bus", name="signal9-prod", tags=tags),
        res(
            "aws:cloudwatch/eventBusPolicy:EventBusPolicy",
            "event-bus-policy",
            eventBusName="signal9-prod",
            policy=policy(
                [
                    {"Effect": "Allow", "Principal": {"AWS": [role]}, "Action": "events:PutEvents", "Resource": bus},
                    {"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents", "Resource": bus},
                ]
            ),
        ),
        res(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "errors-alarm",
            name="signal9-prod-errors",
            alarmActions=[ARN.format("sns", "signal9-prod-alarms")],
            tags=tags,
        ),
    ]


def named(plan: Plan, name: str) -> dict[str, Any]:
    return next(r for r in plan if r["name"] == name)


def inputs(plan: Plan, name: str) -> dict[str, Any]:
    result: dict[str, Any] = named(plan, name)["inputs"]
    return result


def set_policy(plan: Plan, statement: dict[str, Any], resource: str = "SyncAssets-policy") -> None:
    inputs(plan, resource)["policy"] = policy([statement])


# (rule, how to break the compliant plan, a phrase the violation must contain)
VIOLATIONS: list[tuple[str, Callable[[Plan], Any], str]] = [
    ("table-on-demand-pitr", lambda p: inputs(p, "assets-table").update(billingMode="PROVISIONED"), "PAY_PER_REQUEST"),
    (
        "table-on-demand-pitr",
        lambda p: inputs(p, "assets-table").update(pointInTimeRecovery={"enabled": False}),
        "pointInTimeRecovery",
    ),
    (
        "table-deletion-protection",
        lambda p: inputs(p, "assets-table").update(deletionProtectionEnabled=False),
        "deletionProtectionEnabled",
    ),
    ("function-dead-letter-queue", lambda p: inputs(p, "SyncAssets-function").pop("deadLetterConfig"), "targetArn"),
    ("function-log-group", lambda p: p.remove(named(p, "SyncAssets-log-group")), "does not manage"),
    (
        "function-log-group",
        lambda p: inputs(p, "SyncAssets-function").update(loggingConfig={"logGroup": "/custom/elsewhere"}),
        "/custom/elsewhere",
    ),
    ("log-group-retention", lambda p: inputs(p, "SyncAssets-log-group").pop("retentionInDays"), "retentionInDays"),
    (
        "async-target-dead-letter-queue",
        lambda p: inputs(p, "sync-assets-schedule")["target"].pop("deadLetterConfig"),
        "deadLetterConfig",
    ),
    (
        "async-target-dead-letter-queue",
        lambda p: inputs(p, "pollenationNeeded-target").pop("retryPolicy"),
        "retryPolicy",
    ),
    (
        "iam-no-wildcards",
        lambda p: set_policy(
            p, {"Effect": "Allow", "Action": "dynamodb:*", "Resource": ARN.format("dynamodb", "table/x")}
        ),
        "wildcard action 'dynamodb:*'",
    ),
    (
        "iam-no-wildcards",
        lambda p: set_policy(p, {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}),
        'Resource "*"',
    ),
    (
        "iam-no-wildcards",
        lambda p: set_policy(p, {"Effect": "Allow", "NotAction": "iam:*", "Resource": ARN.format("s3", "x")}),
        "NotAction",
    ),
    (
        "iam-no-wildcards",
        lambda p: inputs(p, "SyncAssets-role").update(
            assumeRolePolicy=policy([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}])
        ),
        "any principal",
    ),
    (
        "iam-no-aws-managed-policies",
        lambda p: inputs(p, "SyncAssets-role").update(
            managedPolicyArns=["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
        ),
        "AWS managed policy",
    ),
    (
        "iam-no-aws-managed-policies",
        # On the role itself: a RolePolicyAttachment would also be a type the deploy policy lacks.
        lambda p: inputs(p, "SyncAssets-role").update(
            managedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"]
        ),
        "AdministratorAccess",
    ),
    (
        "deploy-policy-covers-types",
        lambda p: p.append({"type": "aws:s3/bucket:Bucket", "name": "extra-bucket", "parent": None, "inputs": {}}),
        "TYPE_GRANTS",
    ),
    (
        "iam-no-aws-managed-policies",
        lambda p: p.append(
            {
                "type": "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                "name": "SyncAssets-managed-policies",
                "parent": None,
                "inputs": {"roleName": "r", "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
            }
        ),
        "ReadOnlyAccess",
    ),
    (
        "no-plaintext-credentials",
        lambda p: inputs(p, "alpaca-secret-version").update(secretString='{"keyId": "AKIA"}'),
        "plaintext",
    ),
    (
        "no-plaintext-credentials",
        lambda p: inputs(p, "SyncAssets-function")["environment"]["variables"].update(ALPHAVANTAGE_API_KEY="abc123"),
        "ALPHAVANTAGE_API_KEY",
    ),
    (
        "resource-policies-scoped",
        lambda p: inputs(p, "PollenateAsset-dlq-policy").update(
            policy=policy(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": "q",
                    },
                    tls_only("sqs:*", "q"),
                ]
            )
        ),
        "without an aws:SourceArn",
    ),
    (
        "resource-policies-scoped",
        lambda p: inputs(p, "PollenateAsset-dlq-policy").update(
            policy=policy(
                [
                    {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "q"},
                    tls_only("sqs:*", "q"),
                ]
            )
        ),
        "grants any principal",
    ),
    (
        "resource-policies-scoped",
        lambda p: inputs(p, "pollenationNeeded-invoke-permission").pop("sourceArn"),
        "set sourceArn",
    ),
    ("required-tags", lambda p: inputs(p, "assets-table").pop("tags"), "Component"),
    (
        "required-tags",
        lambda p: inputs(p, "aws").update(defaultTags=json.dumps({"tags": {"Project": "signal9"}})),
        "Environment, ManagedBy",
    ),
    ("required-tags", lambda p: p.remove(named(p, "aws")), "Project, Environment, ManagedBy"),
    (
        "schedules-skip-sunday",
        lambda p: inputs(p, "sync-assets-schedule").update(scheduleExpression="cron(0 6 ? * SAT-MON *)"),
        "Sunday",
    ),
    (
        "schedules-skip-sunday",
        lambda p: inputs(p, "sync-assets-schedule").update(scheduleExpression="rate(1 hour)"),
        "rate",
    ),
    (
        "schedules-skip-sunday",
        lambda p: inputs(p, "sync-assets-schedule").update(scheduleExpressionTimezone="UTC"),
        "UTC",
    ),
    (
        "schedules-skip-sunday",
        lambda p: p.append(
            {
                "type": "aws:cloudwatch/eventRule:EventRule",
                "name": "nightly-rule",
                "parent": None,
                "inputs": {"scheduleExpression": "cron(0 6 ? * MON-SAT *)", "tags": {"Component": "x"}},
            }
        ),
        "UTC",
    ),
    # FSBP
    (
        "encryption-at-rest",
        lambda p: inputs(p, "assets-table").update(serverSideEncryption={"enabled": False}),
        "customer managed key on this stack",
    ),
    ("encryption-at-rest", lambda p: inputs(p, "SyncAssets-log-group").pop("kmsKeyId"), "kmsKeyId must name"),
    ("encryption-at-rest", lambda p: inputs(p, "SyncAssets-function").pop("kmsKeyArn"), "kmsKeyArn must name"),
    ("encryption-at-rest", lambda p: inputs(p, "sync-assets-schedule").pop("kmsKeyArn"), "kmsKeyArn must name"),
    ("encryption-at-rest", lambda p: inputs(p, "alpaca-secret").pop("kmsKeyId"), "kmsKeyId must name"),
    (
        "encryption-at-rest",
        lambda p: inputs(p, "SyncAssets-dlq").update(kmsMasterKeyId="alias/aws/sqs"),
        "kmsMasterKeyId must name",
    ),
    (
        "encryption-at-rest",
        lambda p: inputs(p, "alarms-topic").update(kmsMasterKeyId="alias/aws/sns"),
        "not 'alias/aws/sns'",
    ),
    (
        "encryption-at-rest",
        lambda p: inputs(p, "assets-table")["serverSideEncryption"].update(enabled=False),
        "serverSideEncryption.enabled is not true",
    ),
    (
        "kms-key-rotation-deletion-window",
        lambda p: inputs(p, "stack-key").update(enableKeyRotation=False),
        "enableKeyRotation",
    ),
    (
        "kms-key-rotation-deletion-window",
        lambda p: inputs(p, "stack-key").update(deletionWindowInDays=7.0),
        "deletionWindowInDays",
    ),
    (
        "function-tracing-runtime",
        lambda p: inputs(p, "SyncAssets-function").pop("tracingConfig"),
        "tracingConfig.mode Active",
    ),
    ("function-tracing-runtime", lambda p: inputs(p, "SyncAssets-function").update(runtime="python3.8"), "python3.8"),
    ("event-bus-policy", lambda p: p.remove(named(p, "event-bus-policy")), "has no resource policy"),
    (
        "event-bus-policy",
        lambda p: set_policy(
            p,
            {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "events:PutEvents", "Resource": "b"},
            "event-bus-policy",
        ),
        "name IAM roles only",
    ),
    (
        "resource-policies-scoped",
        lambda p: set_policy(
            p,
            {
                "Effect": "Allow",
                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
            "stack-key",
        ),
        "without an aws:SourceArn",
    ),
    (
        "resource-policies-scoped",
        lambda p: set_policy(
            p, {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish", "Resource": "t"}, "alarms-topic"
        ),
        "grants any principal",
    ),
    (
        "iam-no-wildcards",
        lambda p: set_policy(p, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}),
        "kms:Decrypt on Resource",
    ),
    (
        "tls-only",
        lambda p: inputs(p, "PollenateAsset-dlq-policy").update(
            policy=policy([{**tls_only("sqs:*", "q"), "Condition": {"Bool": {"aws:SecureTransport": "true"}}}])
        ),
        "queue 'signal9-prod-SyncAssets-dlq' has no policy denying requests without TLS",
    ),
    (
        "tls-only",
        lambda p: inputs(p, "PollenateAsset-dlq-policy").update(policy=policy([tls_only("sqs:SendMessage", "q")])),
        "sqs:* when aws:SecureTransport is false",
    ),
    (
        "tls-only",
        lambda p: inputs(p, "PollenateAsset-dlq-policy").update(
            queueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/signal9-prod-PollenateAsset-dlq"
        ),
        "queue 'signal9-prod-SyncAssets-dlq'",
    ),
    ("tls-only", lambda p: p.remove(named(p, "alarms-topic-policy")), "topic 'signal9-prod-alarms'"),
    (
        "tls-only",
        lambda p: set_policy(p, {**tls_only("sns:Publish", "t"), "Principal": {"Service": "x"}}, "alarms-topic-policy"),
        "sns:publish when aws:SecureTransport is false",
    ),
    ("alarm-actions", lambda p: inputs(p, "errors-alarm").pop("alarmActions"), "no alarmActions"),
    ("alarm-actions", lambda p: inputs(p, "errors-alarm").update(actionsEnabled=False), "disabled"),
]


def test_compliant_plan_passes() -> None:
    assert evaluate(compliant_plan()) == []


@pytest.mark.parametrize(
    ("rule", "breaks", "phrase"), VIOLATIONS, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(VIOLATIONS)]
)
def test_rule_reports_crafted_violation(rule: str, breaks: Callable[[Plan], Any], phrase: str) -> None:
    plan = compliant_plan()
    breaks(plan)
    violations = evaluate(plan)
    assert {v.rule for v in violations} == {rule}, violations
    assert any(phrase in v.message for v in violations), violations


def test_every_rule_has_a_violation_case() -> None:
    assert {rule.name for rule in RULES} == {rule for rule, _, _ in VIOLATIONS}


def test_function_without_logging_config_uses_lambdas_default_group() -> None:
    plan = compliant_plan()
    inputs(plan, "SyncAssets-function").pop("loggingConfig")
    assert evaluate(plan) == []
    inputs(plan, "SyncAssets-function")["name"] = "signal9-prod-Other"
    assert [v.rule for v in evaluate(plan)] == ["function-log-group"]


def test_dev_tables_may_go_without_deletion_protection() -> None:
    plan = compliant_plan("dev")
    inputs(plan, "assets-table")["deletionProtectionEnabled"] = False
    assert evaluate(plan) == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_all_rules_pass_on_every_stack(plans: dict[str, ProgramRun], stack: str) -> None:
    assert evaluate(plans[stack].to_json()["resources"]) == []
    assert check.stack_file_violations(stack) == []


def test_stack_plans_reach_the_rules(plans: dict[str, ProgramRun]) -> None:
    """The rules are not vacuous: each stack has tables and log groups they judged."""
    for plan in plans.values():
        types = {r.type for r in plan.resources}
        assert {policy_rules.TABLE, policy_rules.LOG_GROUP, policy_rules.AWS_PROVIDER} <= types


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # importing pulumi_aws.lambda_ warns about other classes
def test_tag_rule_knows_every_resource_type_and_matches_pulumi_aws(plans: dict[str, ProgramRun]) -> None:
    for typ in policy_rules.TAGGABLE_TYPES | policy_rules.UNTAGGABLE_TYPES:
        _, module, name = typ.split(":")
        package = module.split("/")[0]
        cls = getattr(importlib.import_module(f"pulumi_aws.{'lambda_' if package == 'lambda' else package}"), name)
        takes_tags = "tags" in inspect.signature(cls._internal_init).parameters
        assert takes_tags == (typ in policy_rules.TAGGABLE_TYPES), typ
    seen = {r.type for plan in plans.values() for r in plan.resources if r.custom and r.type.startswith("aws:")}
    assert seen <= policy_rules.TAGGABLE_TYPES | policy_rules.UNTAGGABLE_TYPES


def test_unknown_values_are_not_judged() -> None:
    plan = compliant_plan()
    inputs(plan, "SyncAssets-policy")["policy"] = UNKNOWN
    inputs(plan, "assets-table")["deletionProtectionEnabled"] = UNKNOWN
    inputs(plan, "SyncAssets-function")["loggingConfig"] = {"logGroup": UNKNOWN}
    inputs(plan, "event-bus-policy")["policy"] = UNKNOWN  # role ARNs before the first deploy
    inputs(plan, "assets-table")["serverSideEncryption"]["kmsKeyArn"] = UNKNOWN
    inputs(plan, "SyncAssets-dlq")["kmsMasterKeyId"] = UNKNOWN
    inputs(plan, "alarms-topic")["kmsMasterKeyId"] = UNKNOWN
    inputs(plan, "PollenateAsset-dlq-policy")["queueUrl"] = UNKNOWN  # a new queue's URL
    inputs(plan, "alarms-topic-policy")["policy"] = UNKNOWN  # built from the new topic's ARN
    assert evaluate(plan) == []


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        (
            {"alphavantage": {"apikey": "plain-text"}},
            "signal9:secrets.alphavantage.apikey is plaintext in the stack file and not a field of the "
            "alphavantage secret (apiKey, baseUrl): remove it, then run: "
            "pulumi config set --secret --path signal9:secrets.alphavantage.apiKey <value>",
        ),
        (
            {"alphavantge": {"apiKey": "plain-text"}},
            "signal9:secrets.alphavantge is plaintext in the stack file and not a secret (alpaca, alphavantage): "
            "remove it, then run: pulumi config set --secret --path signal9:secrets.alphavantage.apiKey <value>",
        ),
        (
            "hunter2",
            "signal9:secrets is plaintext in the stack file; it holds one value per secret and field: remove it, "
            "then run for each: pulumi config set --secret --path signal9:secrets.<secret>.<field> <value> "
            "(alphavantage.apiKey, alphavantage.baseUrl, alpaca.keyId, alpaca.secretKey, alpaca.baseUrl, alpaca.dataUrl)",
        ),
    ],
)
def test_a_misspelt_or_misshapen_plaintext_secret_gets_the_right_command(secrets: Any, expected: str) -> None:
    """The advice names the field the catalog has, never the typo, and the paths when the shape is wrong."""
    found: list[str] = []
    policy_rules.check_stack_file_secrets({"signal9:secrets": secrets}, found.append)
    assert found == [expected]
    assert "plain-text" not in found[0] and "hunter2" not in found[0]


def test_stack_file_credentials_must_be_encrypted() -> None:
    found: list[str] = []
    config = {"signal9:secrets": {"alpaca": {"keyId": {"secure": "v1:abc"}, "secretKey": "plain-text"}}}
    policy_rules.check_stack_file_secrets(config, found.append)
    assert len(found) == 1 and "signal9:secrets.alpaca.secretKey" in found[0] and "plain-text" not in found[0]


# --- the CrossGuard pack runs the same functions ------------------------------------------------


def policies() -> dict[str, Any]:
    return {p.name: p for p in policy_rules.crossguard_policies()}


def test_pack_exposes_every_rule_with_the_right_kind() -> None:
    pack = policies()
    assert set(pack) == {rule.name for rule in RULES}
    for rule in RULES:
        expected = ResourceValidationPolicy if isinstance(rule, policy_rules.ResourceRule) else StackValidationPolicy
        assert isinstance(pack[rule.name], expected)


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def test_pack_resource_policy_reports_and_survives_preview_unknowns() -> None:
    plan = compliant_plan()
    table = copy.deepcopy(inputs(plan, "assets-table"))
    table["billingMode"] = "PROVISIONED"
    table["name"] = UNKNOWN_STRING_VALUE
    args = ResourceValidationArgs(
        policy_rules.TABLE, unknown_checking_proxy(table), "urn:table", "assets-table", options(), None
    )
    found: list[tuple[str, str | None]] = []
    policies()["table-on-demand-pitr"].validate(args, lambda message, urn=None: found.append((message, urn)))
    assert len(found) == 1 and "PAY_PER_REQUEST" in found[0][0] and UNKNOWN in found[0][0]


def test_pack_preview_sees_revealed_secret_values_without_flagging_them() -> None:
    version = ResourceValidationArgs(
        policy_rules.SECRET_VERSION,
        unknown_checking_proxy({"secretString": '{"apiKey": "x"}'}),
        "urn:v",
        "v",
        options(),
        None,
    )
    found: list[str] = []
    policies()["no-plaintext-credentials"].validate(version, lambda message, urn=None: found.append(message))
    assert found == []


def test_pack_stack_policy_finds_provider_tags_and_reports_by_urn() -> None:
    plan = compliant_plan()
    provider_props = inputs(plan, "aws")
    provider = PolicyProviderResource("pulumi:providers:aws", provider_props, "urn:aws", "aws")
    table = copy.deepcopy(inputs(plan, "assets-table"))
    table["tags"] = {}
    resources = [
        PolicyResource(
            policy_rules.TABLE,
            unknown_checking_proxy(table),
            "urn:table",
            "assets-table",
            options(),
            provider,
            None,
            [],
            {},
        )
    ]
    found: list[tuple[str, str | None]] = []
    policies()["required-tags"].validate(StackValidationArgs(resources), lambda m, urn=None: found.append((m, urn)))
    assert found == [("assets-table: missing tags Component", "urn:table")]
    found.clear()
    policies()["table-deletion-protection"].validate(
        StackValidationArgs(resources), lambda m, urn=None: found.append((m, urn))
    )
    assert found == []


# --- signal9 check ------------------------------------------------------------------------------


def test_check_command_passes_a_clean_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reuse_planned_runs(monkeypatch, check)
    assert cli.main(["check", "--stack", "staging"]) == 0
    out = capsys.readouterr().out
    assert "all rules pass" in out
    for rule in check.rule_names():
        assert f"{rule} " in out


def test_check_command_fails_and_lists_violations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = compliant_plan()
    inputs(plan, "assets-table")["billingMode"] = "PROVISIONED"

    class Fake:
        warnings = ()

        def to_json(self) -> dict[str, Any]:
            return {"resources": plan}

    monkeypatch.setattr(check, "run_program", lambda stack: Fake())
    assert cli.main(["check", "--stack", "prod"]) == 1
    out = capsys.readouterr().out
    assert "table-on-demand-pitr" in out and "FAIL (1)" in out and "assets-table" in out and "1 violation(s)" in out


def test_violation_is_reported_once_per_problem() -> None:
    plan = compliant_plan()
    inputs(plan, "assets-table").update(billingMode="PROVISIONED", pointInTimeRecovery={"enabled": False})
    assert evaluate(plan) == [
        Violation(
            "table-on-demand-pitr",
            "assets-table",
            "table 'signal9-prod-assets' must use billingMode PAY_PER_REQUEST (on demand), not 'PROVISIONED'",
        ),
        Violation(
            "table-on-demand-pitr", "assets-table", "table 'signal9-prod-assets' must enable pointInTimeRecovery"
        ),
    ]
