"""`signal9 preflight --account`: the account's preconditions, read before the first deploy, fail naming the setting.

IAM is moto's; Lambda's GetAccountSettings (which moto does not implement) is a stand-in answering
what a new account answers.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.iam.access_control import IAMPolicy, PermissionResult

from components.deploy_identities import preview_statements
from signal9 import bootstrap_config
from signal9.bootstrap_config import BootstrapConfig
from signal9.naming import Naming
from signal9_tools import account_check, preflight
from signal9_tools.mockrun import ProgramRun
from tests.fixtures import reuse_planned_runs

GITHUB = "https://token.actions.githubusercontent.com"
OPERATOR = "arn:aws:iam::123456789012:role/signal9-operator"
PLANS_RESERVE = 5  # PollenateAsset's reserved concurrency on each shipped stack


@dataclass
class LambdaAccount:
    """Lambda's account answers: the concurrency quota, what is unreserved, each function's reservation."""

    limit: int
    reserved: dict[str, int] = field(default_factory=dict)

    def get_account_settings(self) -> dict[str, Any]:
        unreserved = self.limit - sum(self.reserved.values())
        return {"AccountLimit": {"ConcurrentExecutions": self.limit, "UnreservedConcurrentExecutions": unreserved}}

    def get_function_concurrency(self, FunctionName: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        if FunctionName not in self.reserved:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetFunctionConcurrency")
        return {"ReservedConcurrentExecutions": self.reserved[FunctionName]}


@dataclass
class Account:
    lambda_: LambdaAccount

    def client(self, service: str) -> Any:
        return self.lambda_ if service == "lambda" else boto3.client("iam", region_name="us-east-1")


def bootstrap(**settings: Any) -> BootstrapConfig:
    return BootstrapConfig(repository="example-org/signal9", **settings)


def problems(plans: dict[str, ProgramRun], lambda_: LambdaAccount, config: BootstrapConfig) -> list[str]:
    return account_check.account_problems(Account(lambda_), list(plans.values()), config, "main")


def test_enough_concurrency_a_new_provider_and_existing_operators_pass(aws: None, plans: dict[str, ProgramRun]) -> None:
    boto3.client("iam").create_role(RoleName="signal9-operator", AssumeRolePolicyDocument="{}")
    config = bootstrap(operatorArns=[OPERATOR])
    # Three stacks reserve 5 each: 115 leaves Lambda's 100.
    assert problems(plans, LambdaAccount(limit=115), config) == []


def test_a_low_concurrency_quota_fails_naming_the_quota_and_the_setting(
    aws: None, plans: dict[str, ProgramRun]
) -> None:
    (problem,) = problems(plans, LambdaAccount(limit=50), bootstrap())
    assert problem.startswith("Lambda concurrency: the stacks reserve 15 (signal9-dev-PollenateAsset: 5, ")
    assert "quota 50, 50 unreserved now, 0 held by these functions" in problem
    assert problem.endswith(
        "raise Service Quotas: AWS Lambda 'Concurrent executions' (L-B99A9384) to at least 115, or set "
        "signal9:alphaVantage.pollenationConcurrency to null in the stack files"
    )


def test_what_the_functions_already_hold_counts_on_a_redeploy(aws: None, plans: dict[str, ProgramRun]) -> None:
    held = {Naming(stack).function("PollenateAsset"): PLANS_RESERVE for stack in plans}
    assert problems(plans, LambdaAccount(limit=115, reserved=held), bootstrap()) == []
    other = {"another-workload": 10}
    (problem,) = problems(plans, LambdaAccount(limit=115, reserved={**held, **other}), bootstrap())
    assert "to at least 125" in problem


def test_an_existing_github_provider_must_be_adopted(aws: None, plans: dict[str, ProgramRun]) -> None:
    arn = boto3.client("iam").create_open_id_connect_provider(Url=GITHUB, ClientIDList=["sts.amazonaws.com"])[
        "OpenIDConnectProviderArn"
    ]
    (problem,) = problems(plans, LambdaAccount(limit=1000), bootstrap())
    assert problem == (
        f"GitHub's OIDC provider already exists in this account ({arn}): the bootstrap would fail creating a second "
        f"one; set signal9-bootstrap:oidcProviderArn: {arn} in bootstrap/Pulumi.main.yaml"
    )
    assert problems(plans, LambdaAccount(limit=1000), bootstrap(oidcProviderArn=arn)) == []


def test_an_adopted_provider_must_exist(aws: None, plans: dict[str, ProgramRun]) -> None:
    gone = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    (problem,) = problems(plans, LambdaAccount(limit=1000), bootstrap(oidcProviderArn=gone))
    assert problem.startswith(f"signal9-bootstrap:oidcProviderArn in bootstrap/Pulumi.main.yaml names {gone}, which ")


def test_an_operator_role_that_does_not_exist_is_named(aws: None, plans: dict[str, ProgramRun]) -> None:
    (problem,) = problems(plans, LambdaAccount(limit=1000), bootstrap(operatorArns=[OPERATOR]))
    assert problem.startswith(f"signal9-bootstrap:operatorArns in bootstrap/Pulumi.main.yaml names {OPERATOR}, ")
    assert "KMS refuses a key policy whose principals do not exist" in problem


def test_preflight_account_prints_each_problem_and_exits_1(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reuse_planned_runs(monkeypatch, preflight)
    args = argparse.Namespace(
        stack="dev", project="signal9", account=True, bootstrap_stack="main", access_analyzer=False
    )
    assert preflight.run(args, session=Account(LambdaAccount(limit=50))) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":", 2)[:2] for line in lines if line.startswith("account: ")] == [
        ["account", " Lambda concurrency"],
        ["account", " signal9-bootstrap"],  # the shipped bootstrap file names an operator role moto does not have
    ]
    assert not any("warning: reserved concurrency" in line for line in lines)  # read, no longer a warning
    assert lines[-1].endswith("; the AWS account's preconditions read: 2 problem(s)")


def test_the_preview_role_may_read_what_the_account_check_reads() -> None:
    config = bootstrap_config.load_stack("main")
    statements = preview_statements("123456789012", ["us-east-1"], "bucket", config.operatorArns)
    policies = [IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [s]})) for s in statements]
    reads = [
        ("lambda:GetAccountSettings", "*"),
        ("iam:ListOpenIDConnectProviders", "*"),
        ("access-analyzer:ValidatePolicy", "*"),
        ("iam:GetRole", OPERATOR),
        ("lambda:GetFunctionConcurrency", "arn:aws:lambda:us-east-1:123456789012:function:signal9-prod-PollenateAsset"),
    ]
    for action, resource in reads:
        assert any(p.is_action_permitted(action, resource) == PermissionResult.PERMITTED for p in policies), action
    # The operator roles, not any role of the account (the stacks' own are reads of the deploy table).
    other = "arn:aws:iam::123456789012:role/another-workload"
    assert not any(p.is_action_permitted("iam:GetRole", other) == PermissionResult.PERMITTED for p in policies)
