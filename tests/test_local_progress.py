"""`signal9 local up` prints each check as it completes, and paces given endpoints on request as the built-in fakes.

One configuration-scope run of the dev stack against given endpoints (nothing is invoked, so
nothing calls them) serves both: what the stream held, and the pacing clock, while the
security checks began.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from functions.shared import pacing
from signal9_tools.emulator import smoke_run
from signal9_tools.emulator.cli import LocalRun, deploy_and_smoke
from signal9_tools.emulator.collection import given_endpoints
from signal9_tools.emulator.report import Report
from signal9_tools.emulator.security_checks import check_security
from signal9_tools.emulator.smoke import Smoke
from signal9_tools.emulator.smoke_run import PACING_SPEEDUP
from signal9_tools.fakes.server import CompressedClock
from tests.local_support import DEV_AS_SHIPPED

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)


def test_a_report_hands_on_each_check_before_the_next_one_runs() -> None:
    events: list[tuple[str, str]] = []
    report = Report(on_check=lambda check: events.append(("printed", f"{check.name} {check.ok}")))

    def body(name: str) -> str:
        events.append(("ran", name))
        if name == "second":
            raise ValueError("broken")
        return "fine"

    report.run("first", lambda: body("first"))
    report.run("second", lambda: body("second"))
    report.add("third", True, "added")
    assert events == [
        ("ran", "first"),
        ("printed", "first True"),
        ("ran", "second"),
        ("printed", "second False"),
        ("printed", "third True"),
    ]


@dataclass(frozen=True)
class StreamedRun:
    run: LocalRun
    streamed: str
    streamed_before_security: str
    clock_during_checks: pacing.Clock


@pytest.fixture(scope="module")
def streamed_run() -> StreamedRun:
    stream = io.StringIO()
    seen: list[tuple[str, pacing.Clock]] = []

    def observed(smoke: Smoke) -> None:
        # The clock PollenateAsset's own pacing module reads, loaded from its deployed archive.
        name = smoke.naming.function("PollenateAsset")
        environment = smoke.environments.environment(name, smoke.deployed_archive(name))
        with smoke.environments.entered(environment) as load:
            seen.append((stream.getvalue(), load("functions.shared.pacing.clock")()))
        check_security(smoke)

    keys = {"SIGNAL9_ALPACA_KEY_ID": "k", "SIGNAL9_ALPACA_SECRET_KEY": "s", "SIGNAL9_ALPHAVANTAGE_API_KEY": "a"}
    endpoints = given_endpoints("http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1", keys)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(smoke_run, "check_security", observed)
        run = deploy_and_smoke(
            "dev",
            endpoints=endpoints,
            scope="configuration",
            stream=stream,
            compressed_pacing=True,
            snapshot=DEV_AS_SHIPPED,
        )
    ((before_security, clock),) = seen
    return StreamedRun(run, stream.getvalue(), before_security, clock)


def test_each_check_is_printed_as_it_completes_and_the_summary_at_the_end(streamed_run: StreamedRun) -> None:
    run, before = streamed_run.run, streamed_run.streamed_before_security
    assert before.startswith("signal9 local: stack 'dev', ")
    assert "roles allow exactly the access matrix" in before and "IAM enforced on role credentials" in before
    assert "roles use only the stack key" not in before and "passed, " not in before
    # Printed line by line, the report reads as the whole report printed at once.
    assert streamed_run.streamed == run.text() + "\n"
    assert "passed, 0 failed" in streamed_run.streamed, streamed_run.streamed


def test_compressed_pacing_paces_given_endpoints_on_the_built_in_fakes_clock(streamed_run: StreamedRun) -> None:
    clock = streamed_run.clock_during_checks
    assert isinstance(clock, CompressedClock) and clock.factor == PACING_SPEEDUP, clock
    assert pacing.clock() is not clock  # the run's clock ends with the run
