"""`signal9 local up`: the whole stack deployed into moto, then the end-to-end smoke."""

from __future__ import annotations

import io
import json
import socket
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pulumi
import pytest

from signal9 import catalog
from signal9.emulator.cli import LocalRun, deploy_and_smoke
from signal9.emulator.provisioner import MotoProvisioner, UnsupportedResourceError, archive_zip
from signal9.mockrun import ProgramRun, run_program
from signal9.naming import Naming


@pytest.fixture(scope="module")
def local_run() -> LocalRun:
    return deploy_and_smoke("dev")


def test_every_resource_is_created_in_the_emulator_and_every_check_passes(local_run: LocalRun) -> None:
    assert local_run.report.failed == [], local_run.text()
    custom = [r for r in local_run.plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert len(custom) > 90
    names = [check.name for check in local_run.report.checks]
    for schedule in catalog.SCHEDULE_NAMES:
        assert f"schedule {schedule} fired" in names
    for expected in ("tables healthy", "malformed event ends in the DLQ", "emitted events routed by the rules"):
        assert expected in names


def test_identifiers_come_from_moto_and_flow_between_resources(local_run: LocalRun) -> None:
    fleet = {r.inputs["name"]: r.plain_inputs for r in local_run.plan.of_type("aws:lambda/function:Function")}
    roles = {r.inputs["name"] for r in local_run.plan.of_type("aws:iam/role:Role")}
    for function in catalog.FUNCTIONS:
        inputs = fleet[Naming("dev").function(function.name)]
        # The role ARN the function received is the one moto returned when the role was created.
        assert inputs["role"].split("/")[-1] in roles
        assert inputs["role"].startswith("arn:aws:iam::123456789012:role/")


def test_report_states_what_the_emulator_does_instead_of_aws(local_run: LocalRun) -> None:
    text = local_run.text()
    assert "passed, 0 failed" in text
    assert "public layer" in text and "stand-in" in text
    assert "query definitions" in text
    assert "deploy" in text and "smoke" in text


def test_the_emulator_is_shut_down_afterwards(local_run: LocalRun) -> None:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        port = local_run.endpoint_port
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_broken_wiring_is_caught_with_a_clear_message() -> None:
    broken = Naming("dev").function("TriggerRegularPollenation")

    def miswire(plan: ProgramRun) -> None:
        client = boto3.client("lambda", region_name=plan.region)
        variables = client.get_function_configuration(FunctionName=broken)["Environment"]["Variables"]
        variables["SIGNAL9_TABLE_ASSETS"] = "signal9-dev-assetz"
        client.update_function_configuration(FunctionName=broken, Environment={"Variables": variables})
        # ...and a grant outside the access matrix slipped onto another role.
        boto3.client("iam", region_name=plan.region).put_role_policy(
            RoleName=Naming("dev").role("MarkEarningsProcessed"),
            PolicyName="too-generous",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": "*"}],
                }
            ),
        )

    run = deploy_and_smoke("dev", on_deployed=miswire)
    failed = {check.name: check.detail for check in run.report.failed}
    assert "functions configured" in failed
    assert "TriggerRegularPollenation environment differs" in failed["functions configured"]
    assert "schedule trigger-regular-pollenation fired" in failed
    assert "ResourceNotFoundException" in failed["schedule trigger-regular-pollenation fired"]
    assert "MarkEarningsProcessed may dynamodb:Scan" in failed["roles allow exactly the access matrix"]


def test_an_unsupported_resource_type_is_an_error_not_skipped() -> None:
    provisioner = MotoProvisioner("us-east-1")
    args = pulumi.runtime.MockResourceArgs(typ="aws:ec2/instance:Instance", name="web", inputs={}, custom=True)
    with pytest.raises(UnsupportedResourceError, match="cannot create aws:ec2/instance:Instance"):
        provisioner.new_resource(args)


def test_function_archives_are_read_where_the_program_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # `signal9 local up` started from outside the checkout
    run = run_program("dev")
    (code,) = [
        r.inputs["code"]
        for r in run.of_type("aws:lambda/function:Function")
        if r.inputs["name"] == Naming("dev").function("PollenateAsset")
    ]
    with zipfile.ZipFile(io.BytesIO(archive_zip(code))) as bundle:
        assert "functions/pollenate_asset/handler.py" in bundle.namelist()


def test_endpoint_is_loopback(local_run: LocalRun) -> None:
    assert urlparse(local_run.endpoint).hostname == "127.0.0.1"
