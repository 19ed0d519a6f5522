"""The bootstrap project (bootstrap/) under Pulumi mocks, its rules, and its policies judged by moto."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

import signal9.config
from components.deploy_identities import deploy_statements
from signal9 import bootstrap_policies as policies
from signal9.bootstrap_config import BootstrapConfigError
from signal9.bootstrap_rules import BOOTSTRAP_RULES
from signal9.catalog import STACKS
from signal9.deploy_policy import StackTarget
from signal9.policy_rules import evaluate
from signal9.stackfile import BOOTSTRAP_PROJECT, read_stack_config
from signal9_tools.check import check_stack
from signal9_tools.cli import main
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, run_program

BUCKET = f"signal9-pulumi-state-{ACCOUNT_ID}"


@pytest.fixture(scope="module")
def bootstrap() -> ProgramRun:
    return run_program("main", project=BOOTSTRAP_PROJECT)


def resources_json(run: ProgramRun) -> list[dict[str, Any]]:
    return list(run.to_json()["resources"])


def test_the_bootstrap_plans_offline_and_passes_its_rules(bootstrap: ProgramRun) -> None:
    result = check_stack("main", BOOTSTRAP_PROJECT)
    assert result.violations == []
    assert result.resources == len(bootstrap.resources)
    types = {r.type for r in bootstrap.resources}
    assert {"aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:cloudtrail/trail:Trail"} <= types
    assert bootstrap.outputs["stateBackendUrl"] == f"s3://{BUCKET}/pulumi"
    assert bootstrap.outputs["secretsProvider"] == "awskms://alias/signal9-pulumi?region=us-east-1"
    assert set(bootstrap.outputs["deployRoleArns"]) == set(STACKS)
    assert all(
        arn.endswith(f"policy/signal9-{s}-permissions-boundary")
        for s, arn in bootstrap.outputs["permissionsBoundaryArns"].items()
    )


@pytest.mark.parametrize(
    ("resource_type", "field", "value", "message"),
    [
        ("aws:s3/bucketVersioning:BucketVersioning", "versioningConfiguration", {"status": "Suspended"}, "versioning"),
        ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "restrictPublicBuckets", False, "public access"),
        (
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "rule",
            {"objectOwnership": "ObjectWriter"},
            "ownership",
        ),
        ("aws:s3/bucketPolicy:BucketPolicy", "policy", json.dumps({"Statement": []}), "TLS"),
        (
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "rules",
            [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
            "KMS",
        ),
        ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "rules", [], "noncurrent"),
        ("aws:kms/key:Key", "enableKeyRotation", False, "rotation"),
    ],
)
def test_each_state_bucket_rule_catches_its_weakening(
    bootstrap: ProgramRun, resource_type: str, field: str, value: Any, message: str
) -> None:
    resources = copy.deepcopy(resources_json(bootstrap))
    weakened = next(r for r in resources if r["type"] == resource_type)
    weakened["inputs"][field] = value
    violations = evaluate(resources, BOOTSTRAP_RULES)
    assert len(violations) == 1 and message in violations[0].message, violations


def test_github_trust_names_the_repository_and_one_subject(bootstrap: ProgramRun) -> None:
    repository = read_stack_config("main", BOOTSTRAP_PROJECT)["signal9-bootstrap:repository"]
    subjects: dict[str, list[str]] = {}
    for role in bootstrap.of_type("aws:iam/role:Role"):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
            equals = statement["Condition"]["StringEquals"]
            assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
            subjects.setdefault(role.inputs["name"], []).append(equals["token.actions.githubusercontent.com:sub"])
    assert subjects == {
        # Pull-request previews and the daily drift check (drift.yml runs in the environment `drift`).
        "signal9-preview": [f"repo:{repository}:pull_request", f"repo:{repository}:environment:drift"],
        **{f"signal9-deploy-{s}": [f"repo:{repository}:environment:{s}"] for s in STACKS},
    }
    resources = copy.deepcopy(resources_json(bootstrap))
    crafted = next(r for r in resources if r["type"] == "aws:iam/role:Role")
    trust = json.loads(crafted["inputs"]["assumeRolePolicy"])
    trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] = (
        f"repo:{repository}:*"
    )
    crafted["inputs"]["assumeRolePolicy"] = json.dumps(trust)
    assert [v.rule for v in evaluate(resources, BOOTSTRAP_RULES)] == ["github-trust-scoped"]


def test_key_policies_name_the_roles_and_give_admins_no_data_access(bootstrap: ProgramRun) -> None:
    keys = {r.name: json.loads(r.plain_inputs["policy"]) for r in bootstrap.of_type("aws:kms/key:Key")}
    deploy = {f"arn:aws:iam::{ACCOUNT_ID}:role/signal9-deploy-{s}" for s in STACKS}
    preview = f"arn:aws:iam::{ACCOUNT_ID}:role/signal9-preview"
    secrets = {s["Sid"]: s for s in keys["secrets-key"]["Statement"]}
    assert set(secrets["DeployRolesUseSecretsKey"]["Principal"]["AWS"]) == deploy
    assert secrets["PreviewRoleReadsSecrets"]["Principal"]["AWS"] == [preview]
    assert secrets["PreviewRoleReadsSecrets"]["Action"] == ["kms:Decrypt"]
    operators = json.loads(read_stack_config("main", BOOTSTRAP_PROJECT)["signal9-bootstrap:operatorArns"])
    assert secrets["OperatorsUseSecretsKey"]["Principal"]["AWS"] == operators
    assert {s["Sid"] for s in keys["state-key"]["Statement"]} == {
        "AccountAdministersKey",
        "DeployRolesUseStateKey",
        "PreviewRoleUsesStateKey",
        "OperatorsUseStateKey",
        "CloudTrailEncryptsStateAudit",
        "CloudTrailDescribesStateKey",
    }
    for key in keys.values():
        admin = key["Statement"][0]
        assert admin["Principal"]["AWS"].endswith(":root")
        assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])
        assert all("*" not in action for s in key["Statement"] for action in s["Action"])


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    # One statement at a time: moto treats a statement whose condition is not met as a Deny.
    return any(
        IAMPolicy(json.dumps({"Statement": [s]})).is_action_permitted(action, resource) == PermissionResult.PERMITTED
        for s in statements
    )


def test_a_deploy_role_writes_only_its_own_stack_state() -> None:
    dev = deploy_statements(StackTarget("dev", ACCOUNT_ID, "us-east-1"), BUCKET, "dev")
    state = f"arn:aws:s3:::{BUCKET}/pulumi/.pulumi"
    assert allowed(dev, "s3:PutObject", f"{state}/stacks/signal9/dev.json")
    assert allowed(dev, "s3:PutObject", f"{state}/history/signal9/dev/dev-1700000000.history.json")
    assert allowed(dev, "s3:PutObject", f"{state}/locks/organization/signal9/dev/lock-1.json")
    assert allowed(dev, "s3:GetObject", f"{state}/meta.yaml")
    assert not allowed(dev, "s3:PutObject", f"{state}/stacks/signal9/prod.json")
    assert not allowed(dev, "s3:GetObject", f"{state}/stacks/signal9/prod.json")
    assert not allowed(dev, "s3:PutObject", f"{state}/meta.yaml")


def test_the_preview_role_reads_but_writes_only_lock_files(bootstrap: ProgramRun) -> None:
    names = {r.name: r for r in bootstrap.of_type("aws:iam/policy:Policy")}
    preview = [
        s
        for r in names.values()
        if r.name.startswith("preview-policy")
        for s in json.loads(r.inputs["policy"])["Statement"]
    ]
    assert preview
    state = f"arn:aws:s3:::{BUCKET}/pulumi/.pulumi"
    assert allowed(preview, "s3:GetObject", f"{state}/stacks/signal9/prod.json")
    assert allowed(preview, "s3:PutObject", f"{state}/locks/organization/signal9/prod/l.json")
    assert not allowed(preview, "s3:PutObject", f"{state}/stacks/signal9/prod.json")
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT_ID}:table/signal9-prod-assets"
    assert allowed(preview, "dynamodb:DescribeTable", table)
    assert not allowed(preview, "dynamodb:DeleteTable", table)
    assert not any(
        a.split(":")[1].startswith(("Create", "Put", "Delete", "Update"))
        for s in preview
        if "s3" not in str(s["Action"])
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    )


def test_policies_fit_aws_size_limit(bootstrap: ProgramRun) -> None:
    for policy in bootstrap.of_type("aws:iam/policy:Policy"):
        assert policies.policy_size(json.loads(policy.inputs["policy"])) <= policies.MANAGED_POLICY_LIMIT, policy.name
    with pytest.raises(ValueError, match="exceeds"):
        policies.chunk_statements([{"Sid": "Huge", "Action": "s3:GetObject", "Resource": ["x" * 7000]}])


def test_bad_config_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {**read_stack_config("main", BOOTSTRAP_PROJECT), "signal9-bootstrap:repository": "not a repo"}
    with pytest.raises(BootstrapConfigError, match=r"Pulumi.main.yaml: signal9-bootstrap:repository"):
        run_program("main", config=config, project=BOOTSTRAP_PROJECT)
    config = {**read_stack_config("main", BOOTSTRAP_PROJECT), "signal9-bootstrap:stacks": '["dev", "qa"]'}
    with pytest.raises(BootstrapConfigError, match=r"unknown stack\(s\) qa"):
        run_program("main", config=config, project=BOOTSTRAP_PROJECT)
    # A misspelt key in the stack file is refused, not ignored (the default it meant to change
    # would apply silently); the program learns the keys from the stack file (signal9.config.program_values).
    config = {**read_stack_config("main", BOOTSTRAP_PROJECT), "signal9-bootstrap:stateVersionRetentionDay": "500"}
    monkeypatch.setattr(signal9.config, "read_stack_config", lambda stack, project: config)
    with pytest.raises(BootstrapConfigError, match=r"signal9-bootstrap:stateVersionRetentionDay = 500: unknown key"):
        run_program("main", config=config, project=BOOTSTRAP_PROJECT)


def test_cli_plans_and_checks_the_bootstrap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--project", "bootstrap", "--stack", "main"]) == 0
    out = capsys.readouterr().out
    assert "signal9-bootstrap stack 'main'" in out and "aws:cloudtrail/trail:Trail" in out
    assert main(["check", "--project", "bootstrap", "--stack", "main"]) == 0
    assert "all rules pass" in capsys.readouterr().out
    assert main(["plan", "--project", "bootstrap", "--stack", "nope"]) == 2
    assert "bootstrap/Pulumi.nope.yaml not found (stacks: main)" in capsys.readouterr().err
