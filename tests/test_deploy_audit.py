"""`signal9 local up` judges each deploy call against the generated deploy policy; a missing action fails it."""

from __future__ import annotations

import dataclasses

import pytest

from signal9 import deploy_policy
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.deploy_audit import DeployAudit

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
