"""The Secrets component under Pulumi mocks: names, JSON shape, secrecy, placeholders, warnings."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from components.secrets import PLACEHOLDER_TAG
from functions.shared.secret_fields import PLACEHOLDER_PREFIX, PLACEHOLDER_VALUE
from signal9 import catalog
from signal9.naming import Naming
from signal9.stackfile import read_stack_config
from signal9_tools.mockrun import ProgramRun, is_secret, run_program
from signal9_tools.plan import summary

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

# Obviously fake values, distinctive enough that any leak is found by a substring search.
CREDENTIALS = {
    "alpaca": {
        "keyId": "AKFAKE-key-id-7f3c",
        "secretKey": "fake-alpaca-secret-9d41b2",
        "baseUrl": "https://api.alpaca.markets",
        "dataUrl": "http://127.0.0.1:8181",
    },
    "alphavantage": {"apiKey": "fake-av-key-55e0aa", "baseUrl": "http://127.0.0.1:8182"},
}


def versions(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """Secret versions by catalog secret name, inputs as recorded (secret wrappers kept)."""
    return {r.name.removesuffix("-secret-version"): r.inputs for r in run.of_type(VERSION)}


@pytest.fixture(scope="module")
def configured() -> tuple[ProgramRun, list[str]]:
    """The dev stack with every credential set through secret config, plus the warnings logged."""
    config = {**read_stack_config("dev"), "signal9:secrets": json.dumps(CREDENTIALS)}
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        run = run_program("dev", config=config, secret_keys=["signal9:secrets"])
    finally:
        logging.getLogger().removeHandler(handler)
    return run, [r.getMessage() for r in records]


def test_each_catalog_secret_is_named_described_and_recoverable_per_stack(plans: dict[str, ProgramRun]) -> None:
    for stack, run in plans.items():
        secrets = {r.name.removesuffix("-secret"): r for r in run.of_type(SECRET)}
        assert sorted(secrets) == sorted(catalog.SECRET_NAMES)
        window = json.loads(read_stack_config(stack)["signal9:secretRecoveryWindowDays"])
        for secret in catalog.SECRETS:
            resource = secrets[secret.name]
            assert resource.inputs["name"] == Naming(stack).secret(secret.name) == f"signal9/{stack}/{secret.name}"
            assert secret.description in resource.inputs["description"]
            assert resource.inputs["recoveryWindowInDays"] == window
            # Every field but the endpoints unset in the stack files: the tag names them (signal9 verify reads it).
            unset = " ".join(f for f in secret.fields if f not in dict(secret.defaults))
            assert resource.inputs["tags"] == {"Component": "secrets", PLACEHOLDER_TAG: unset}
            assert resource.parent == "secrets" and resource.delete_before_replace


def test_recovery_window_follows_the_stack(plans: dict[str, ProgramRun]) -> None:
    windows = {stack: {r.inputs["recoveryWindowInDays"] for r in run.of_type(SECRET)} for stack, run in plans.items()}
    assert windows == {"dev": {0}, "staging": {7}, "prod": {30}}


def test_secret_strings_are_pulumi_secrets_with_the_spec_json_shape(dev: ProgramRun) -> None:
    recorded = versions(dev)
    assert sorted(recorded) == sorted(catalog.SECRET_NAMES)
    secrets_by_name = {r.name: r for r in dev.of_type(SECRET)}
    for secret in catalog.SECRETS:
        inputs = recorded[secret.name]
        assert is_secret(inputs["secretString"]), f"{secret.name}: secret_string is not a Pulumi secret"
        document = json.loads(inputs["secretString"]["value"])
        assert list(document) == list(secret.fields)
        # The version points at its own secret (the mocked secret id is its ARN).
        assert inputs["secretId"].startswith(
            f"arn:aws:secretsmanager:us-east-1:123456789012:secret:signal9/dev/{secret.name}-"
        )
        assert f"{secret.name}-secret" in secrets_by_name


def test_spec_shapes_are_the_catalog_shapes() -> None:
    # SPEC.md Phase 2: alphavantage = {"apiKey", "baseUrl"}; alpaca = {"keyId", "secretKey", "baseUrl", "dataUrl"}.
    assert {s.name: s.fields for s in catalog.SECRETS} == {
        "alphavantage": ("apiKey", "baseUrl"),
        "alpaca": ("keyId", "secretKey", "baseUrl", "dataUrl"),
    }
    assert {s.name: dict(s.defaults) for s in catalog.SECRETS} == {
        "alphavantage": {"baseUrl": "https://www.alphavantage.co"},
        "alpaca": {"baseUrl": "https://paper-api.alpaca.markets", "dataUrl": "https://data.alpaca.markets"},
    }


def test_unset_fields_hold_a_marked_placeholder(dev: ProgramRun) -> None:
    assert PLACEHOLDER_VALUE.startswith(PLACEHOLDER_PREFIX) and PLACEHOLDER_PREFIX == "PLACEHOLDER-"
    for secret in catalog.SECRETS:
        document = json.loads(dev.named(f"{secret.name}-secret-version").plain_inputs["secretString"])
        # Credentials hold the placeholder; endpoints hold their SPEC default.
        assert document == {**dict.fromkeys(secret.fields, PLACEHOLDER_VALUE), **dict(secret.defaults)}


def test_placeholders_are_flagged_with_the_exact_command_at_deploy(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        run_program("staging")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for secret in catalog.SECRETS:
        (warning,) = [w for w in warnings if f"signal9/staging/{secret.name} " in w]
        assert "PLACEHOLDER" in warning
        for field in secret.fields:
            if field in dict(secret.defaults):
                assert f"signal9:secrets.{secret.name}.{field}" not in warning
                continue
            assert (
                f"pulumi config set --secret --path signal9:secrets.{secret.name}.{field} <value> -s staging" in warning
            )


def test_configured_credentials_replace_placeholders(configured: tuple[ProgramRun, list[str]]) -> None:
    run, warnings = configured
    for secret in catalog.SECRETS:
        assert is_secret(versions(run)[secret.name]["secretString"])
        assert (
            json.loads(run.named(f"{secret.name}-secret-version").plain_inputs["secretString"])
            == CREDENTIALS[secret.name]
        )
    assert not [w for w in warnings if "PLACEHOLDER" in w]
    for secret in catalog.SECRETS:
        assert run.named(f"{secret.name}-secret").inputs["tags"][PLACEHOLDER_TAG] == "none"


def test_a_partly_configured_secret_flags_only_the_missing_fields(caplog: pytest.LogCaptureFixture) -> None:
    config = {**read_stack_config("dev"), "signal9:secrets": json.dumps({"alpaca": {"keyId": "AKFAKE-partial-1"}})}
    with caplog.at_level(logging.WARNING):
        run = run_program("dev", config=config, secret_keys=["signal9:secrets"])
    document = json.loads(run.named("alpaca-secret-version").plain_inputs["secretString"])
    assert document == {
        "keyId": "AKFAKE-partial-1",
        "secretKey": PLACEHOLDER_VALUE,
        "baseUrl": "https://paper-api.alpaca.markets",
        "dataUrl": "https://data.alpaca.markets",
    }
    (warning,) = [r.getMessage() for r in caplog.records if "signal9/dev/alpaca " in r.getMessage()]
    assert "signal9:secrets.alpaca.keyId" not in warning and "AKFAKE-partial-1" not in warning
    assert "signal9:secrets.alpaca.secretKey" in warning and "signal9:secrets.alpaca.baseUrl" not in warning
    assert run.named("alpaca-secret").inputs["tags"][PLACEHOLDER_TAG] == "secretKey"


def test_configured_credentials_never_appear_in_plan_output_or_warnings(
    configured: tuple[ProgramRun, list[str]],
) -> None:
    run, warnings = configured
    printed = json.dumps(run.to_json(), indent=2, sort_keys=True) + "\n" + summary(run) + "\n" + "\n".join(warnings)
    for values in CREDENTIALS.values():
        for field, value in values.items():
            if not field.endswith("Url"):  # a URL is configuration, not a credential
                assert value not in printed, f"{field} leaked into plan output"
    # The plan still shows that a secret value exists, masked.
    assert '"secretString": "[secret]"' in json.dumps(run.to_json())
