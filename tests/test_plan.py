"""`signal9 plan`: the stable JSON contract and the human summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from signal9 import catalog, stackfile
from signal9.stackfile import ROOT
from signal9_tools import plan
from signal9_tools.cli import main
from signal9_tools.mockrun import ProgramRun
from tests.fixtures import reuse_planned_runs

ARN = re.compile(r"^arn:aws:[a-z0-9-]+:(us-east-1)?:(123456789012)?:")


def test_json_document_shape(dev: ProgramRun) -> None:
    document = dev.to_json()
    assert set(document) == {"project", "stack", "resources", "outputs", "functions"}
    assert (document["project"], document["stack"]) == ("signal9", "dev")
    names = {r["name"] for r in document["resources"]}
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "parent", "urn", "aliases", "inputs"}
        assert resource["parent"] is None or resource["parent"] in names
        assert resource["urn"].startswith("urn:pulumi:dev::signal9::") and resource["urn"].endswith(
            f"{resource['type']}::{resource['name']}"
        )
        assert resource["aliases"] == []  # none yet: tests/test_refactor_safety.py says when one is needed
        assert isinstance(resource["inputs"], dict)
    json.dumps(document)  # serialisable as is


def test_cross_references_read_like_a_real_deployment(dev: ProgramRun) -> None:
    arns = [value for value in dev.outputs["tableArns"].values()]
    assert arns and all(ARN.match(arn) for arn in arns)


def test_cli_json_and_summary(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    reuse_planned_runs(monkeypatch, plan)  # the shipped stack's plan, as the other tests have it
    assert main(["plan", "--stack", "staging", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "staging"
    types = [r["type"] for r in document["resources"]]
    assert types.count("aws:dynamodb/table:Table") == 8

    assert main(["plan", "--stack", "staging"]) == 0
    summary = capsys.readouterr().out
    assert "signal9 stack 'staging' in us-east-1" in summary
    assert re.search(r"tables \(8\)\n\s+8  aws:dynamodb/table:Table", summary)


def test_unknown_stack_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "qa"]) == 2
    assert "Pulumi.qa.yaml not found" in capsys.readouterr().err


def test_stack_outputs_point_operators_at_every_entry_point(dev: ProgramRun) -> None:
    outputs = dev.outputs
    assert set(outputs["functionNames"]) == set(catalog.FUNCTION_NAMES)
    assert all(ARN.match(arn) for arn in outputs["functionArns"].values())
    assert set(outputs["deadLetterQueueUrls"]) == set(catalog.FUNCTION_NAMES)
    assert set(outputs["secretArns"]) == set(catalog.SECRET_NAMES)
    assert outputs["eventBusName"] == "signal9-dev"
    assert outputs["alarmTopicArn"] == "arn:aws:sns:us-east-1:123456789012:signal9-dev-alarms"
    assert outputs["dashboardUrl"].endswith("region=us-east-1#dashboards:name=signal9-dev")


def test_deploy_time_warnings_are_collected_and_printed(
    dev: ProgramRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert any("PLACEHOLDER" in warning for warning in dev.warnings)
    reuse_planned_runs(monkeypatch, plan)  # the run above, printed by the command
    assert main(["plan", "--stack", "dev"]) == 0
    assert "warning: secret signal9/dev/alpaca stores PLACEHOLDER values" in capsys.readouterr().err


def test_a_plaintext_secret_in_the_stack_file_fails_the_plan_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same rule as `signal9 check`'s stack-file-secrets-encrypted, so plan cannot pass what check fails."""
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(
        (ROOT / "Pulumi.dev.yaml").read_text() + "  signal9:secrets:\n    alpaca:\n      keyId: PKTESTVALUE0000\n"
    )
    monkeypatch.setattr(stackfile, "stack_file", lambda stack: path)
    assert main(["plan", "--stack", "dev"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "signal9 plan: Pulumi.dev.yaml: signal9:secrets.alpaca.keyId is plaintext in the stack file; "
        "run: pulumi config set --secret --path signal9:secrets.alpaca.keyId <value>"
    ), captured.err
    assert "PKTESTVALUE0000" not in captured.err + captured.out


def test_json_resource_order_does_not_depend_on_registration_order(dev: ProgramRun) -> None:
    """Resources register from several threads; the document is sorted so two plans can be compared."""
    shuffled = ProgramRun(dev.stack, dev.region, list(reversed(dev.resources)), dev.outputs, project=dev.project)
    assert json.dumps(shuffled.to_json()) == json.dumps(dev.to_json())
    keys = [(r["type"], r["name"]) for r in dev.to_json()["resources"]]
    assert keys == sorted(keys)
