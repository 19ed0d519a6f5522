"""Every emulated deploy call is checked against the constraints AWS enforces on requests.

The unit tests use real operations from botocore's service models; the deploy tests run the
program into the emulator with checking on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.model import OperationModel

from components import function_fleet
from signal9.naming import Naming
from signal9_tools import cli
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.request_constraints import (
    RequestConstraintError,
    RequestConstraints,
    compiled,
    problems_of,
)

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

CHECK = "deploy requests within AWS's constraints"
ROLE_ARN = "arn:aws:iam::123456789012:role/signal9-dev-PollenateAsset"
SESSION = botocore.session.get_session()


def operation(service: str, name: str) -> OperationModel:
    return SESSION.get_service_model(service).operation_model(name)


def problems(service: str, name: str, params: Mapping[str, Any]) -> list[str]:
    return problems_of(service, operation(service, name), params)[0]


def test_a_valid_request_has_no_problems() -> None:
    role = {"RoleName": "signal9-dev-PollenateAsset", "AssumeRolePolicyDocument": "{}", "Path": "/"}
    assert problems("iam", "CreateRole", {**role, "Tags": [{"Key": "Project", "Value": "signal9"}]}) == []


def test_a_string_longer_than_its_maximum() -> None:
    assert problems("iam", "CreateRole", {"RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"}) == [
        f"RoleName: '{'r' * 65}' is 65 characters, the maximum is 64"
    ]


def test_a_string_shorter_than_its_minimum() -> None:
    assert problems("secretsmanager", "PutSecretValue", {"SecretId": "", "SecretString": "s"}) == [
        "SecretId: '' is 0 characters, the minimum is 1"
    ]


def test_a_string_outside_its_pattern_matched_whole_and_in_javas_ascii_classes() -> None:
    # Part of "bad name" matches [\w+=,.@-]+: AWS matches the whole value.
    assert problems("iam", "CreateRole", {"RoleName": "bad name", "AssumeRolePolicyDocument": "{}"}) == [
        "RoleName: 'bad name' does not match the pattern '[\\\\w+=,.@-]+'"
    ]
    # Java's \w is ASCII; Python's would accept "ô".
    assert len(problems("iam", "CreateRole", {"RoleName": "rôle", "AssumeRolePolicyDocument": "{}"})) == 1


def test_a_value_outside_its_enum() -> None:
    params = {"Name": "s", "ScheduleExpression": "rate(1 hour)", "State": "PAUSED"}
    assert problems("scheduler", "CreateSchedule", params) == ["State: 'PAUSED' is not one of 'ENABLED', 'DISABLED'"]


def test_numbers_outside_their_range_nested_members_named_by_path() -> None:
    assert problems(
        "lambda",
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "f", "MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 59},
    ) == [
        "MaximumRetryAttempts: 3 is above the maximum 2",
        "MaximumEventAgeInSeconds: 59 is below the minimum 60",
    ]
    target = {
        "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "RoleArn": ROLE_ARN,
        "RetryPolicy": {"MaximumRetryAttempts": 186},
    }
    assert problems("scheduler", "CreateSchedule", {"Name": "s", "Target": target}) == [
        "Target.RetryPolicy.MaximumRetryAttempts: 186 is above the maximum 185"
    ]


def test_list_and_map_sizes_and_their_members() -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert problems("iam", "CreateRole", {"RoleName": "r", "Tags": tags}) == ["Tags: 51 items, the maximum is 50"]
    assert problems("iam", "CreateRole", {"RoleName": "r", "Tags": [{"Key": "k" * 129, "Value": "v"}]}) == [
        f"Tags[0].Key: '{'k' * 80}...' is 129 characters, the maximum is 128"
    ]
    assert problems("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {}}) == [
        "tags: 0 entries, the minimum is 1"
    ]
    assert problems("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"k": "v" * 257}}) == [
        f"tags['k']: '{'v' * 80}...' is 257 characters, the maximum is 256"
    ]


def test_a_sensitive_value_is_never_quoted() -> None:
    found = problems("secretsmanager", "PutSecretValue", {"SecretId": "s", "SecretString": "hunter2" * 10_000})
    assert found == ["SecretString: (a sensitive value) is 70000 characters, the maximum is 65536"]
    assert problems("secretsmanager", "PutSecretValue", {"SecretId": "s", "SecretBinary": b""}) == [
        "SecretBinary: 0 bytes, the minimum is 1"
    ]


def test_a_documented_name_limit_the_model_cannot_state() -> None:
    # The model allows 140 characters (a function ARN); a plain name is limited to 64.
    (found,) = problems("lambda", "CreateFunction", {"FunctionName": "f" * 65, "Role": ROLE_ARN, "Code": {}})
    assert found.startswith(f"FunctionName: '{'f' * 65}' is 65 characters, the maximum is 64 (Lambda API reference")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:" + "f" * 64
    assert problems("lambda", "CreateFunction", {"FunctionName": arn, "Role": ROLE_ARN, "Code": {}}) == []
    (found,) = problems("sqs", "CreateQueue", {"QueueName": "a.b"})
    assert "does not match the pattern" in found and "SQS API reference" in found


@pytest.mark.parametrize(
    ("service", "name", "params", "path"),
    [
        ("iam", "CreateRole", {"RoleName": "r", "Tags": [{"Key": "Cost*Centre", "Value": "x"}]}, "Tags[0].Key"),
        ("iam", "CreateRole", {"RoleName": "r", "Tags": [{"Key": "k", "Value": "a;b"}]}, "Tags[0].Value"),
        (
            "lambda",
            "TagResource",
            {"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Tags": {"a#": "v"}},
            "Tags key",
        ),
        (
            "lambda",
            "TagResource",
            {"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Tags": {"a": "v!"}},
            "Tags['a']",
        ),
        ("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"a$": "v"}}, "tags key"),
        ("logs", "CreateLogGroup", {"logGroupName": "g", "tags": {"a": "<v>"}}, "tags['a']"),
    ],
)
def test_the_tag_patterns_with_unicode_classes_are_enforced(
    service: str, name: str, params: dict[str, Any], path: str
) -> None:
    """The six tag patterns use Java's \\p{L}, \\p{Z}, \\p{N}: the `regex` package applies them (`re` cannot)."""
    found, skipped = problems_of(service, operation(service, name), params)
    assert skipped == set()
    (problem,) = found
    assert problem.startswith(path) and "does not match the pattern '" in problem and "\\p{L}" in problem


def test_unicode_letters_spaces_and_digits_are_tag_characters_as_in_java() -> None:
    tags = [{"Key": "Équipe données 2", "Value": "Zürich Ω-7 / a+b=c @x:y_z."}]
    assert problems_of("iam", operation("iam", "CreateRole"), {"RoleName": "r", "Tags": tags}) == ([], set())


def test_a_pattern_neither_dialect_can_apply_as_java_does_is_skipped_and_counted() -> None:
    assert compiled("[a-z&&[^b]]") is None  # Java's set intersection: another meaning in Python
    assert compiled("[\\p{L}\\w]+") is None  # Java's \\w is ASCII, the `regex` package's Unicode
    assert compiled("[\\p{L}]+") is not None and compiled("[\\w]+") is not None


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam")


def test_a_watched_client_stops_the_call_naming_the_resource(iam: Any) -> None:
    constraints = RequestConstraints()
    constraints.watch(iam)
    constraints.creating('aws:iam/role:Role "PollenateAsset-role"')
    with pytest.raises(RequestConstraintError) as raised:
        iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument="{}")
    assert str(raised.value) == (
        'request constraint: aws:iam/role:Role "PollenateAsset-role" -> iam.CreateRole '
        f"RoleName: '{'r' * 65}' is 65 characters, the maximum is 64"
    )
    assert iam.list_roles()["Roles"] == []  # never sent, as AWS would have refused it
    assert constraints.checked == 2 and constraints.violations == [str(raised.value)]


def test_a_too_long_function_name_fails_local_up_and_the_next_deploy_is_unaffected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The program's own name guard removed, as if it had missed this name.
    monkeypatch.setattr(function_fleet, "aws_name", lambda kind, name, limit: name)
    named = Naming.function
    # Only this function's name: the deploy stops at its first violation, in whatever order the
    # runtime's threads create resources.
    monkeypatch.setattr(
        Naming,
        "function",
        lambda self, name: named(self, name).ljust(72, "x") if name == "PollenateAsset" else named(self, name),
    )
    assert cli.main(["local", "up", "--stack", "dev"]) == 1
    error = capsys.readouterr().err
    long_name = named(Naming("dev"), "PollenateAsset").ljust(72, "x")
    assert error.startswith(
        "signal9 local up: the deploy makes requests AWS would reject:\n"
        'request constraint: aws:lambda/function:Function "PollenateAsset-function" -> lambda.CreateFunction '
        f"FunctionName: '{long_name}' is 72 characters, the maximum is 64 (Lambda API reference"
    )
    monkeypatch.undo()
    # The failed run leaves nothing behind; prod passes with every call checked (dev and staging
    # pass the same check in tests/test_local.py and tests/test_local_security.py, whose runs
    # require every check to pass).
    run = deploy_and_smoke("prod", scope="none")
    checks = {check.name: check for check in run.report.checks}
    assert checks[CHECK].ok, checks[CHECK].detail
    assert int(checks[CHECK].detail.split()[0]) > 150
