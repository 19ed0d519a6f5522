"""`signal9 local up`: the whole stack deployed into moto, then the end-to-end smoke."""

from __future__ import annotations

import io
import itertools
import json
import re
import socket
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pulumi
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from components import packaging
from functions.shared import aws as shared_aws
from signal9 import catalog, config
from signal9.naming import Naming
from signal9_tools.emulator.cli import LocalRun, deploy_and_smoke
from signal9_tools.emulator.collection import EndpointConfigError, assets_landed, given_endpoints
from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.provisioner import MotoProvisioner, UnsupportedResourceError, archive_zip
from signal9_tools.emulator.server import Dispatcher
from signal9_tools.emulator.smoke import Smoke
from signal9_tools.emulator.smoke_run import SmokeClock
from signal9_tools.emulator.snapshot import DeploySnapshot
from signal9_tools.fakes.server import SystemClock
from signal9_tools.mockrun import ProgramRun, run_program
from tests.local_support import DEV_AS_SHIPPED, SMALL_UNIVERSE

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)


# The transports' parity test deploys over HTTP for real, into a snapshot of its own; the in-process run
# starts from a copy of that deploy.
HTTP_DEPLOY = DeploySnapshot()


@pytest.fixture(scope="module")
def timed_local_run(http_local_run: LocalRun) -> tuple[LocalRun, float]:
    """The dev stack's local run and the wall-clock seconds it took as a whole.

    Run as on a machine slowed down beyond measure: the fakes' wall clock (SystemClock) moves ten
    minutes at each reading. The smoke runs on its own fixed clock, so every check must still pass;
    on the clock the fakes used before, a second collector run found new data and failed.
    """
    ticks = itertools.count()
    wall = SystemClock.time
    start = time.perf_counter()
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(SystemClock, "time", lambda clock: wall(clock) + 600 * next(ticks))
        # A copy of the process's dev deploy (DEV_AS_SHIPPED: the HTTP run's, unless an earlier file's).
        run = deploy_and_smoke("dev", universe=SMALL_UNIVERSE, snapshot=DEV_AS_SHIPPED)
    return run, time.perf_counter() - start


@pytest.fixture(scope="module")
def local_run(timed_local_run: tuple[LocalRun, float]) -> LocalRun:
    return timed_local_run[0]


@pytest.fixture(scope="module")
def http_local_run() -> LocalRun:
    """The same run over the emulator's other transport: moto's HTTP server, as `--keep` serves it.

    It deploys over HTTP (``HTTP_DEPLOY`` is empty); its deploy becomes the process's dev deploy
    (``DEV_AS_SHIPPED``) unless an earlier file's already is.
    """
    run = deploy_and_smoke("dev", universe=SMALL_UNIVERSE, transport="http", snapshot=HTTP_DEPLOY)
    DEV_AS_SHIPPED.share(HTTP_DEPLOY)
    return run


def test_the_two_transports_give_the_same_report(local_run: LocalRun, http_local_run: LocalRun) -> None:
    """In-process (make local, the tests) and HTTP (--keep, other processes): the same checks, results and
    details, but for the figures that differ per run (ports, times, what the fakes published by then)."""

    def report(run: LocalRun) -> list[tuple[str, bool, str]]:
        return [(c.name, c.ok, re.sub(r"\d+(\.\d+)?", "#", c.detail)) for c in run.report.checks]

    assert local_run.endpoint is None and http_local_run.endpoint is not None
    assert set(http_local_run.timings) == {"deploy", "smoke"}  # deployed over HTTP, not restored
    assert report(local_run) == report(http_local_run)
    assert len(local_run.report.checks) > 40 and not local_run.report.failed


def test_every_resource_is_created_in_the_emulator_and_every_check_passes(local_run: LocalRun) -> None:
    assert local_run.report.failed == [], local_run.text()
    custom = [r for r in local_run.plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert len(custom) > 90
    names = [check.name for check in local_run.report.checks]
    for schedule in catalog.SCHEDULE_NAMES:
        assert f"schedule {schedule} fired" in names
    for expected in ("verify: tables", "malformed event ends in the DLQ", "emitted events routed by the rules"):
        assert expected in names


def test_the_smoke_walks_its_failures_through_the_runbook_and_ends_all_fresh(local_run: LocalRun) -> None:
    checks = {check.name: check for check in local_run.report.checks}
    walk = [
        "failing collector run ends in its DLQ",
        "signal9 status shows the deliberate failures",
        "signal9 dlq list reads why each was parked",
        "the revoked key replaced in its secret",
        "the malformed test event dropped",
        "signal9 dlq replay replays the failed run",
        "signal9 status all fresh after the runbook",
    ]
    names = [check.name for check in local_run.report.checks]
    assert [name for name in names if name in walk] == walk and all(checks[name].ok for name in walk)
    shown = checks["signal9 status shows the deliberate failures"].detail
    assert shown.startswith("`signal9 status`: SyncEarningsCalendar failed; NOT all fresh: ")
    assert "docs/runbooks/collector-late.md" in shown and "docs/runbooks/dlq-not-empty.md" in shown
    read = checks["signal9 dlq list reads why each was parked"].detail
    assert "signal9-dev-SyncEarningsCalendar-dlq ErrorCode 200, ErrorMessage 'InvalidApiKeyError: " in read
    assert "signal9-dev-PollenateAsset-dlq ErrorCode 200, ErrorMessage 'ValidationError: " in read
    assert checks["signal9 dlq replay replays the failed run"].detail.startswith(
        "`signal9 dlq replay --stack dev --function SyncEarningsCalendar`: exit 0, "
        "signal9-dev-SyncEarningsCalendar-dlq: replayed 1, kept 0"
    )
    # What `signal9 status --stack dev` answers on the kept stack: exit 0, and the report ends saying so.
    assert local_run.status is not None and local_run.status.healthy
    assert {row.function: row.verdict for row in local_run.status.collectors} == dict.fromkeys(
        [f.name for f in catalog.scheduled_functions()], "fresh"
    )
    assert local_run.text().splitlines()[-3:] == [
        "dead-letter queues: all empty",
        "alarms in ALARM: none",
        "verdict: all fresh",
    ]


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
    assert "handlers run on Python" in text and "aws-lambda-powertools" in text
    assert "query definitions" in text


def test_report_shows_each_phase_time_measured_within_the_run(timed_local_run: tuple[LocalRun, float]) -> None:
    run, wall = timed_local_run
    (line,) = [line for line in run.text().splitlines() if line.startswith("time: ")]
    shown = {name: float(seconds) for name, seconds in re.findall(r"(\w[\w ]*?) (\d+\.\d) s", line)}
    assert set(shown) == set(run.timings)
    assert set(shown) == {"restored deploy", "smoke"}  # (a copy of DEV_AS_SHIPPED)
    for name, seconds in run.timings.items():
        assert seconds > 0 and abs(shown[name] - seconds) <= 0.05, name
    # The phases are disjoint parts of the run: together no longer than the whole.
    assert sum(run.timings.values()) <= wall


def test_the_emulator_is_shut_down_afterwards(http_local_run: LocalRun) -> None:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        port = http_local_run.endpoint_port
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


def test_endpoint_is_loopback(http_local_run: LocalRun) -> None:
    assert urlparse(http_local_run.endpoint).hostname == "127.0.0.1"


# --- collection ----------------------------------------------------------------------------


def test_the_collectors_land_data_from_the_built_in_fakes(local_run: LocalRun) -> None:
    checks = {check.name: check for check in local_run.report.checks}
    assert checks["credentials stored"].detail.startswith(
        "both secrets point at the built-in fakes: alpaca http://127.0.0.1:"
    )
    # The small universe: the fakes' first companies, all listed by Alpaca as active us_equity.
    assert checks["collected: assets"].detail == (
        f"assets: {SMALL_UNIVERSE} active, {SMALL_UNIVERSE} with volume, each once in both indexes"
    )
    assert re.fullmatch(
        r"earningsCalendar: \d+ rows for \d+ symbols, each under a symbol Alpaca lists \(share classes included\)",
        checks["collected: earningsCalendar"].detail,
    )
    assert re.fullmatch(
        r"newsSentiment: \d+ items for \d+ symbols; the [1-9]\d* mentions of active assets the fake published "
        r"in the hour before the run stored",
        checks["collected: newsSentiment"].detail,
    )
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


def test_the_assets_check_fails_for_a_duplicate_a_missing_or_an_unlisted_symbol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    symbols = Counter({"AAPL": 2, "MSFT": 1})  # what the index Query returns, per symbol
    monkeypatch.setattr("signal9_tools.emulator.collection.index_symbols", lambda dynamodb, table, index: symbols)
    with pytest.raises(AssertionError, match=r"status-index holds \['AAPL'\] more than once"):
        assets_landed(None, Naming("dev"), {"AAPL", "MSFT"}, 0)
    symbols = Counter({"AAPL": 1})
    with pytest.raises(AssertionError, match=r"misses \['MSFT'\] \(1; SyncAssets skipped 0\)"):
        assets_landed(None, Naming("dev"), {"AAPL", "MSFT"}, 0)
    symbols = Counter({"AAPL": 1, "MSFT": 1, "GONE": 1})
    with pytest.raises(AssertionError, match=r"holds \['GONE'\], which the Alpaca list does not"):
        assets_landed(None, Naming("dev"), {"AAPL", "MSFT"}, 0)


PROBE = "def handler(event, context):\n    from functions.shared import aws\n    return aws.dynamodb()\n"


def probe_archive(revision: str) -> bytes:
    """A deployed archive whose handler answers with the DynamoDB resource its shared clients hand out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, path in packaging.archive_files(catalog.function("SyncAssets")).items():
            bundle.writestr(name, path.read_bytes())
        bundle.writestr("functions/probe.py", PROBE + f"# {revision}\n")
    return buffer.getvalue()


def test_each_function_keeps_its_own_warm_environment_and_new_code_starts_cold(
    aws: None, dev: ProgramRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    def configuration(smoke: Smoke, name: str) -> dict[str, Any]:
        return {
            "FunctionName": name,
            "FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            "MemorySize": 128,
            "Handler": "functions.probe.handler",
            "Environment": {"Variables": {}},
        }

    deployed = {"SyncAssets": probe_archive("1"), "SyncNewsSentiment": probe_archive("1")}
    monkeypatch.setattr(Smoke, "configuration", configuration)
    monkeypatch.setattr(Smoke, "deployed_archive", lambda smoke, name: deployed[name])
    smoke = Smoke(dev, config.parse({}, "Pulumi.dev.yaml"), LambdaDeliveries(), {}, {})
    try:
        first = smoke.invoke("SyncAssets", {})
        assert smoke.invoke("SyncAssets", {}) is first  # warm: the same clients (and cached secrets)
        other = smoke.invoke("SyncNewsSentiment", {})
        assert other is not first  # each function has its own execution environment...
        assert smoke.invoke("SyncAssets", {}) is first  # ...which stays warm while others run
        deployed["SyncAssets"] = probe_archive("2")  # new code deployed: a new (cold) environment
        assert smoke.invoke("SyncAssets", {}) is not first
        tooling = shared_aws.dynamodb()  # the tooling's own copy of the module was never used
        assert tooling is not first and tooling is not other
    finally:
        smoke.environments.close()


def test_the_emulators_dispatcher_remembers_moto_s_own_answer_per_host() -> None:
    dispatcher, moto = Dispatcher(), DomainDispatcherApplication(create_backend_app)
    hosts = [
        None,
        "moto_api",
        "dynamodb",
        *(f"{s}.us-east-1.amazonaws.com" for s in ("dynamodb", "lambda", "sqs", "iam")),
    ]
    for host in hosts * 2:  # the second pass answers from what the first remembered
        assert dispatcher.get_backend_for_host(host) == moto.get_backend_for_host(host), host
    assert set(dispatcher.backends) == set(hosts)


def test_the_smoke_clock_stands_at_its_start_until_released() -> None:
    start = datetime(2026, 11, 2, 15, tzinfo=UTC)
    clock = SmokeClock(start)
    # However long the machine takes between readings: a millisecond each, runs recorded in order.
    assert [clock(), clock(), clock()] == [start + timedelta(milliseconds=n) for n in range(3)]
    clock.release()  # a kept emulator: outside clients' runs are recorded at the wall clock's time
    before = datetime.now(UTC)
    assert before <= clock() <= datetime.now(UTC)
