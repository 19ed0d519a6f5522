"""`signal9 dlq replay` against the emulator: the real handler runs, and only a confirmed run deletes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, NoReturn

import boto3
import pytest

import functions.trigger_regular_pollenation.handler as trigger
from signal9.naming import Naming
from signal9_tools import cli
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.schedule_checks import scheduler_delivery
from signal9_tools.mockrun import ProgramRun

NAMING = Naming("dev")
FUNCTION = "TriggerRegularPollenation"


def made_to_fail(event: Any, context: Any) -> NoReturn:
    raise RuntimeError("made to fail for the replay test")


def waiting(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_replay_runs_the_real_handler_and_keeps_what_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def replay(plan: ProgramRun) -> None:
        # Inside the running emulator: boto3 (and `signal9 dlq`) reach it through AWS_ENDPOINT_URL.
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=NAMING.dead_letter_queue(FUNCTION))["QueueUrl"]
        schedule = dict(
            boto3.client("scheduler").get_schedule(
                Name=NAMING.schedule("trigger-regular-pollenation"), GroupName=NAMING.schedule_group
            )
        )
        # What Scheduler parks after failed deliveries: the run's target input.
        body = json.dumps(scheduler_delivery(schedule, datetime(2026, 11, 27, 20, tzinfo=UTC)))
        sqs.send_message(QueueUrl=url, MessageBody=body)
        command = ["dlq", "replay", "--stack", "dev", "--function", FUNCTION]
        with monkeypatch.context() as patched:
            patched.setattr(trigger, "handler", made_to_fail)
            seen["failed"] = (cli.main(command), capsys.readouterr().out, waiting(url))
        seen["confirmed"] = (cli.main(command), capsys.readouterr().out, waiting(url))

    deploy_and_smoke("dev", on_deployed=replay, scope="none")

    code, out, left = seen["failed"]
    assert code == 1 and left == 1, out
    assert f"{NAMING.dead_letter_queue(FUNCTION)}: replayed 0, kept 1" in out
    assert "the function ran and failed (Unhandled) RuntimeError: made to fail for the replay test" in out
    code, out, left = seen["confirmed"]
    assert (code, left) == (0, 0), out
    assert f"{NAMING.dead_letter_queue(FUNCTION)}: replayed 1, kept 0" in out
