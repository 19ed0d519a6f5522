"""Stack configuration: the shipped files validate; every kind of bad value is refused clearly."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pydantic import BaseModel

from signal9 import catalog, config, stackfile
from signal9.stackfile import ROOT, read_stack_config
from signal9_tools import cli
from signal9_tools.mockrun import run_program


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_shipped_stack_files_validate(stack: str) -> None:
    parsed = config.load_stack(stack)
    assert parsed.timezone == "America/New_York"


def test_defaults_come_from_the_catalog() -> None:
    parsed = config.parse({}, "Pulumi.dev.yaml")
    for function in catalog.FUNCTIONS:
        assert parsed.memory_mb(function) == function.memory_mb
        assert parsed.timeout_seconds(function) == function.timeout_seconds


def test_overrides_apply_to_one_function_only() -> None:
    parsed = config.parse({"functions": {"PollenateAsset": {"memoryMb": 2048}}}, "Pulumi.dev.yaml")
    pollenate = catalog.function("PollenateAsset")
    assert parsed.memory_mb(pollenate) == 2048
    assert parsed.timeout_seconds(pollenate) == pollenate.timeout_seconds
    assert parsed.memory_mb(catalog.function("SyncAssets")) == 512


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(config.ConfigError) as error:
        config.parse(raw, "Pulumi.staging.yaml")
    return str(error.value).splitlines()


def test_the_string_null_is_refused_as_the_collectors_doc_warns() -> None:
    """`pulumi config set --path ... null` stores the string "null": refused, naming the key (docs/collectors.md)."""
    with pytest.raises(config.ConfigError, match=r"pollenationConcurrency = 'null': must be a valid integer"):
        config.parse({"alphaVantage": {"pollenationConcurrency": "null"}}, "Pulumi.dev.yaml")
    assert 'stores the *string* "null"' in (ROOT / "docs" / "collectors.md").read_text()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"functions": {"PollinateAsset": {"memoryMb": 512}}},
            "Pulumi.staging.yaml: signal9:functions.PollinateAsset = 'PollinateAsset': key must be 'SyncAssets'",
        ),
        (
            {"functions": {"SyncAssets": {"memoryMb": 64}}},
            "Pulumi.staging.yaml: signal9:functions.SyncAssets.memoryMb = 64: must be greater than or equal to 128",
        ),
        (
            {"functions": {"SyncAssets": {"memoryMb": 20480}}},
            "Pulumi.staging.yaml: signal9:functions.SyncAssets.memoryMb = 20480: must be less than or equal to 10240",
        ),
        (
            {"functions": {"SyncAssets": {"timeoutSeconds": 901}}},
            "Pulumi.staging.yaml: signal9:functions.SyncAssets.timeoutSeconds = 901: must be less than or equal to 900",
        ),
        (
            {"functions": {"SyncAssets": {"timeoutSeconds": "60"}}},
            "Pulumi.staging.yaml: signal9:functions.SyncAssets.timeoutSeconds = '60': must be a valid integer",
        ),
        (
            {"functions": {"SyncAssets": {"memory": 512}}},
            "Pulumi.staging.yaml: signal9:functions.SyncAssets.memory = 512: unknown key",
        ),
        ({"colour": "blue"}, "Pulumi.staging.yaml: signal9:colour = 'blue': unknown key"),
        (
            {"timezone": "Europe/Atlantis"},
            "Pulumi.staging.yaml: signal9:timezone = 'Europe/Atlantis': must be America/New_York: the Sunday maintenance window is defined in New York time",
        ),
        (
            {"schedules": {"sync-assets": {"expression": "cron(30 5 ? * SUN-FRI *)"}}},
            "Pulumi.staging.yaml: signal9:schedules.sync-assets.expression = 'cron(30 5 ? * SUN-FRI *)': day-of-week 'SUN-FRI' includes Sunday",
        ),
        (
            {"schedules": {"sync-everything": {"enabled": False}}},
            "Pulumi.staging.yaml: signal9:schedules.sync-everything = 'sync-everything': key must be 'sync-assets'",
        ),
        (
            {"schedules": {"sync-assets": {"enabled": "no"}}},
            "Pulumi.staging.yaml: signal9:schedules.sync-assets.enabled = 'no': must be a valid boolean",
        ),
        (
            {"logRetentionDays": 10},
            "Pulumi.staging.yaml: signal9:logRetentionDays = 10: must be 1, 3, 5, 7, 14, 30",
        ),
        (
            {"alarmEmails": ["ops@example.com", "not-an-email"]},
            "Pulumi.staging.yaml: signal9:alarmEmails[1] = 'not-an-email': must be an email address",
        ),
        (
            {"protection": {"deletionProtection": "yes"}},
            "Pulumi.staging.yaml: signal9:protection.deletionProtection = 'yes': must be a valid boolean",
        ),
        (
            {"timezone": "UTC"},
            "Pulumi.staging.yaml: signal9:timezone = 'UTC': must be America/New_York",
        ),
        (
            {"protection": {"deletionProtection": False}},
            'Pulumi.staging.yaml: signal9:protection = {"deletionProtection": false}: staging must keep',
        ),
        (
            {"secretRecoveryWindowDays": 3},
            "Pulumi.staging.yaml: signal9:secretRecoveryWindowDays = 3: must be 0, 7, 8",
        ),
    ],
)
def test_bad_values_fail_with_file_key_path_value_and_what_is_allowed(raw: dict[str, Any], expected: str) -> None:
    (line,) = problems(raw)
    assert line.startswith(expected), line


def test_every_problem_gets_its_own_line() -> None:
    lines = problems({"colour": "blue", "timezone": "Nowhere", "functions": {"SyncAssets": {"memoryMb": 1}}})
    assert len(lines) == 3
    assert all(line.startswith("Pulumi.staging.yaml: signal9:") for line in lines)


def test_secret_values_are_never_echoed_in_errors() -> None:
    (line,) = problems({"secrets": {"alpaca": {"secretKey": "hunter2-very-secret", "passphrase": "x"}}})
    assert "hunter2" not in line
    assert line == "Pulumi.staging.yaml: signal9:secrets.alpaca.passphrase = [secret]: unknown key"


def test_program_refuses_bad_config_before_registering_any_resource() -> None:
    values = read_stack_config("dev")
    values["signal9:functions"] = json.dumps({"SyncAssets": {"memoryMb": 1}})
    with pytest.raises(config.ConfigError, match=r"signal9:functions\.SyncAssets\.memoryMb = 1"):
        run_program("dev", config=values)
    # Run a good program afterwards in the same process: the runtime must not be left broken.
    assert len(run_program("dev").of_type("aws:dynamodb/table:Table")) == 8


def test_plan_command_reports_config_errors_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text((ROOT / "Pulumi.dev.yaml").read_text() + "  signal9:colour: blue\n")
    monkeypatch.setattr(stackfile, "stack_file", lambda stack: bad)
    assert cli.main(["plan", "--stack", "dev"]) == 2
    stderr = capsys.readouterr().err
    assert "Pulumi.dev.yaml: signal9:colour = 'blue': unknown key" in stderr
    assert "Traceback" not in stderr


def test_prod_must_keep_tables_protected_and_retained() -> None:
    with pytest.raises(config.ConfigError) as error:
        config.parse({"protection": {"deletionProtection": True, "retainOnDelete": False}}, "Pulumi.prod.yaml")
    assert str(error.value).startswith("Pulumi.prod.yaml: signal9:protection = ")
    assert "prod must keep {'deletionProtection': True, 'retainOnDelete': True}" in str(error.value)
    # Other stacks choose freely.
    assert not config.parse({}, "Pulumi.dev.yaml").protection.deletionProtection


# ---------------------------------------------------------------------------- the AlphaVantage plan


def test_alpha_vantage_plan_defaults_and_pacing_arithmetic() -> None:
    plan = config.parse({}, "Pulumi.dev.yaml").alphaVantage
    assert (plan.requestsPerMinute, plan.pollenationConcurrency, plan.collectorHeadroomPerMinute) == (75, 5, 5)
    # 75/min minus 5 for the other AlphaVantage collectors minus 1 boundary request per environment.
    assert plan.pollenation_budget == 65
    assert plan.interval_seconds == pytest.approx(5 * 60 / 65)
    # Worst case in any 60 s window: each of the 5 environments lands 60/interval (13) + 1 requests.
    per_environment = math.floor(round(60 / plan.interval_seconds, 9))
    assert per_environment == 13
    assert plan.paced_concurrency * (per_environment + 1) + plan.collectorHeadroomPerMinute <= plan.requestsPerMinute
    # A busy earnings day (300 symbols * 5 calls) drains in ~23 minutes, within the hour Lambda keeps events.
    assert plan.drain_seconds(300) == pytest.approx(300 * 5 * 60 / 65)
    assert plan.drain_seconds(300) < catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS


def test_unset_pollenation_concurrency_paces_for_a_new_accounts_whole_quota() -> None:
    plan = config.parse({"alphaVantage": {"pollenationConcurrency": None}}, "Pulumi.dev.yaml").alphaVantage
    assert plan.paced_concurrency == config.NEW_ACCOUNT_CONCURRENCY == 10
    assert plan.interval_seconds == pytest.approx(10 * 60 / (75 - 5 - 10))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"alphaVantage": {"requestsPerMinute": 10}},
            "Pulumi.staging.yaml: signal9:alphaVantage.requestsPerMinute = 10: leaves no requests for PollenateAsset "
            "after collectorHeadroomPerMinute 5 and one per concurrent pollenation (5)",
        ),
        (
            {"regularPollenationBatchSize": 1000},
            "Pulumi.staging.yaml: signal9:regularPollenationBatchSize = 1000: 1000 pollenations queued at once take "
            "4615 s at 65 requests/min, longer than the 3600 s Lambda keeps an event (the rest would go to the DLQ): "
            "at most 780 at this AlphaVantage plan; lower it or raise signal9:alphaVantage.requestsPerMinute",
        ),
        (
            {"alphaVantage": {"busyDayPollenations": 900}},
            "Pulumi.staging.yaml: signal9:alphaVantage.busyDayPollenations = 900: 900 pollenations queued at once "
            "take 4154 s at 65 requests/min",
        ),
        (
            {"alphaVantage": {"requestsPerMinute": 30}},
            "Pulumi.staging.yaml: signal9:alphaVantage.busyDayPollenations = 300 (default): 300 pollenations queued "
            "at once take 4500 s at 20 requests/min",
        ),
        (
            {"functions": {"PollenateAsset": {"timeoutSeconds": 20}}},
            "Pulumi.staging.yaml: signal9:functions.PollenateAsset.timeoutSeconds = 20: one pollenation waits 23 s "
            "for its 5 paced requests, not less than PollenateAsset's timeout of 20 s",
        ),
        (
            {"alphaVantage": {"pollenationConcurrency": 0}},
            "Pulumi.staging.yaml: signal9:alphaVantage.pollenationConcurrency = 0: must be greater than or equal to 1",
        ),
        (
            {"alphaVantage": {"requestPerMinute": 75}},
            "Pulumi.staging.yaml: signal9:alphaVantage.requestPerMinute = 75: unknown key",
        ),
    ],
)
def test_alpha_vantage_plan_errors_name_the_file_the_key_and_the_arithmetic(raw: dict[str, Any], expected: str) -> None:
    (line,) = problems(raw)
    assert line.startswith(expected), line


def test_a_one_time_schedule_in_the_past_is_refused_unless_switched_off() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    past = {"schedules": {"sync-assets": {"expression": "at(2026-12-01T09:00:00)"}}}
    with pytest.raises(config.ConfigError) as error:
        config.parse(past, "Pulumi.staging.yaml", now=now)
    assert str(error.value).startswith(
        "Pulumi.staging.yaml: signal9:schedules.sync-assets = "
    ) and "at(2026-12-01T09:00:00) is in the past: it will not fire again; remove it or set enabled: false" in str(
        error.value
    )
    config.parse(
        {"schedules": {"sync-assets": {"expression": "at(2026-12-08T09:00:00)"}}}, "Pulumi.staging.yaml", now=now
    )
    off = {"schedules": {"sync-assets": {"expression": "at(2026-12-01T09:00:00)", "enabled": False}}}
    config.parse(off, "Pulumi.staging.yaml", now=now)


# --- Pulumi.yaml declares the config; the stack file is read as the Pulumi CLI reads it --------

PULUMI_TYPES = {bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}


def pulumi_type(default: Any) -> str:
    return "object" if isinstance(default, BaseModel) else PULUMI_TYPES[type(default)]


def test_pulumi_yaml_declares_each_key_with_the_programs_type_and_default() -> None:
    """Every key but `encryption` (its default depends on the stack) is declared, as the model has it."""
    declared = stackfile.project_config()
    assert set(declared) == {f"signal9:{name}" for name in config.StackConfig.model_fields} - {"signal9:encryption"}
    defaults = config.parse({}, "Pulumi.dev.yaml")
    for key, declaration in declared.items():
        name = key.removeprefix("signal9:")
        assert declaration.type == pulumi_type(config.StackConfig.model_fields[name].default), key
        parsed = config.parse({name: declaration.default}, "Pulumi.dev.yaml")
        assert getattr(parsed, name) == getattr(defaults, name), key


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"colours": {"type": "array", "default": []}}, "declares an array but not the type of its items"),
        ({"size": {"type": "integer", "default": "big"}}, "the default is not of the declared type integer"),
        ({"size": {"type": "number"}}, "type 'number' is not one of string, integer, boolean, array, object"),
        ({"size": {"type": "integer", "min": 1}}, "unknown attribute min"),
        ({"size": {"default": 1, "value": 2}}, "cannot have both a 'default' and 'value' attribute"),
        ({"aws:region": {"type": "string", "value": "us-east-1"}}, "not namespaced by the project"),
    ],
)
def test_a_declaration_the_pulumi_cli_would_refuse_is_refused(
    entry: dict[str, Any], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rules of Pulumi's Project.Validate (pulumi/pulumi sdk/go/common/workspace/project.go)."""
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "signal9", "config": entry}))
    monkeypatch.setitem(stackfile.PROJECT_DIRECTORIES, catalog.PROJECT, tmp_path)
    stackfile.project_config.cache_clear()
    try:
        with pytest.raises(stackfile.StackFileError, match=f"^Pulumi.yaml: config.{next(iter(entry))}: {message}"):
            stackfile.project_config()
    finally:
        stackfile.project_config.cache_clear()


def stack_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *lines: str) -> None:
    """Pulumi.dev.yaml as shipped, with ``lines`` set under ``config:`` (replacing the keys they set)."""
    keys = tuple(line.split(": ", 1)[0] + ":" for line in lines)
    shipped = [
        line for line in (ROOT / "Pulumi.dev.yaml").read_text().splitlines() if not line.strip().startswith(keys)
    ]
    edited = tmp_path / "Pulumi.dev.yaml"
    edited.write_text("\n".join([*shipped, *(f"  {line}" for line in lines)]) + "\n")
    monkeypatch.setattr(stackfile, "stack_file", lambda stack: edited)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "signal9:logRetentionDays: fourteen",
            "signal9:logRetentionDays = 'fourteen': must be of type integer "
            "(declared in Pulumi.yaml; `pulumi up` refuses it too)",
        ),
        ("signal9:missedRunAlarms: maybe", "signal9:missedRunAlarms = 'maybe': must be of type boolean"),
        (
            "signal9:alarmEmails: ops@example.com",
            "signal9:alarmEmails = 'ops@example.com': must be of type array<string>",
        ),
        ("signal9:alarmEmails: [1]", "signal9:alarmEmails = [1]: must be of type array<string>"),
        ("signal9:functions: [SyncAssets]", 'signal9:functions = ["SyncAssets"]: must be of type object'),
        (
            "signal0:logRetentionDays: 14",
            "signal0:logRetentionDays: unknown namespace 'signal0' (project signal9 reads "
            "signal9:*, aws:*, pulumi:*); did you mean signal9:logRetentionDays?",
        ),
        (
            "aws:regoin: us-west-2",
            "aws:regoin: not an AWS provider setting (pulumi-aws); did you mean aws:region?",
        ),
        ("logRetentionDays: 14", "logRetentionDays: a config key is namespace:name"),
        (
            "signal9:logRetentionDays: {secure: v1:abc}",
            "signal9:logRetentionDays is encrypted (secure:), but it is a setting, not a "
            "credential (signal9:secrets holds them): set it in plain text with "
            "`pulumi config set signal9:logRetentionDays <value> -s dev`",
        ),
    ],
)
def test_the_stack_file_is_refused_in_one_line_where_pulumi_would_or_would_ignore_it(
    line: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong type (the CLI refuses it), a misspelt namespace or provider key (silently ignored), a secret setting."""
    stack_with(monkeypatch, tmp_path, line)
    assert cli.main(["plan", "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"signal9 plan: Pulumi.dev.yaml: {expected}"), err


def test_values_the_cli_would_accept_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulumi keeps a scalar as text: "14" is an integer, "true" a boolean (pulumi config set writes them so)."""
    stack_with(monkeypatch, tmp_path, "signal9:regularPollenationBatchSize: '200'", "signal9:freshnessAlarms: 'true'")
    parsed = config.load_stack("dev")
    assert parsed.regularPollenationBatchSize == 200 and parsed.freshnessAlarms is True
    stack_with(monkeypatch, tmp_path, "aws:profile: signal9-dev", "pulumi:tags: {team: data}")
    assert config.load_stack("dev").logRetentionDays == 14


def test_a_declared_key_the_stack_file_leaves_out_gets_pulumi_yamls_default() -> None:
    values = read_stack_config("staging")
    assert "signal9:regularPollenationBatchSize" not in (ROOT / "Pulumi.staging.yaml").read_text()
    assert values["signal9:regularPollenationBatchSize"] == "100" and values["signal9:alarmEmails"] == "[]"


def test_the_program_reads_its_config_through_pulumis_public_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the language host hands it over (the PULUMI_CONFIG variable), read with pulumi.Config only."""
    assert "runtime.config" not in (ROOT / "signal9" / "config.py").read_text()
    values = {**read_stack_config("dev"), "signal9:logRetentionDays": "90"}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    pulumi.runtime.set_all_config({})
    monkeypatch.setattr(pulumi, "get_stack", lambda: "dev")
    assert config.load().logRetentionDays == 90


def test_the_program_refuses_a_misspelt_namespace_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pulumi up` shows a pulumi.RunError as its message alone: the stack file's problems are raised as one."""
    values = read_stack_config("dev")  # what Pulumi would hand over: it ignores an unknown namespace
    stack_with(monkeypatch, tmp_path, "signal0:logRetentionDays: 14")
    with pytest.raises(config.ConfigError, match=r"^Pulumi.dev.yaml: signal0:logRetentionDays: unknown namespace"):
        run_program("dev", config=values)


# --- the bootstrap project's config answers the same way ----------------------------------------


def bootstrap_problems(raw: dict[str, Any]) -> list[str]:
    from signal9 import bootstrap_config

    with pytest.raises(bootstrap_config.BootstrapConfigError) as error:
        bootstrap_config.parse(raw, "Pulumi.main.yaml")
    return str(error.value).splitlines()


def test_bootstrap_errors_name_the_key_and_the_value_in_the_stacks_words() -> None:
    """They used pydantic's raw wording ("Field required") without the bad value."""
    assert bootstrap_problems({}) == ["Pulumi.main.yaml: signal9-bootstrap:repository = (not set): required"]
    (line,) = bootstrap_problems({"repository": "not a repo"})
    assert line.startswith("Pulumi.main.yaml: signal9-bootstrap:repository = 'not a repo': must match the pattern")
    (line,) = bootstrap_problems({"repository": "org/repo", "stateVersionRetentionDays": 30})
    assert line == (
        "Pulumi.main.yaml: signal9-bootstrap:stateVersionRetentionDays = 30: must be greater than or equal to 365"
    )
    (line,) = bootstrap_problems({"repository": "org/repo", "operatorArns": ["arn:aws:iam::1:user/x"]})
    assert line.startswith(
        "Pulumi.main.yaml: signal9-bootstrap:operatorArns[0] = 'arn:aws:iam::1:user/x': must match the pattern"
    )


def test_the_shipped_bootstrap_placeholders_are_warned_about() -> None:
    """The shipped repository and operator account are examples: plan, check and preflight say so."""
    run = run_program("main", project=stackfile.BOOTSTRAP_PROJECT)
    assert any("signal9-bootstrap:repository is the shipped example 'example-org/signal9'" in w for w in run.warnings)
    assert any("signal9-bootstrap:operatorArns name the example account 123456789012" in w for w in run.warnings)
    from signal9_tools import preflight

    assert set(run.warnings) <= set(preflight.preflight("main", stackfile.BOOTSTRAP_PROJECT).warnings)
