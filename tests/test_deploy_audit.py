"""`signal9 local up` judges each deploy call against the generated deploy policy; a missing action fails it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from signal9 import deploy_policy, keys
from signal9.naming import Naming
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.deploy_audit import DeployAudit

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

TABLE = "aws:dynamodb/table:Table"
CHECK = "deploy calls allowed by the deploy policy"


def without(action: str) -> deploy_policy.TypeGrants:
    entry = deploy_policy.TYPE_GRANTS[TABLE]
    grants = tuple(dataclasses.replace(g, actions=tuple(a for a in g.actions if a != action)) for g in entry.grants)
    return dataclasses.replace(entry, grants=grants)


def test_a_removed_action_fails_the_emulated_deploy_naming_action_and_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(deploy_policy.TYPE_GRANTS, TABLE, without("dynamodb:UpdateContinuousBackups"))
    run = deploy_and_smoke("dev", scope="none")  # the audit judges the deploy itself: no smoke needed
    assert [check.name for check in run.report.checks] == [CHECK, "deploy requests within AWS's constraints"]
    assert [check.name for check in run.report.failed] == [CHECK]
    detail = run.report.failed[0].detail
    assert (
        "does not allow: dynamodb:UpdateContinuousBackups on arn:aws:dynamodb:us-east-1:123456789012:table/signal9-dev-"
        in detail
    )
    # One denial per table, nothing else.
    assert detail.count("dynamodb:UpdateContinuousBackups") == 8 and detail.count(" on ") == 8


def test_an_audit_that_judged_nothing_fails() -> None:
    audit = DeployAudit.for_stack("dev", "123456789012", "us-east-1")
    assert not audit.passed and "no deploy call was judged" in audit.summary()
    audit.judge("dynamodb", "CreateTable", {"TableName": "signal9-dev-assets"})
    assert audit.passed and audit.summary().startswith("1 deploy calls")


def test_a_stack_key_policy_refusing_the_deploy_role_an_alias_fails_the_emulated_deploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same key-policy check as preflight, on the calls the emulated deploy really makes."""
    original = keys.key_policy

    def without_create_alias(*args: Any) -> dict[str, Any]:
        policy = original(*args)
        calls = deploy_policy.key_calls({"aws:kms/key:Key", "aws:kms/alias:Alias"}, service_use=True)
        policy["Statement"][0]["Action"] = [a for a in calls if a != "kms:CreateAlias"]
        return policy

    monkeypatch.setattr(keys, "key_policy", without_create_alias)
    run = deploy_and_smoke("dev", scope="none")
    assert [check.name for check in run.report.failed] == [CHECK]
    detail = run.report.failed[0].detail
    assert detail.startswith("the key policies refuse the deploy role signal9-deploy-dev: kms:CreateAlias on ")
    assert detail.endswith("no statement allows it to the caller, nor delegates it to the account's IAM policies")


def test_the_audit_judges_the_keys_calls_against_their_policies() -> None:
    audit = DeployAudit.for_stack("dev", "123456789012", "us-east-1")
    policy = json.dumps(keys.key_policy(keys.KeyScope(Naming("dev"), "123456789012", "aws", "us-east-1"), False))
    audit.judge("kms", "CreateKey", {"Policy": policy, "Tags": []})
    audit.key_created({"Policy": policy}, {"KeyMetadata": {"KeyId": "k-1"}})
    audit.judge("kms", "EnableKeyRotation", {"KeyId": "k-1"})
    audit.judge("kms", "CreateAlias", {"AliasName": "alias/signal9-dev", "TargetKeyId": "k-1"})
    assert audit.key_calls == ["kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:CreateAlias"]
    assert audit.passed, audit.summary()
    audit.judge("kms", "PutKeyPolicy", {"KeyId": "k-1", "Policy": json.dumps({"Statement": []})})
    audit.judge("kms", "ScheduleKeyDeletion", {"KeyId": "k-1"})
    assert audit.key_refused == [
        "kms:ScheduleKeyDeletion on k-1: no statement allows it to the caller, nor delegates it to the "
        "account's IAM policies"
    ]
