"""Active X-Ray tracing: every function traces, the roles may write traces, handlers add useful detail."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from functions.shared import observability
from signal9 import catalog, iam
from signal9_tools.mockrun import ProgramRun
from tests.handler_support import context_for


def test_every_function_traces_actively(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        functions = run.of_type("aws:lambda/function:Function")
        assert len(functions) == len(catalog.FUNCTIONS)
        assert all(f.plain_inputs["tracingConfig"] == {"mode": "Active"} for f in functions)


def test_every_role_may_write_traces_and_nothing_else_on_star(plans: dict[str, ProgramRun]) -> None:
    for run in plans.values():
        for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
            document = json.loads(policy.plain_inputs["policy"])
            on_star = {action for action, resource in iam.grants(document) if resource == "*"}
            expected = set(iam.TRACE_ACTIONS) if policy.parent == "functions" else set()
            assert on_star == expected, policy.name


class RecordingTracer:
    """Stands in for Powertools' Tracer: records what the handler wrapper asks of it."""

    def __init__(self) -> None:
        self.captured: list[dict[str, Any]] = []
        self.annotations: dict[str, str] = {}

    def capture_lambda_handler(self, handler: Callable[..., Any], **options: Any) -> Callable[..., Any]:
        self.captured.append(options)
        return handler

    def put_annotation(self, key: str, value: str) -> None:
        self.annotations[key] = value


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_handlers_are_traced_without_their_responses_and_annotated_with_the_correlation_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = RecordingTracer()
    monkeypatch.setattr(observability, "tracer", recording)
    handler: Callable[[Any, Any], Any] = observability.instrumented(lambda event, context: {"collected": 1})
    event = {"id": "evt-0001", "detail-type": "pollenationNeeded", "detail": {}}
    assert handler(event, context_for(catalog.function("PollenateAsset"))) == {"collected": 1}
    assert recording.captured == [{"capture_response": False}]  # responses hold collected data
    assert recording.annotations == {"correlation_id": "evt-0001"}


def test_the_real_tracer_is_off_outside_lambda() -> None:
    # Tests, the emulator and tooling run without an X-Ray daemon: nothing may try to send traces.
    assert observability.tracer.disabled is True
