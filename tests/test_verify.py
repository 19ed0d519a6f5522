"""`signal9 verify` against the dev stack deployed into the emulator, as a first `pulumi up` leaves it.

One emulated deploy for the whole file (``kept``; the smoke's configuration checks only, so nothing
has run yet, as after a first deploy): with the emulator still running, `signal9 verify --stack dev`
is run as an operator runs it, through its command line, then after each of seven breakages applied
with boto3 (each undone before the next), then with `--invoke`, which runs the collectors. Every call verify makes is recorded and judged with the policy of the role
that runs it in CI: the preview role's for verify, the deploy role's for `--invoke` and `status`.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from components.deploy_identities import deploy_statements, preview_statements
from components.secrets import PLACEHOLDER_TAG
from signal9 import catalog
from signal9.deploy_policy import StackTarget
from signal9.naming import Naming
from signal9_tools import verify
from signal9_tools.cli import main, parse
from signal9_tools.emulator.cli import MOTO_ACCOUNT_ID, LocalRun, deploy_and_smoke
from signal9_tools.emulator.deploy_audit import UNAUTHORISED_CALLS, calls_of
from signal9_tools.emulator.smoke_run import PACING_SPEEDUP
from signal9_tools.fakes.alpaca import AlpacaFake
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.cli import served_fakes
from signal9_tools.fakes.server import CompressedClock
from signal9_tools.mockrun import ProgramRun
from signal9_tools.sessions import aws_session
from tests.local_support import DEV_AS_SHIPPED, SMALL_UNIVERSE
from tests.test_cli import no_aws  # noqa: F401 - the fixture

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

DEV = Naming("dev")
REGION = "us-east-1"
Change = Callable[[], object]


def set_schedule_state(state: Literal["ENABLED", "DISABLED"]) -> None:
    scheduler = boto3.client("scheduler")
    name, group = DEV.schedule("sync-assets"), DEV.schedule_group
    schedule: dict[str, Any] = dict(scheduler.get_schedule(Name=name, GroupName=group))
    kept = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target", "Description")
    scheduler.update_schedule(Name=name, GroupName=group, State=state, **{k: schedule[k] for k in kept})


def set_alarm_state(state: Literal["ALARM", "OK"]) -> None:
    boto3.client("cloudwatch").set_alarm_state(
        AlarmName=f"{DEV.prefix}-SyncAssets-dlq-depth", StateValue=state, StateReason="tests/test_verify.py"
    )


def secret_variable() -> tuple[Change, Change]:
    """SyncNewsSentiment given a secret ARN that does not exist (it could not read its secret), and back."""
    client, name, variable = (
        boto3.client("lambda"),
        DEV.function("SyncNewsSentiment"),
        "SIGNAL9_SECRET_ALPHAVANTAGE_ARN",
    )
    variables = client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    stale = f"arn:aws:secretsmanager:{REGION}:{MOTO_ACCOUNT_ID}:secret:signal9/dev/alphavantage-old-AbCdEf"

    def set_to(value: str) -> None:
        client.update_function_configuration(
            FunctionName=name, Environment={"Variables": {**variables, variable: value}}
        )

    return (lambda: set_to(stale)), (lambda: set_to(variables[variable]))


def point_in_time_recovery(enabled: bool) -> None:
    boto3.client("dynamodb").update_continuous_backups(
        TableName=DEV.table("assets"), PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled}
    )


def queue_encryption(enabled: bool) -> None:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=DEV.dead_letter_queue("SyncAssets"))["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": str(enabled).lower()})


def dashboard() -> tuple[Change, Change]:
    cloudwatch = boto3.client("cloudwatch")
    body = cloudwatch.get_dashboard(DashboardName=DEV.prefix)["DashboardBody"]
    return (
        lambda: cloudwatch.delete_dashboards(DashboardNames=[DEV.prefix]),
        lambda: cloudwatch.put_dashboard(DashboardName=DEV.prefix, DashboardBody=body),
    )


def placeholder_tag(value: str) -> None:
    boto3.client("secretsmanager").tag_resource(
        SecretId=DEV.secret("alphavantage"), Tags=[{"Key": PLACEHOLDER_TAG, "Value": value}]
    )


@dataclass(frozen=True)
class Breakage:
    """What is broken with boto3, how it is undone, and the line verify must print: check and resource."""

    changes: Callable[[], tuple[Change, Change]]
    check: str
    resource: str


BREAKAGES: dict[str, Breakage] = {
    "schedule switched off": Breakage(
        lambda: (lambda: set_schedule_state("DISABLED"), lambda: set_schedule_state("ENABLED")),
        "schedule state",
        DEV.schedule("sync-assets"),
    ),
    "alarm in ALARM": Breakage(
        lambda: (lambda: set_alarm_state("ALARM"), lambda: set_alarm_state("OK")),
        "alarm not in ALARM",
        f"{DEV.prefix}-SyncAssets-dlq-depth",
    ),
    "function cannot find its secret": Breakage(
        secret_variable, "function environment resolves", DEV.function("SyncNewsSentiment")
    ),
    "table without point-in-time recovery": Breakage(
        lambda: (lambda: point_in_time_recovery(False), lambda: point_in_time_recovery(True)),
        "table point-in-time recovery",
        DEV.table("assets"),
    ),
    "dead-letter queue unencrypted": Breakage(
        lambda: (lambda: queue_encryption(False), lambda: queue_encryption(True)),
        "queue encryption",
        DEV.dead_letter_queue("SyncAssets"),
    ),
    "dashboard deleted": Breakage(dashboard, "dashboard exists", DEV.prefix),
    "secret back to its placeholder": Breakage(
        lambda: (lambda: placeholder_tag("apiKey"), lambda: placeholder_tag("none")),
        "secret holds no placeholder",
        DEV.secret("alphavantage"),
    ),
}


@dataclass
class Calls:
    """Every AWS call a session's clients make: (service, operation, parameters)."""

    made: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def session(self) -> boto3.Session:
        session = aws_session(region=REGION)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.made.append((model.service_model.service_name, model.name, dict(params)))

        session.events.register("before-parameter-build.*.*", record)
        return session


@dataclass
class Kept:
    """What verify answered against the kept emulator."""

    run: LocalRun
    clean: tuple[int, str] = (0, "")
    broken: dict[str, tuple[int, str]] = field(default_factory=dict)
    allowed: tuple[int, str] = (0, "")
    invoked: tuple[int, str] = (0, "")
    read_calls: Calls = field(default_factory=Calls)
    invoke_calls: Calls = field(default_factory=Calls)
    # (the IAM actions the calls need, those the role's policy refuses), judged while the emulator runs
    read_judged: tuple[set[str], list[str]] = (set(), [])
    invoke_judged: tuple[set[str], list[str]] = (set(), [])


def cli(*arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["verify", "--stack", "dev", *arguments])
    return code, out.getvalue()


def recorded(calls: Calls, *arguments: str) -> tuple[int, str]:
    """The command as `main` runs it, with a session whose calls are recorded."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify.run(parse(["verify", "--stack", "dev", *arguments]), session=calls.session())
    return code, out.getvalue()


@pytest.fixture(scope="module")
def kept(dev: ProgramRun) -> Kept:
    found: dict[str, Kept] = {}

    def exercise(run: LocalRun) -> None:
        kept = found["kept"] = Kept(run)
        kept.clean = cli()
        for name, breakage in BREAKAGES.items():
            apply, undo = breakage.changes()
            apply()
            kept.broken[name] = cli()
            undo()
        set_alarm_state("ALARM")
        kept.allowed = cli("--allow-alarm", "SyncAssets-dlq-depth")
        set_alarm_state("OK")
        kept.read_calls.made.clear()
        recorded(kept.read_calls)
        # --invoke: the collectors call the APIs, so the fakes serve again (the smoke's stopped with it).
        fakes = served_fakes(alpaca=AlpacaFake(size=SMALL_UNIVERSE), alphavantage=AlphaVantageFake(SMALL_UNIVERSE))
        compressed = CompressedClock(PACING_SPEEDUP)
        with fakes as served, run.environments.patched("functions.shared.pacing", "_clock", compressed):
            for secret, value in served.secrets().items():
                boto3.client("secretsmanager").put_secret_value(
                    SecretId=DEV.secret(secret), SecretString=json.dumps(value)
                )
            kept.invoked = recorded(kept.invoke_calls, "--invoke")
        kept.read_judged = judged(kept.read_calls, preview_statements(MOTO_ACCOUNT_ID, [REGION], "bucket"))
        target = StackTarget("dev", MOTO_ACCOUNT_ID, REGION)
        kept.invoke_judged = judged(kept.invoke_calls, deploy_statements(target, "bucket", "dev"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify, "run_program", lambda stack: dev)  # the plan each run computes, computed once
        deploy_and_smoke(
            "dev", universe=SMALL_UNIVERSE, on_smoked=exercise, scope="configuration", snapshot=DEV_AS_SHIPPED
        )
    return found["kept"]


def failures(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAILED: ")]


def test_the_kept_stack_verifies(kept: Kept) -> None:
    code, output = kept.clean
    assert code == 0, "\n".join(failures(output))
    assert output.splitlines()[0] == "signal9 verify: stack 'dev' against its plan"
    tally = output.splitlines()[-1]
    assert tally.startswith("verify: ") and tally.endswith(" passed, 0 failed")
    assert int(tally.split()[1]) > 200
    # One line per result: check, resource, expected, found.
    assert any(
        line.split() == ["PASS", "table", "point-in-time", "recovery", DEV.table("assets"), "ENABLED", "ENABLED"]
        for line in output.splitlines()
    )


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_each_breakage_exits_1_naming_the_check_and_the_resource(kept: Kept, name: str) -> None:
    code, output = kept.broken[name]
    breakage = BREAKAGES[name]
    assert code == 1
    lines = failures(output)
    assert any(line.startswith(f"FAILED: {breakage.check}: {breakage.resource}: expected ") for line in lines), lines
    # Only what was broken: every failure names the resource broken.
    assert all(f": {breakage.resource}: " in line for line in lines), lines


def test_the_failures_say_what_was_expected_and_found(kept: Kept) -> None:
    lines = {name: failures(kept.broken[name][1])[-1] for name in BREAKAGES}
    assert lines["schedule switched off"].endswith("expected ENABLED, found DISABLED")
    assert lines["function cannot find its secret"].endswith(
        "found SIGNAL9_SECRET_ALPHAVANTAGE_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        "signal9/dev/alphavantage-old-AbCdEf (no such secret)"
    )
    assert lines["dashboard deleted"].endswith("expected present, found missing")
    assert lines["secret back to its placeholder"].endswith(
        f"expected {PLACEHOLDER_TAG}=none, found {PLACEHOLDER_TAG}=apiKey"
    )


def test_an_allowed_alarm_may_be_in_alarm(kept: Kept) -> None:
    code, output = kept.allowed
    assert code == 0, "\n".join(failures(output))
    (line,) = [line for line in output.splitlines() if "allowed by --allow-alarm" in line]
    assert line.split()[:3] == ["PASS", "alarm", "not"] and line.split()[-1] == "ALARM"


def test_invoke_runs_each_scheduled_collector_then_status_is_all_fresh(kept: Kept) -> None:
    code, output = kept.invoked
    assert code == 0, "\n".join(failures(output))
    runs = [line.split() for line in output.splitlines() if "scheduled run succeeds" in line]
    assert [run[4] for run in runs] == [DEV.function(f.name) for f in catalog.scheduled_functions()]
    fresh = [line.split() for line in output.splitlines() if "status after the runs" in line]
    assert len(fresh) == len(catalog.scheduled_functions()) and all(line[-1] == "fresh" for line in fresh)
    invoked = {params["FunctionName"] for service, op, params in kept.invoke_calls.made if op == "Invoke"}
    assert {name.rsplit(":", 1)[-1] for name in invoked} == {
        DEV.function(f.name) for f in catalog.scheduled_functions()
    }


def judged(calls: Calls, statements: list[dict[str, Any]]) -> tuple[set[str], list[str]]:
    """The IAM actions the calls need, and those the statements do not allow (moto's evaluator)."""
    policies = [IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [s]})) for s in statements]
    target = StackTarget("dev", MOTO_ACCOUNT_ID, REGION)
    kms = boto3.client("kms", region_name=REGION)
    actions, refused = set(), []
    for service, operation, params in calls.made:
        if f"{service}:{operation}" in UNAUTHORISED_CALLS:
            continue
        if str(params.get("KeyId", "")).startswith("alias/"):  # authorised on the key the alias names
            params = {**params, "KeyId": kms.describe_key(KeyId=params["KeyId"])["KeyMetadata"]["Arn"]}
        for call in calls_of(target, service, operation, params):
            actions.add(call.action)
            if not any(
                p.is_action_permitted(call.action, call.resource) == PermissionResult.PERMITTED for p in policies
            ):
                refused.append(f"{call.action} on {call.resource}")
    return actions, refused


def test_verify_reads_only_what_the_preview_role_may(kept: Kept) -> None:
    actions, refused = kept.read_judged
    assert refused == []
    assert actions == set(verify.READ_CALLS)


def test_invoke_and_status_run_with_the_deploy_role(kept: Kept) -> None:
    target = StackTarget("dev", MOTO_ACCOUNT_ID, REGION)
    actions, refused = kept.invoke_judged
    assert refused == []
    assert {"lambda:InvokeFunction", "logs:FilterLogEvents", "cloudwatch:GetMetricData"} <= actions
    # Invoke is granted on the scheduled functions only.
    statement = next(s for s in deploy_statements(target, "bucket", "dev") if "lambda:InvokeFunction" in s["Action"])
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:lambda:{REGION}:{MOTO_ACCOUNT_ID}:function:{DEV.function(f.name)}"
        for f in catalog.scheduled_functions()
    )


def test_no_credentials_is_one_line_and_exit_2(
    no_aws: None,  # noqa: F811
    dev: ProgramRun,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(verify, "run_program", lambda stack: dev)
    assert main(["verify", "--stack", "dev"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("signal9 verify: no AWS credentials found for stack 'dev'")


def test_a_stack_not_deployed_here_is_one_line_and_exit_2(
    aws: None, dev: ProgramRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(verify, "run_program", lambda stack: dev)
    assert main(["verify", "--stack", "dev"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert "stack 'dev' does not exist: the stack is not deployed" in err and "AWS_ENDPOINT_URL" in err
