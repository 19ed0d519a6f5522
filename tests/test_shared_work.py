"""Work a test process does once instead of per run: service models read by one loader, no source positions.

Both change only what no check reads: the models are read-only data, and the mock monitor
ignores the source positions the Pulumi SDK computes for the engine.
"""

from __future__ import annotations

import traceback
from typing import Any

import pytest
from pulumi.runtime import resource as pulumi_resource

from signal9_tools.mockrun import run_program
from signal9_tools.sessions import SERVICE_MODELS, aws_session


def test_every_session_reads_models_through_one_loader_whose_search_paths_stay_put() -> None:
    first, second = aws_session(), aws_session(region="eu-west-1")
    assert first._session.get_component("data_loader") is SERVICE_MODELS
    assert second._session.get_component("data_loader") is SERVICE_MODELS
    assert first.region_name is None and second.region_name == "eu-west-1"
    paths = list(SERVICE_MODELS.search_paths)
    aws_session()
    assert SERVICE_MODELS.search_paths == paths and len(paths) == len(set(paths))  # boto3 appends per session


def test_a_profile_is_the_sessions_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert aws_session(profile="ops").region_name == "eu-central-1"
    assert aws_session().profile_name == "default"


def test_the_program_runs_without_source_positions_and_leaves_the_sdk_as_found(monkeypatch: pytest.MonkeyPatch) -> None:
    stacks: list[object] = []
    extract_stack = traceback.extract_stack

    def counted(*args: Any) -> traceback.StackSummary:
        stacks.append(args)
        return extract_stack(*args)

    monkeypatch.setattr(traceback, "extract_stack", counted)
    found = pulumi_resource._get_stack_trace
    run = run_program("dev")
    assert len(run.resources) > 100 and stacks == []
    assert pulumi_resource._get_stack_trace is found
    pulumi_resource._get_stack_trace()
    assert len(stacks) == 1  # the SDK's own, as `pulumi up` runs it
