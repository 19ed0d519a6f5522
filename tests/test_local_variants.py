"""`signal9 local up` runs of the dev stack broken on purpose (given endpoints: test_local_security.py).

Each test deploys its own emulator (a separate file from test_local.py, whose dev run is
shared, so the two spread over the test workers).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pulumi_aws
import pytest

from signal9 import catalog
from signal9.naming import Naming
from signal9.stackfile import read_stack_config
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.smoke import Smoke
from signal9_tools.mockrun import ProgramRun
from tests.local_support import DEV_AS_SHIPPED, SMALL_UNIVERSE

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)


def test_broken_wiring_is_caught_with_a_clear_message() -> None:
    broken = Naming("dev").function("TriggerRegularPollenation")

    def miswire(plan: ProgramRun) -> None:
        client = boto3.client("lambda", region_name=plan.region)
        variables = client.get_function_configuration(FunctionName=broken)["Environment"]["Variables"]
        variables["SIGNAL9_TABLE_ASSETS"] = "signal9-dev-assetz"
        client.update_function_configuration(FunctionName=broken, Environment={"Variables": variables})
        # ...Lambda's async retries switched off for another function...
        news = Naming("dev").function("SyncNewsSentiment")
        client.delete_function_event_invoke_config(FunctionName=news)  # moto's put appends, never replaces
        client.put_function_event_invoke_config(FunctionName=news, MaximumRetryAttempts=0)
        # ...a rule switched off (EventBridge then delivers nothing through it)...
        boto3.client("events", region_name=plan.region).disable_rule(
            Name=Naming("dev").rule(catalog.EARNINGS_PROCESSED), EventBusName=Naming("dev").event_bus
        )
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

    run = deploy_and_smoke("dev", on_deployed=miswire, universe=SMALL_UNIVERSE, snapshot=DEV_AS_SHIPPED)
    failed = {check.name: check.detail for check in run.report.failed}
    assert "verify: functions" in failed
    assert (
        "function environment signal9-dev-TriggerRegularPollenation: expected SIGNAL9_TABLE_ASSETS=signal9-dev-assets, "
        "found SIGNAL9_TABLE_ASSETS=signal9-dev-assetz; function environment resolves "
        "signal9-dev-TriggerRegularPollenation: expected 2 resources exist, found "
        "SIGNAL9_TABLE_ASSETS=signal9-dev-assetz (no such table)"
    ) in failed["verify: functions"]
    assert (
        "function async retries signal9-dev-SyncNewsSentiment: expected 2 retries, events up to 3600 s, "
        "found 0 retries, events up to unset s"
    ) in failed["verify: functions"]
    assert (
        "rule state signal9-dev-earningsProcessed: expected ENABLED, found DISABLED" in failed["verify: event routes"]
    )
    assert "0 earningsProcessed deliveries, expected " in failed["emitted events routed by the rules"]
    assert "schedule trigger-regular-pollenation fired" in failed
    assert "ResourceNotFoundException" in failed["schedule trigger-regular-pollenation fired"]
    assert "MarkEarningsProcessed may dynamodb:Scan" in failed["roles allow exactly the access matrix"]


def test_a_miswired_dead_letter_target_is_caught_and_a_disabled_schedule_not_fired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The deliberate bug, in the program: every function's dead-letter target is SyncAssets' queue.
    sync_assets_dlq = f"arn:aws:sqs:us-east-1:123456789012:{Naming('dev').dead_letter_queue('SyncAssets')}"
    original = pulumi_aws.lambda_.FunctionDeadLetterConfigArgs

    def miswired(target_arn: object) -> object:
        return original(target_arn=sync_assets_dlq)

    monkeypatch.setattr(pulumi_aws.lambda_, "FunctionDeadLetterConfigArgs", miswired)
    invoked: list[str] = []
    invoke = Smoke.invoke

    def recording(smoke: Smoke, function_arn_or_name: str, event: Any, request_id: str | None = None) -> Any:
        invoked.append(smoke.configuration(function_arn_or_name)["FunctionName"])
        return invoke(smoke, function_arn_or_name, event, request_id)

    monkeypatch.setattr(Smoke, "invoke", recording)
    values = read_stack_config("dev")
    values["signal9:schedules"] = json.dumps({"sync-news-sentiment": {"enabled": False}})

    run = deploy_and_smoke("dev", config_values=values, universe=SMALL_UNIVERSE)

    failed = {check.name: check.detail for check in run.report.failed}
    assert set(failed) == {
        "verify: functions",
        "malformed event ends in the DLQ",
        "failing collector run ends in its DLQ",
        # Neither message reached a queue: the runbook finds nothing to read, drop or replay.
        "signal9 status shows the deliberate failures",
        "signal9 dlq list reads why each was parked",
        "the malformed test event dropped",
        "signal9 dlq replay replays the failed run",
        "signal9 status all fresh after the runbook",
        "signal9 status verdicts",
    }, run.text()
    assert "collected: newsSentiment" not in {check.name for check in run.report.checks}  # its schedule is off
    assert (
        "SyncEarningsCalendar's role may not send to its dead-letter target signal9-dev-SyncAssets-dlq"
        in (failed["failing collector run ends in its DLQ"])
    )
    assert (
        "function dead-letter queue signal9-dev-PollenateAsset: expected signal9-dev-PollenateAsset-dlq, "
        "found signal9-dev-SyncAssets-dlq"
    ) in failed["verify: functions"]
    # Sent as Lambda would, with PollenateAsset's role: IAM refuses SyncAssets' queue.
    assert failed["malformed event ends in the DLQ"].startswith(
        "SmokeCheckError: signal9-dev-PollenateAsset's role may not send to its dead-letter target "
        "signal9-dev-SyncAssets-dlq: HTTP 403 AccessDenied"
    )
    disabled = {check.name: check for check in run.report.checks}["schedule sync-news-sentiment disabled"]
    assert disabled.ok
    assert disabled.detail == (
        "DISABLED as deployed: not fired (stack config signal9:schedules.sync-news-sentiment.enabled: false)"
    )
    assert "schedule sync-news-sentiment fired" not in {check.name for check in run.report.checks}
    assert Naming("dev").function("SyncNewsSentiment") not in invoked
    # `signal9 status` after the smoke: the switched-off schedule never ran; the collector made to fail
    # stays failed, its run never parked for a replay.
    assert run.status is not None
    verdicts = {row.function: row.verdict for row in run.status.collectors}
    assert verdicts["SyncNewsSentiment"] == "never ran" and verdicts["SyncEarningsCalendar"] == "failed"
    assert failed["signal9 status verdicts"] == (
        "SyncEarningsCalendar failed, expected fresh; "
        "verdict: NOT all fresh: SyncEarningsCalendar failed (runbook docs/runbooks/collector-late.md)"
    )
    assert Naming("dev").function("SyncAssets") in invoked
