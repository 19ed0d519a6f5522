"""Preflight: every plan's policies judged against AWS's published rules (Service Authorization
Reference, AWS's key-policy pages), offline."""

from __future__ import annotations

import copy
import fnmatch
import json
from typing import Any

import pytest

from signal9 import bootstrap_policies, catalog, iam, keys
from signal9.stackfile import BOOTSTRAP_PROJECT
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, run_program

REGION = "us-east-1"


@pytest.fixture(scope="module")
def bootstrap() -> ProgramRun:
    return run_program("main", project=BOOTSTRAP_PROJECT)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- finding 3: CreateLogStream and PutLogEvents are authorised on log-stream only -------------


def test_function_roles_grant_log_writes_on_their_streams_only() -> None:
    group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/signal9-dev-SyncAssets"
    resources = iam.FunctionResources(
        dead_letter_queue=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:signal9-dev-SyncAssets-dlq",
        log_group=group,
        tables=dict.fromkeys(catalog.TABLE_NAMES, f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/t"),
        secret=f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:s",
        event_bus=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/signal9-dev",
    )
    for function in catalog.FUNCTIONS:
        statements = {s["Sid"]: s for s in iam.access_statements(function, resources)}
        assert statements["WriteOwnLogGroup"]["Resource"] == [f"{group}:*"], function.name


# --- service principals' key-policy statements, held against the AWS pages they follow ---------
# Each page's statement written out literally: principal, actions (the page's own patterns),
# and the condition keys it requires (with operator and value where the page fixes them).

TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/signal9-state-audit"
CLOUDTRAIL_PAGE = "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html"
PAGES: dict[str, dict[str, Any]] = {
    # "Granting encrypt permissions for trails"
    "CloudTrailEncryptsStateAudit": {
        "url": CLOUDTRAIL_PAGE,
        "principal": "cloudtrail.amazonaws.com",
        "actions": ["kms:GenerateDataKey*"],
        "conditions": {
            "StringEquals": {"aws:SourceArn": TRAIL},
            "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{ACCOUNT_ID}:trail/*"},
        },
    },
    # "Enable CloudTrail to describe KMS key properties": conditioned on the trail only.
    "CloudTrailDescribesStateKey": {
        "url": CLOUDTRAIL_PAGE,
        "principal": "cloudtrail.amazonaws.com",
        "actions": ["kms:DescribeKey"],
        "conditions": {"StringEquals": {"aws:SourceArn": TRAIL}},
    },
    "CloudWatchLogsEncryptFunctionLogs": {
        "url": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
        "principal": f"logs.{REGION}.amazonaws.com",
        "actions": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "conditions": {
            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:*"}
        },
    },
    "CloudWatchAlarmsPublish": {
        "url": "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
        "principal": "cloudwatch.amazonaws.com",
        "actions": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "conditions": {},
    },
    "EventBridgeRulesDeadLetter": {
        "url": "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html",
        "principal": "events.amazonaws.com",
        "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
        "conditions": {"ArnLike": {"aws:SourceArn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/*"}},
    },
}


def page_problems(statement: dict[str, Any], page: dict[str, Any]) -> list[str]:
    """How ``statement`` departs from the page: principal, actions, required conditions."""
    problems = []
    if statement["Principal"] != {"Service": page["principal"]}:
        problems.append(f"principal {statement['Principal']}")
    ours = [a.lower() for a in as_list(statement["Action"])]
    theirs = [a.lower() for a in page["actions"]]
    problems += [f"page action {p} not granted" for p in theirs if not any(fnmatch.fnmatchcase(a, p) for a in ours)]
    problems += [f"{a} is not on the page" for a in ours if not any(fnmatch.fnmatchcase(a, p) for p in theirs)]
    condition = statement.get("Condition", {})
    for operator, values in page["conditions"].items():
        for key, value in values.items():
            found = condition.get(operator, {}).get(key)
            if found is None:
                problems.append(f"missing condition {operator} {key}")
            elif not fnmatch.fnmatchcase(str(found), str(value)):
                problems.append(f"condition {operator} {key} is {found!r}, the page's form is {value!r}")
    return problems


def service_statements(bootstrap: ProgramRun, prod: ProgramRun) -> dict[str, dict[str, Any]]:
    """Every key-policy statement with a service principal, of the stack key and the bootstrap keys."""
    found = {}
    for run in (prod, bootstrap):
        for key in run.of_type("aws:kms/key:Key"):
            for statement in json.loads(key.plain_inputs["policy"])["Statement"]:
                if "Service" in statement.get("Principal", {}):
                    found[statement["Sid"]] = statement
    return found


def test_service_key_statements_follow_the_aws_pages_they_name(bootstrap: ProgramRun, prod: ProgramRun) -> None:
    statements = service_statements(bootstrap, prod)
    named = {**keys.AWS_PAGES, **bootstrap_policies.AWS_PAGES}
    assert set(statements) == set(PAGES) == set(named)  # a new service statement must name its page
    for sid, page in PAGES.items():
        assert named[sid] == page["url"], sid
        assert page_problems(statements[sid], page) == [], sid


def test_a_statement_that_departs_from_its_page_is_named(bootstrap: ProgramRun, prod: ProgramRun) -> None:
    statements = service_statements(bootstrap, prod)
    broken = copy.deepcopy(statements["CloudTrailEncryptsStateAudit"])
    broken["Action"] = ["kms:GenerateDataKey", "kms:DescribeKey"]
    del broken["Condition"]["StringEquals"]
    assert page_problems(broken, PAGES["CloudTrailEncryptsStateAudit"]) == [
        "kms:describekey is not on the page",
        "missing condition StringEquals aws:SourceArn",
    ]


def test_the_trail_can_be_created_on_a_bucket_with_a_bucket_key(bootstrap: ProgramRun) -> None:
    """AWS's note: with an S3 Bucket Key, creating or updating the trail needs kms:Decrypt.

    The bootstrap is run by an operator; the operators' statement grants it (no condition).
    """
    (state_key,) = [k for k in bootstrap.of_type("aws:kms/key:Key") if k.name == "state-key"]
    statements = {s["Sid"]: s for s in json.loads(state_key.plain_inputs["policy"])["Statement"]}
    operators = statements["OperatorsUseStateKey"]
    assert "kms:Decrypt" in operators["Action"] and "Condition" not in operators
