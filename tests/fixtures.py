"""The suite's shared fixtures (loaded by conftest.py where tests run): the program run once per
stack under Pulumi mocks, moto accounts, the fakes."""

from __future__ import annotations

import functools
import gc
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from functions.shared import aws as shared_aws
from functions.shared import pacing, retry
from signal9.catalog import PROJECT, STACKS
from signal9_tools.awsapi import create_stack_tables
from signal9_tools.cli import collect_less_often
from signal9_tools.fakes.alphavantage import AlphaVantageFake
from signal9_tools.fakes.server import FakeServer, serving
from signal9_tools.mockrun import ProgramRun, run_program
from signal9_tools.moto_speedups import moto_speedups
from signal9_tools.sessions import aws_session
from tests.av_support import ManualClock, captured_logs

# As the `signal9` command does (signal9_tools.cli.console_main): fewer collector runs, and none
# over what every test shares (the modules imported by now: pulumi, moto, boto3).
collect_less_often()
gc.freeze()

# The AlphaVantage fake's clock starts here (a Monday afternoon in New York).
ALPHAVANTAGE_START = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)


@functools.cache
def planned(stack: str, project: str = PROJECT) -> ProgramRun:
    """What the real program registers for ``stack``, run once per test process."""
    return run_program(stack, project=project)


def reuse_planned_runs(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> None:
    """``modules`` run the program through ``planned``: a run of a shipped stack file (no config
    given) is the process's one run of it. Any other run is a run of its own."""

    def run(stack: str, config: Any = None, project: str = PROJECT, **options: Any) -> ProgramRun:
        if config is None and not options:
            return planned(stack, project)
        return run_program(stack, config=config, project=project, **options)

    for module in modules:
        monkeypatch.setattr(module, "run_program", run)


@pytest.fixture(scope="session")
def plans() -> dict[str, ProgramRun]:
    """What the real program registers for each shipped stack."""
    return {stack: planned(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return planned("dev")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return planned("prod")


# moto gives every mock session a fresh default boto3 session, so no credentials, region or
# client leak from one test into the next; it reads the service models through the process's one
# loader (signal9_tools.sessions), as the tools' own sessions do.
def fresh_default_session() -> None:
    boto3.DEFAULT_SESSION = aws_session()


SHARED_REGION = "us-east-1"


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, no profile or endpoint: boto3 can reach nothing but moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": SHARED_REGION,
        "AWS_REGION": SHARED_REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def moto_speedups_checked() -> bool:
    """Whether moto's shortcuts are each compared with moto's own result (test_moto_speedups.py)."""
    return False


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_speedups_checked: bool) -> Iterator[None]:
    """An in-process moto AWS with fake credentials (never a real account).

    moto as shipped, with eleven of its costs removed for the same results: item responses
    written as JSON directly, an item's size summed once, a table Query reading its partition,
    a Scan or Query reading stored items uncopied, KMS key pairs made on first use, each response
    class's methods listed once, each URL's route found once, requests parsed by the keys they
    have with each parser looked up once, plain result values passed through, an archive decoded
    once (signal9_tools/moto_speedups.py).
    """
    fake_aws_environment(monkeypatch)
    with mock_aws(), moto_speedups(checked=moto_speedups_checked):
        fresh_default_session()
        yield


@pytest.fixture
def moto_tables(aws: None, dev: ProgramRun) -> dict[str, str]:
    """Every table created in moto from the dev stack's own inputs: catalog name -> physical name."""
    return create_stack_tables(dev, boto3.client("dynamodb"))


@pytest.fixture(scope="module")
def file_account(dev: ProgramRun) -> Iterator[dict[str, str]]:
    """One moto account for a whole test file, the dev stack's tables created in it once.

    A fresh account per test (``moto_tables``) costs moto's reset, eight CreateTable and eight
    UpdateContinuousBackups calls: about 60 ms of every handler test. Files whose tests only
    read and write items share this one instead, through ``shared_tables``.
    """
    with pytest.MonkeyPatch.context() as patch:
        fake_aws_environment(patch)
        with mock_aws(), moto_speedups():
            fresh_default_session()
            yield create_stack_tables(dev, boto3.client("dynamodb"))


@pytest.fixture
def shared_tables(file_account: dict[str, str]) -> dict[str, str]:
    """The file's tables (``file_account``), emptied: catalog name -> physical name, as ``moto_tables``
    (a copy: a test may change its mapping, not the next test's)."""
    return dict(emptied(file_account))


def emptied(tables: dict[str, str]) -> dict[str, str]:
    """``tables`` with every item of every one dropped (moto's own store; no call is counted).

    Only items are dropped: a test that changed the tables themselves (deleted one, made another)
    fails here, at the next test of its file, instead of leaking into it.
    """
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][SHARED_REGION]
    assert sorted(backend.tables) == sorted(tables.values()), (
        f"a test changed the file's tables: {sorted(backend.tables)}"
    )
    for name in tables.values():
        backend.tables[name].items.clear()
    return tables


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Powertools' log handler pointed at a buffer (``av_support.captured_logs``, as a fixture)."""
    with captured_logs() as buffer:
        yield buffer


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """Cached clients and secrets must not outlive one moto session."""
    shared_aws.reset_clients()
    yield
    shared_aws.reset_clients()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays are recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(retry, "pause", recorded.append)
    return recorded


@pytest.fixture
def alphavantage() -> Iterator[FakeServer]:
    """The AlphaVantage fake on 127.0.0.1, its clock a ManualClock that PollenateAsset's pacing sleeps on.

    Pacing waits advance the shared clock instead of the wall clock, so tests never really wait
    and the fake's per-minute window sees the paced times. ``server.service`` is the fake.
    """
    clock = ManualClock.at(ALPHAVANTAGE_START)
    previous = pacing.clock()
    pacing.use_clock(clock)
    try:
        with serving(AlphaVantageFake(40, clock=clock)) as server:
            yield server
    finally:
        pacing.use_clock(previous)
