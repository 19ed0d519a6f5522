"""`signal9 local up`: the whole stack deployed into moto, then the end-to-end smoke."""

from __future__ import annotations

import io
import json
import re
import socket
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pulumi
import pulumi_aws
import pytest

from signal9 import catalog
from signal9.naming import Naming
from signal9.stackfile import read_stack_config
from signal9_tools.emulator.cli import LocalRun, deploy_and_smoke
from signal9_tools.emulator.collection import EndpointConfigError, assets_landed, given_endpoints
from signal9_tools.emulator.provisioner import MotoProvisioner, UnsupportedResourceError, archive_zip
from signal9_tools.emulator.smoke import PACING_SPEEDUP, Smoke, paced_on
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.server import CompressedClock, serving
from signal9_tools.mockrun import ProgramRun, run_program

# The tests that break one thing on purpose serve the built-in fakes' first companies only:
# every flow still runs (familiar tickers, earnings, news), with fewer first pollenations.
SMALL_UNIVERSE = 12


@pytest.fixture(scope="module")
def timed_local_run() -> tuple[LocalRun, float]:
    """The dev stack's local run and the wall-clock seconds it took as a whole."""
    start = time.perf_counter()
    run = deploy_and_smoke("dev")
    return run, time.perf_counter() - start


@pytest.fixture(scope="module")
def local_run(timed_local_run: tuple[LocalRun, float]) -> LocalRun:
    return timed_local_run[0]


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
    assert "moto keeps no Lambda dead-letter config" in text


def test_report_shows_each_phase_time_measured_within_the_run(timed_local_run: tuple[LocalRun, float]) -> None:
    run, wall = timed_local_run
    (line,) = [line for line in run.text().splitlines() if line.startswith("time: ")]
    shown = {name: float(seconds) for name, seconds in re.findall(r"(\w+) (\d+\.\d) s", line)}
    assert {"deploy", "smoke"} <= set(shown) == set(run.timings)
    for name, seconds in run.timings.items():
        assert seconds > 0 and abs(shown[name] - seconds) <= 0.05, name
    # The phases are disjoint parts of the run: together no longer than the whole.
    assert sum(run.timings.values()) <= wall


def test_the_emulator_is_shut_down_afterwards(local_run: LocalRun) -> None:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        port = local_run.endpoint_port
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_schedules_fire_at_their_next_fire_time_and_only_when_enabled(local_run: LocalRun) -> None:
    details = {check.name: check.detail for check in local_run.report.checks}
    for function in catalog.scheduled_functions():
        trigger = catalog.schedule_trigger(function)
        detail = details[f"schedule {trigger.schedule} fired"]
        assert detail.startswith(f"ENABLED, {trigger.expression} America/New_York: next fire ")
        assert f"delivered as that run to signal9-dev-{function.name} -> " in detail
        # Monday to Saturday only: the next fire time never falls on a Sunday.
        assert re.search(r"next fire (Mon|Tue|Wed|Thu|Fri|Sat) \d{4}-\d{2}-\d{2} \d{2}:\d{2} E[SD]T;", detail)


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

    run = deploy_and_smoke("dev", on_deployed=miswire, universe=SMALL_UNIVERSE)
    failed = {check.name: check.detail for check in run.report.failed}
    assert "functions configured" in failed
    assert "TriggerRegularPollenation environment differs" in failed["functions configured"]
    assert "SyncNewsSentiment async retries 0, the catalog says 2" in failed["functions configured"]
    assert "rule signal9-dev-earningsProcessed is DISABLED as deployed" in failed["event rules enabled"]
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

    def recording(smoke: Smoke, function_arn_or_name: str, event: Any) -> Any:
        invoked.append(smoke.configuration(function_arn_or_name)["FunctionName"])
        return invoke(smoke, function_arn_or_name, event)

    monkeypatch.setattr(Smoke, "invoke", recording)
    values = read_stack_config("dev")
    values["signal9:schedules"] = json.dumps({"sync-news-sentiment": {"enabled": False}})

    run = deploy_and_smoke("dev", config_values=values, universe=SMALL_UNIVERSE)

    failed = {check.name: check.detail for check in run.report.failed}
    assert set(failed) == {
        "functions configured",
        "malformed event ends in the DLQ",
        "failing collector run ends in its DLQ",
    }, run.text()
    assert "collected: newsSentiment" not in {check.name for check in run.report.checks}  # its schedule is off
    assert (
        "SyncEarningsCalendar's role may not send to its dead-letter target signal9-dev-SyncAssets-dlq"
        in (failed["failing collector run ends in its DLQ"])
    )
    assert (
        "PollenateAsset dead-letter target signal9-dev-SyncAssets-dlq, not its own signal9-dev-PollenateAsset-dlq"
        in failed["functions configured"]
    )
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
    assert Naming("dev").function("SyncAssets") in invoked


def test_the_provisioner_creates_rules_and_schedules_in_the_programs_state(aws: None) -> None:
    provisioner = MotoProvisioner("us-east-1")

    def create(typ: str, resource: str, **inputs: object) -> None:
        provisioner.new_resource(pulumi.runtime.MockResourceArgs(typ=typ, name=resource, inputs=inputs, custom=True))

    create("aws:cloudwatch/eventBus:EventBus", "bus", name="bus")
    pattern = json.dumps({"source": ["x"]})
    create(
        "aws:cloudwatch/eventRule:EventRule",
        "off",
        name="off",
        eventBusName="bus",
        eventPattern=pattern,
        state="DISABLED",
    )
    create("aws:cloudwatch/eventRule:EventRule", "default", name="default", eventBusName="bus", eventPattern=pattern)
    events = boto3.client("events")
    assert events.describe_rule(Name="off", EventBusName="bus")["State"] == "DISABLED"
    assert events.describe_rule(Name="default", EventBusName="bus")["State"] == "ENABLED"
    create("aws:scheduler/scheduleGroup:ScheduleGroup", "group", name="group")
    target = {
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "input": "{}",
        "retryPolicy": {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 3600},
        "deadLetterConfig": {"arn": "arn:aws:sqs:us-east-1:123456789012:q"},
    }
    create(
        "aws:scheduler/schedule:Schedule",
        "paused",
        name="paused",
        groupName="group",
        scheduleExpression="cron(0 6 ? * MON-SAT *)",
        scheduleExpressionTimezone="America/New_York",
        flexibleTimeWindow={"mode": "OFF"},
        state="DISABLED",
        target=target,
    )
    assert boto3.client("scheduler").get_schedule(Name="paused", GroupName="group")["State"] == "DISABLED"


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


# --- collection ----------------------------------------------------------------------------


def test_the_collectors_land_data_from_the_built_in_fakes(local_run: LocalRun) -> None:
    checks = {check.name: check for check in local_run.report.checks}
    assert checks["credentials stored"].detail.startswith(
        "both secrets point at the built-in fakes: alpaca http://127.0.0.1:"
    )
    # The dev universe: 40 companies, of which the Alpaca fake lists 39 as active us_equity.
    assert checks["collected: assets"].detail == "assets: 39 active, 39 with volume, each once in both indexes"
    assert re.fullmatch(r"earningsCalendar: \d+ rows for \d+ symbols", checks["collected: earningsCalendar"].detail)
    assert re.fullmatch(r"newsSentiment: \d+ items for \d+ symbols", checks["collected: newsSentiment"].detail)
    assert checks["second collector runs write nothing new"].ok
    fault = checks["failing collector run ends in its DLQ"].detail
    assert "rejected 3x by signal9-dev-SyncEarningsCalendar (InvalidApiKeyError" in fault
    assert "signal9-dev-SyncEarningsCalendar-dlq holds the event" in fault
    assert "test-av-key-0000" not in local_run.text() and "test-alpaca-secret-key-0000" not in local_run.text()


def test_given_endpoints_need_every_url_and_key() -> None:
    with pytest.raises(EndpointConfigError, match="missing --alpaca-data-url, --alphavantage-url"):
        given_endpoints("http://127.0.0.1:1", None, None, {})
    with pytest.raises(EndpointConfigError, match="set SIGNAL9_ALPACA_SECRET_KEY, SIGNAL9_ALPHAVANTAGE_API_KEY"):
        given_endpoints("http://a", "http://b", "http://c", {"SIGNAL9_ALPACA_KEY_ID": "test-key-id-0000"})
    assert given_endpoints(None, None, None, {}) is None


def test_local_up_against_given_endpoints_asserts_invariants() -> None:
    # A second instance of the fakes, on other ports, with another universe size: never a real API.
    alpaca, alphavantage = AlpacaFake(size=SMALL_UNIVERSE), AlphaVantageFake(SMALL_UNIVERSE)
    with serving(alpaca) as alpaca_server, serving(alphavantage) as alphavantage_server:
        environ = {
            "SIGNAL9_ALPACA_KEY_ID": alpaca.key_id,
            "SIGNAL9_ALPACA_SECRET_KEY": alpaca.secret_key,
            "SIGNAL9_ALPHAVANTAGE_API_KEY": alphavantage.api_key,
        }
        endpoints = given_endpoints(alpaca_server.url, alpaca_server.url, alphavantage_server.url, environ)
        # Given endpoints are paced in real time (they may be the real APIs); these are fakes.
        with paced_on(CompressedClock(PACING_SPEEDUP)):
            run = deploy_and_smoke("dev", endpoints=endpoints)
        served = {r.path for r in alpaca_server.requests} | {r.path for r in alphavantage_server.requests}
    assert run.report.failed == [], run.text()
    checks = {check.name: check.detail for check in run.report.checks}
    assert checks["credentials stored"] == (
        f"both secrets point at the given endpoints: alpaca {alpaca_server.url} (data {alpaca_server.url}), "
        f"alphavantage {alphavantage_server.url}"
    )
    active = len(alpaca.active_symbols())
    assert checks["collected: assets"] == f"assets: {active} active, {active} with volume, each once in both indexes"
    assert "failing collector run ends in its DLQ" not in checks  # a given endpoint cannot be told to fail
    assert {"/v2/assets", "/v2/stocks/bars", "/query"} <= served


def test_the_assets_check_fails_for_a_duplicate_a_missing_or_an_unlisted_symbol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    symbols = Counter({"AAPL": 2, "MSFT": 1})  # what the index Query returns, per symbol
    monkeypatch.setattr("signal9_tools.emulator.collection.index_symbols", lambda region, table, index: symbols)
    with pytest.raises(AssertionError, match=r"status-index holds \['AAPL'\] more than once"):
        assets_landed("us-east-1", Naming("dev"), {"AAPL", "MSFT"}, 0)
    symbols = Counter({"AAPL": 1})
    with pytest.raises(AssertionError, match=r"misses \['MSFT'\] \(1; SyncAssets skipped 0\)"):
        assets_landed("us-east-1", Naming("dev"), {"AAPL", "MSFT"}, 0)
    symbols = Counter({"AAPL": 1, "MSFT": 1, "GONE": 1})
    with pytest.raises(AssertionError, match=r"holds \['GONE'\], which the Alpaca list does not"):
        assets_landed("us-east-1", Naming("dev"), {"AAPL", "MSFT"}, 0)
