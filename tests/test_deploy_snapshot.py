"""A kept deploy restored into later emulators (signal9_tools/emulator/snapshot.py): the same stack,
records and report as the deploy it copies, and each run an account of its own."""

from __future__ import annotations

import gc
import re

import boto3
import pytest

from signal9.naming import Naming
from signal9.stackfile import read_stack_config
from signal9_tools.emulator.cli import LocalRun, deploy_and_smoke
from signal9_tools.emulator.snapshot import DeploySnapshot
from signal9_tools.mockrun import ProgramRun
from tests.local_support import DEV_AS_SHIPPED

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

DEV = Naming("dev")


def inventory() -> dict[str, list[str]]:
    """What the running emulator holds of the stack, read through boto3."""
    return {
        "tables": sorted(boto3.client("dynamodb").list_tables()["TableNames"]),
        "functions": sorted(f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]),
        "queues": sorted(boto3.client("sqs").list_queues().get("QueueUrls", [])),
        "rules": sorted(r["Name"] for r in boto3.client("events").list_rules(EventBusName=DEV.event_bus)["Rules"]),
        "assets": [str(i) for i in boto3.resource("dynamodb").Table(DEV.table("assets")).scan()["Items"]],
    }


def report(run: LocalRun) -> list[tuple[str, bool, str]]:
    """The run's checks, but for the figures that differ per run (the fakes' ports)."""
    return [(c.name, c.ok, re.sub(r"\d+", "#", c.detail)) for c in run.report.checks]


def test_a_restored_deploy_is_the_deploy_it_copies_each_run_changes_its_own_copy_and_only_it_is_restored() -> None:
    snapshot = DeploySnapshot()
    with pytest.raises(ValueError, match="this snapshot holds no deploy yet"):
        snapshot.restore("dev", read_stack_config("dev"))  # so the first run given it deploys
    seen: dict[str, dict[str, list[str]]] = {}

    def look(name: str) -> object:
        def observe(plan: ProgramRun) -> None:
            seen[name] = inventory()

        return observe

    def change(run: LocalRun) -> None:
        """Changes to the first copy only."""
        boto3.resource("dynamodb").Table(DEV.table("assets")).put_item(
            Item={"symbol": "LEFT", "lastPollenationDate": "2026-12-07", "status": "active"}
        )
        # A queue works in the copy (moto's queues hold a lock and a condition each)...
        url = boto3.client("sqs").get_queue_url(QueueName=DEV.dead_letter_queue("SyncAssets"))["QueueUrl"]
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody="x")
        received = boto3.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
        assert [m["Body"] for m in received] == ["x"]
        # ...and a function deleted is gone (moto's Lambda finds functions through a weak index too).
        functions = boto3.client("lambda")
        arn = functions.get_function(FunctionName=DEV.function("MarkEarningsProcessed"))["Configuration"]["FunctionArn"]
        functions.delete_function(FunctionName=arn)  # by ARN, as `local down` deletes
        assert len(functions.list_functions()["Functions"]) == 6
        with pytest.raises(functions.exceptions.ResourceNotFoundException):
            functions.get_function(FunctionName=arn)

    runs: dict[str, LocalRun] = {}
    for name in ("deployed", "first copy", "second copy"):
        gc.collect()  # the earlier runs' moto objects gone, as they soon are in a long process
        runs[name] = deploy_and_smoke(
            "dev",
            on_deployed=look(name),
            on_smoked=change if name == "first copy" else None,
            scope="none",  # the deploy's own checks only: the smoke runs on copies elsewhere (DEV_AS_SHIPPED)
            snapshot=snapshot,
        )
    deployed = runs["deployed"]
    assert set(deployed.timings) == {"deploy", "smoke"}
    assert snapshot.kept_stack == "dev"
    assert len(seen["deployed"]["tables"]) == 8 and len(seen["deployed"]["functions"]) == 7
    for name in ("first copy", "second copy"):
        copy = runs[name]
        assert set(copy.timings) == {"restored deploy", "smoke"}, name
        assert seen[name] == seen["deployed"], name  # the first copy's row and deletion are not in the second
        assert copy.plan.to_json() == deployed.plan.to_json() and copy.created == deployed.created, name
        assert report(copy) == report(deployed), name
    assert not deployed.report.failed and any(c.name.startswith("deploy calls allowed") for c in deployed.report.checks)
    # Only the stack and config it holds.
    changed = {**read_stack_config("dev"), "signal9:logRetentionDays": "7"}
    with pytest.raises(ValueError, match="this snapshot holds a deploy of 'dev' with other config values"):
        deploy_and_smoke("dev", config_values=changed, scope="none", snapshot=snapshot)
    with pytest.raises(ValueError, match="this snapshot holds a deploy of 'dev' not of 'staging'"):
        snapshot.restore("staging", read_stack_config("staging"))
    # Shared: an empty snapshot takes the deploy another holds; one that holds a deploy keeps it.
    shared = DeploySnapshot()
    shared.share(snapshot)
    restored = deploy_and_smoke("dev", scope="none", snapshot=shared)
    assert set(restored.timings) == {"restored deploy", "smoke"} and restored.created == deployed.created
    snapshot.share(DeploySnapshot())
    assert snapshot.kept_stack == "dev"
    DEV_AS_SHIPPED.share(snapshot)  # a deploy of the shipped dev stack: the process's, unless one was made
