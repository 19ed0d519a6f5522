"""The ``signal9`` entry point: lazy subcommand imports, and AWS failures as one line with exit 2.

AWS is never called: "no credentials" and "unreachable" are real botocore failures against an
empty credential chain and a closed loopback port; "expired token" and "AccessDenied" are
canned HTTP responses handed to botocore's own parser by a ``before-send`` hook (a botocore
stub), shaped as SQS's JSON protocol answers them.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from signal9.stackfile import ROOT
from signal9_tools import cli
from tests.fixtures import reuse_planned_runs

FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "test-key-id-0000", "AWS_SECRET_ACCESS_KEY": "test-secret-0000"}


@pytest.mark.parametrize(("command", "module"), cli.SUBCOMMANDS.items())
def test_each_module_registers_exactly_its_subcommand(command: str, module: str) -> None:
    parser = cli.build_parser([module])
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(subparsers.choices) == [command]


# What `signal9 plan` (and so `pulumi up`, which runs the same program) need not load: the
# emulator, the AWS SDK, and the handlers' runtime libraries (the program reads only the names in
# functions.shared.telemetry, not Powertools or the X-Ray SDK).
NOT_LOADED_BY_PLAN = (
    "moto",
    "boto3",
    "botocore",
    "signal9_tools.emulator",
    "signal9_tools.dlq",
    "aws_lambda_powertools",
    "aws_xray_sdk",
)


def test_plan_loads_neither_the_emulator_nor_the_aws_sdk() -> None:
    probe = (
        "import sys; from signal9_tools.cli import main; code = main(['plan', '--stack', 'dev', '--json']); "
        f"print(sorted(m for m in {NOT_LOADED_BY_PLAN!r} if m in sys.modules), file=sys.stderr); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "dev"
    assert result.stderr.splitlines()[-1] == "[]"


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment with no credentials anywhere botocore looks (and no instance metadata call)."""
    for key in (
        *FAKE_KEYS,
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def dlq_list(capsys: pytest.CaptureFixture[str]) -> str:
    """``signal9 dlq list --stack dev``: must exit 2 with one line on stderr and nothing on stdout."""
    assert cli.main(["dlq", "list", "--stack", "dev"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("signal9 dlq: "), err
    assert "Traceback" not in err and "test-secret-0000" not in err
    return lines[0]


def test_missing_credentials(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    line = dlq_list(capsys)
    assert "no AWS credentials found for stack 'dev'" in line
    assert "AWS_PROFILE" in line and "operator role listed in signal9-bootstrap:operatorArns" in line


def test_unknown_profile(no_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AWS_PROFILE", "signal9-nowhere")
    line = dlq_list(capsys)
    assert "AWS profile 'signal9-nowhere' (AWS_PROFILE) is not in ~/.aws/config" in line


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_unreachable_endpoint(
    no_aws: None, closed_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    line = dlq_list(capsys)
    assert f"cannot reach AWS at http://127.0.0.1:{closed_port}" in line
    assert "AWS_ENDPOINT_URL is set" in line


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@pytest.fixture
def aws_answers(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, str]]:
    """Every SQS request gets the next canned (status, query error code, JSON __type) answer."""
    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)
    answers: list[tuple[int, str, str]] = []
    real_session = boto3.Session

    def answer(request: Any, **_: Any) -> Any:  # a before-send hook returning a response short-circuits the HTTP call
        status, query_code, json_type = answers.pop(0)
        body = json.dumps({"__type": f"com.amazon.coral.service#{json_type}", "message": "canned"}).encode()
        headers: Any = {"x-amzn-query-error": f"{query_code};Sender", "Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, _Body(body))

    def session(**kwargs: Any) -> boto3.Session:
        created = real_session(**kwargs)
        created.events.register("before-send.sqs", answer)
        return created

    monkeypatch.setattr(boto3, "Session", session)
    return answers


def test_expired_token(aws_answers: list[tuple[int, str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    aws_answers.append((403, "ExpiredToken", "ExpiredTokenException"))
    line = dlq_list(capsys)
    assert "the AWS session token has expired (ExpiredToken on GetQueueUrl)" in line
    assert "aws sso login" in line
    assert not aws_answers  # the one canned answer was used: no retry of an expired token


def test_access_denied(aws_answers: list[tuple[int, str, str]], capsys: pytest.CaptureFixture[str]) -> None:
    aws_answers.append((403, "AccessDenied", "AccessDeniedException"))
    line = dlq_list(capsys)
    assert "AccessDenied on GetQueueUrl for stack 'dev'" in line
    assert "sqs:GetQueueUrl" in line and "operator role listed in signal9-bootstrap:operatorArns" in line


def test_other_aws_errors_are_not_disguised(
    aws_answers: list[tuple[int, str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure the operator cannot fix by signing in stays a traceback (a bug to report)."""
    aws_answers.append((400, "AWS.SimpleQueueService.OverLimit", "OverLimit"))
    with pytest.raises(ClientError, match=r"OverLimit"):
        cli.main(["dlq", "list", "--stack", "dev"])


# --- operator input errors: one line on stderr, exit 2, never a traceback ----------------------


def one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """``signal9 <argv>`` exits 2 with exactly one line on stderr (the command's prefix) and no traceback."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"signal9 {argv[0]}: "), err
    return lines[0]


@pytest.fixture
def dev_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where ``Pulumi.dev.yaml`` is read from in this test (write the content under test to it)."""
    from signal9 import stackfile

    path = tmp_path / "Pulumi.dev.yaml"
    monkeypatch.setattr(stackfile, "stack_file", lambda stack: path)
    return path


OFFLINE_AND_AWS_COMMANDS = (
    ["plan", "--stack", "dev"],
    ["check", "--stack", "dev"],
    ["cost", "--stack", "dev"],
    ["local", "up", "--stack", "dev"],
    ["dlq", "list", "--stack", "dev"],
)


@pytest.mark.parametrize("argv", OFFLINE_AND_AWS_COMMANDS, ids=lambda argv: argv[0])
def test_a_yaml_syntax_error_is_one_line_naming_the_file_and_place(
    argv: list[str], dev_stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_stack_file.write_text("config:\n  aws:region: us-east-1\n  signal9:logRetentionDays: [14\n")
    line = one_line_exit_2(argv, capsys)
    assert "Pulumi.dev.yaml: not valid YAML" in line and "line 4" in line, line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- config\n- aws:region\n", "Pulumi.dev.yaml: must be a mapping with a config: key, not a list"),
        ("", "Pulumi.dev.yaml is empty"),
        ("# only a comment\n", "Pulumi.dev.yaml is empty"),
        ("confg:\n  aws:region: us-east-1\n", "Pulumi.dev.yaml: unknown top-level key 'confg'"),
        (
            "config:\n  signal9:logRetentionDays: 14\n  signal9:logRetentionDays: 30\n",
            "Pulumi.dev.yaml: line 3: duplicate key 'signal9:logRetentionDays'",
        ),
        ("config:\n  aws:region: us-east-9\n", "Pulumi.dev.yaml: aws:region = 'us-east-9': not an AWS region"),
    ],
    ids=["list", "empty", "comment-only", "misspelt-config", "duplicate-key", "unknown-region"],
)
def test_stack_file_shape_errors_are_one_line(
    content: str, expected: str, dev_stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev_stack_file.write_text(content)
    assert expected in one_line_exit_2(["plan", "--stack", "dev"], capsys)


def test_bootstrap_config_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from signal9 import stackfile

    project = tmp_path / "bootstrap"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((ROOT / "bootstrap" / name).read_text())
    stack = (ROOT / "bootstrap" / "Pulumi.main.yaml").read_text()
    (project / "Pulumi.main.yaml").write_text(stack.replace("example-org/signal9", "not a repository"))
    monkeypatch.setitem(stackfile.PROJECT_DIRECTORIES, stackfile.BOOTSTRAP_PROJECT, project)
    line = one_line_exit_2(["plan", "--project", "bootstrap", "--stack", "main"], capsys)
    assert "Pulumi.main.yaml: signal9-bootstrap:repository = 'not a repository': must match the pattern" in line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["dlq", "list", "--stack", "dev", "--samples", "-1"], "--samples: must be 0 to 10, not -1"),
        (["dlq", "list", "--stack", "dev", "--samples", "50"], "--samples: must be 0 to 10, not 50"),
        (["dlq", "replay", "--stack", "dev", "--limit", "0"], "--limit: must be at least 1, not 0"),
        (["dlq", "replay", "--stack", "dev", "--limit", "-5"], "--limit: must be at least 1, not -5"),
    ],
)
def test_out_of_range_dlq_numbers_are_refused_before_any_aws_call(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly() -> None:
    """``signal9 plan --json | head -1``: no BrokenPipeError traceback when the reader stops early."""
    command = f"{sys.executable} -m signal9_tools.cli plan --stack dev --json | head -1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout == "{\n"
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


@pytest.fixture
def endpoint_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("SIGNAL9_ALPACA_KEY_ID", "SIGNAL9_ALPACA_SECRET_KEY", "SIGNAL9_ALPHAVANTAGE_API_KEY"):
        monkeypatch.setenv(variable, "test-key-0000")


def local_up_with(alpaca: str, data: str, alphavantage: str) -> list[str]:
    return ["local", "up", "--alpaca-url", alpaca, "--alpaca-data-url", data, "--alphavantage-url", alphavantage]


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_local_up_refuses_a_malformed_url_before_deploying(
    endpoint_keys: None, listening_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    good = f"http://127.0.0.1:{listening_port}"
    line = one_line_exit_2(local_up_with("not-a-url", good, good), capsys)
    assert "--alpaca-url 'not-a-url': not an http(s) URL" in line


def test_local_up_refuses_an_endpoint_that_does_not_answer_before_deploying(
    endpoint_keys: None, listening_port: int, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    good = f"http://127.0.0.1:{listening_port}"
    line = one_line_exit_2(local_up_with(good, good, f"http://127.0.0.1:{closed_port}/query"), capsys)
    assert (
        f"--alphavantage-url http://127.0.0.1:{closed_port}/query: nothing answers at 127.0.0.1:{closed_port}" in line
    )


@pytest.mark.parametrize("compressed", [False, True], ids=["real-time", "compressed"])
def test_local_up_streams_its_report_and_paces_given_endpoints_as_asked(
    compressed: bool,
    endpoint_keys: None,
    listening_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The report goes to stdout as the run goes; --compressed-pacing reaches the run, and the warning says which."""
    from signal9_tools.emulator import cli as local_cli
    from signal9_tools.emulator.report import Report

    given: dict[str, Any] = {}

    def deploy_and_smoke(stack: str, **options: Any) -> Any:
        given.update(options, stdout=sys.stdout)
        return argparse.Namespace(report=Report())

    monkeypatch.setattr(local_cli, "deploy_and_smoke", deploy_and_smoke)
    good = f"http://127.0.0.1:{listening_port}"
    assert cli.main(local_up_with(good, good, good) + (["--compressed-pacing"] if compressed else [])) == 0
    assert given["stream"] is given["stdout"]
    assert given["compressed_pacing"] is compressed
    warning = capsys.readouterr().err
    if compressed:
        assert "paced on a clock 1000 times faster (--compressed-pacing)" in warning, warning
        assert "real time" not in warning
    else:
        assert "paces its AlphaVantage requests in real time" in warning, warning
        assert "--compressed-pacing" in warning


def test_check_shows_the_plans_warnings_as_advisory(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """prod passes every rule while its plan warns (no alarm subscribers): check says so, without failing."""
    from signal9_tools import check

    reuse_planned_runs(monkeypatch, check)  # the suite's run of the shipped stack
    assert cli.main(["check", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "advisory (the plan's warnings; every rule above is mandatory, these do not fail the check):" in out
    assert "  warning: alarm topic signal9-prod-alarms has no subscribers" in out
    assert out.rstrip().endswith("all rules pass")


def test_top_level_help_imports_no_subcommand_module() -> None:
    """``signal9 --help`` lists the subcommands from cli.SUMMARIES without importing their modules."""
    probe = (
        "import sys; from signal9_tools.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {tuple(cli.SUBCOMMANDS.values())!r} if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr.splitlines()[-1] == "[]", result.stderr
    for command in cli.SUBCOMMANDS:
        assert f"    {command}" in result.stdout


@pytest.mark.parametrize(("command", "module"), cli.SUBCOMMANDS.items())
def test_top_level_summaries_are_each_modules_own_help(command: str, module: str) -> None:
    parser = cli.build_parser([module])
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    (choice,) = subparsers._choices_actions
    assert cli.SUMMARIES.get(command) == choice.help, f"put {command}'s help in signal9_tools.cli.SUMMARIES"


def test_local_up_against_given_endpoints_warns_how_long_the_real_time_pacing_takes() -> None:
    from signal9 import config
    from signal9_tools.emulator import cli as local

    stack_config = config.parse({}, "Pulumi.dev.yaml")
    warning = local.pacing_warning(stack_config)
    per_pollenation = config.CALLS_PER_POLLENATION * stack_config.alphaVantage.interval_seconds
    minutes = stack_config.regularPollenationBatchSize * per_pollenation / 60
    assert warning.startswith(
        "warning: against given endpoints PollenateAsset paces its AlphaVantage requests in real time"
    )
    assert f"{per_pollenation:.0f} s per pollenation" in warning and f"up to about {minutes:.0f} min" in warning
    assert "signal9:regularPollenationBatchSize" in warning  # how to make it shorter


# --- answers a newcomer got on a fresh clone --------------------------------------------------


def test_ctrl_c_is_one_line_and_the_shells_interrupt_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`timeout -s INT 5 signal9 local up` printed a 116-line traceback ending in KeyboardInterrupt."""
    from signal9_tools.emulator import cli as local_cli

    def interrupted(stack: str, **_: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(local_cli, "deploy_and_smoke", interrupted)
    try:
        code = cli.main(["local", "up", "--stack", "dev"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped signal9 as a traceback")
    assert code == 130  # 128 + SIGINT, what a shell reports for a command Ctrl-C stopped
    err = capsys.readouterr().err
    assert err == "signal9 local: interrupted (Ctrl-C); what it started has been stopped\n"


def test_an_endpoint_url_botocore_refuses_is_one_line(
    no_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`AWS_ENDPOINT_URL=not-a-url signal9 status` was a ValueError: Invalid endpoint traceback."""
    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not-a-url")
    line = one_line_exit_2(["status", "--stack", "dev"], capsys)
    assert line == (
        "signal9 status: AWS_ENDPOINT_URL is 'not-a-url', not a URL botocore accepts "
        "(e.g. http://127.0.0.1:5000 for a local emulator): correct it or unset it"
    )


def test_an_unknown_profile_given_with_the_flag_is_blamed_on_the_flag(
    no_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status --profile nosuch` named AWS_PROFILE as where the profile came from."""
    line = one_line_exit_2(["status", "--stack", "dev", "--profile", "nosuch"], capsys)
    assert "AWS profile 'nosuch' (--profile) is not in ~/.aws/config" in line


def test_cost_docs_in_a_read_only_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`signal9 cost --docs` in a read-only checkout was an OSError traceback; when current, nothing needs writing."""
    from signal9_tools import cost

    reuse_planned_runs(monkeypatch, cost)  # the suite's runs of the same program

    def read_only(self: Path, *_: Any, **__: Any) -> int:
        raise OSError(30, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "write_text", read_only)
    assert cli.main(["cost", "--docs"]) == 0  # the committed docs/cost.md is current
    assert capsys.readouterr().out == "docs/cost.md is current\n"
    stale = tmp_path / "cost.md"
    stale.write_bytes(b"stale")
    monkeypatch.setattr(cost, "DOC", stale)
    line = one_line_exit_2(["cost", "--docs"], capsys)
    assert line.startswith(f"signal9 cost: cannot rewrite {stale}: Read-only file system; ")


def test_plan_json_and_timing_are_one_or_the_other(capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --json --timing` silently printed the timing text and ignored --json."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["plan", "--stack", "dev", "--json", "--timing"])
    assert exit_.value.code == 2
    assert "argument --timing: not allowed with argument --json" in capsys.readouterr().err


def test_compressed_pacing_without_given_endpoints_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`local up --compressed-pacing` without endpoints was silently accepted (the built-in fakes always are)."""
    line = one_line_exit_2(["local", "up", "--compressed-pacing"], capsys)
    assert line == (
        "signal9 local: --compressed-pacing applies to the endpoints given with --alpaca-url, --alpaca-data-url "
        "and --alphavantage-url; the built-in fakes are always paced on the compressed clock"
    )


def test_make_from_another_directory_runs_in_the_repository(tmp_path: Path) -> None:
    """`make -f /path/to/Makefile plan` from elsewhere created .tools there, then failed."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-f", str(ROOT / "Makefile"), "plan", "STACK=prod"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == ".venv/bin/signal9 plan --stack prod"
    assert ".tools" not in result.stdout.split(str(ROOT))[0] and list(tmp_path.iterdir()) == []
