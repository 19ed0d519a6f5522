"""`signal9 local up` judges each deploy call against the generated deploy policy; a missing action stops it."""

from __future__ import annotations

import dataclasses

import pytest

from signal9 import deploy_policy
from signal9.cli import main
from signal9.emulator.cli import deploy_and_smoke
from signal9.emulator.deploy_audit import DeployCallDeniedError

TABLE = "aws:dynamodb/table:Table"


def without(action: str) -> deploy_policy.TypeGrants:
    entry = deploy_policy.TYPE_GRANTS[TABLE]
    grants = tuple(dataclasses.replace(g, actions=tuple(a for a in g.actions if a != action)) for g in entry.grants)
    return dataclasses.replace(entry, grants=grants)


def test_a_removed_action_stops_the_emulated_deploy_naming_action_and_resource(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(deploy_policy.TYPE_GRANTS, TABLE, without("dynamodb:UpdateContinuousBackups"))
    with pytest.raises(DeployCallDeniedError) as denied:
        deploy_and_smoke("dev")
    assert "dynamodb:UpdateContinuousBackups on arn:aws:dynamodb:us-east-1:123456789012:table/signal9-dev-" in str(
        denied.value
    )
    assert main(["local", "up", "--stack", "dev"]) == 1
    assert "deploy stopped: the dev deploy policy does not allow dynamodb:UpdateContinuousBackups" in capsys.readouterr().err
