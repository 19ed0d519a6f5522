"""`signal9 dlq` against the emulator, as from another shell: the real handler runs, only a confirmed run deletes.

One deploy (no smoke) serves every scenario below; each runs `signal9 dlq` through its CLI, whose
boto3 calls reach the emulator over HTTP (AWS_ENDPOINT_URL), as against `signal9 local up --keep`.
A function is broken, or made to record what it receives, the way it would be in AWS: by deploying
other code for it (UpdateFunctionCode), which the emulator then loads, cold, from the new archive.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from components import packaging
from signal9 import catalog
from signal9.naming import Naming
from signal9_tools import cli
from signal9_tools.emulator.cli import deploy_and_smoke
from signal9_tools.emulator.schedule_checks import scheduler_delivery
from signal9_tools.mockrun import ProgramRun
from tests.local_support import DEV_AS_SHIPPED
from tests.test_dlq import event_body

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)

NAMING = Naming("dev")
FUNCTION = "TriggerRegularPollenation"
ISO_SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # EventBridge's event time


FAILING = "def handler(event, context):\n    raise RuntimeError('made to fail for the replay test')\n"


def recording(path: Path) -> str:
    return (
        "import json\n\ndef handler(event, context):\n"
        f"    with open({str(path)!r}, 'a') as received:\n"
        "        received.write(json.dumps(event) + '\\n')\n"
        "    return {'recorded': True}\n"
    )


def deploy_code(function: str, handler_source: str | None = None) -> None:
    """Deploy ``function``'s archive, its handler module replaced by ``handler_source`` (None: the real one)."""
    spec = catalog.function(function)
    files = {name: path.read_bytes() for name, path in packaging.archive_files(spec).items()}
    if handler_source is not None:
        files[packaging.handler_path(spec)] = handler_source.encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, data in sorted(files.items()):
            bundle.writestr(name, data)
    boto3.client("lambda").update_function_code(FunctionName=NAMING.function(function), ZipFile=archive.getvalue())


@contextlib.contextmanager
def deployed(function: str, handler_source: str) -> Iterator[None]:
    deploy_code(function, handler_source)
    try:
        yield
    finally:
        deploy_code(function)


def waiting(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def signal9(*command: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(command))
    return code, out.getvalue()


def dead_letter_queue(function: str) -> str:
    return str(boto3.client("sqs").get_queue_url(QueueName=NAMING.dead_letter_queue(function))["QueueUrl"])


def replay_scheduled_run(seen: dict[str, Any]) -> None:
    """What Scheduler parks after failed deliveries (the run's target input), replayed while broken, then fixed."""
    url = dead_letter_queue(FUNCTION)
    schedule = dict(
        boto3.client("scheduler").get_schedule(
            Name=NAMING.schedule("trigger-regular-pollenation"), GroupName=NAMING.schedule_group
        )
    )
    body = json.dumps(scheduler_delivery(schedule, datetime(2026, 11, 27, 20, tzinfo=UTC)))
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    command = ("dlq", "replay", "--stack", "dev", "--function", FUNCTION)
    with deployed(FUNCTION, FAILING):
        seen["failed"] = (*signal9(*command), waiting(url))
    seen["confirmed"] = (*signal9(*command), waiting(url))


def replay_to_the_bus(seen: dict[str, Any], received: Path) -> None:
    """A rule target's dead letter put back on the bus from outside: routed to PollenateAsset, run as Lambda would."""
    url = dead_letter_queue("PollenateAsset")
    command = ("dlq", "replay", "--stack", "dev", "--function", "PollenateAsset", "--to-bus")
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=event_body())
    with deployed("PollenateAsset", recording(received)):
        outcome = (*signal9(*command), waiting(url))
    seen["to bus"] = (*outcome, [json.loads(line) for line in received.read_text().splitlines()])
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=event_body())
    with deployed("PollenateAsset", FAILING):
        seen["to bus, failing again"] = (*signal9(*command), waiting(url))
    seen["listed"] = signal9("dlq", "list", "--stack", "dev", "--function", "PollenateAsset", "--samples", "1")


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outcomes: dict[str, Any] = {}
    received = tmp_path_factory.mktemp("dlq") / "received.jsonl"

    def scenarios(plan: ProgramRun) -> None:
        # Inside the running emulator: boto3 (and `signal9 dlq`) reach it through AWS_ENDPOINT_URL.
        replay_scheduled_run(outcomes)
        replay_to_the_bus(outcomes, received)

    deploy_and_smoke("dev", on_deployed=scenarios, scope="none", transport="http", snapshot=DEV_AS_SHIPPED)
    return outcomes


def test_replay_runs_the_real_handler_and_keeps_what_failed(seen: dict[str, Any]) -> None:
    code, out, left = seen["failed"]
    assert code == 1 and left == 1, out
    assert f"{NAMING.dead_letter_queue(FUNCTION)}: replayed 0, kept 1" in out
    assert "the function ran and failed (Unhandled) RuntimeError: made to fail for the replay test" in out
    code, out, left = seen["confirmed"]
    assert (code, left) == (0, 0), out
    assert f"{NAMING.dead_letter_queue(FUNCTION)}: replayed 1, kept 0" in out


def test_put_events_from_outside_reaches_the_function_with_eventbridges_event(seen: dict[str, Any]) -> None:
    code, out, left, received = seen["to bus"]
    assert (code, left) == (0, 0), out
    assert "signal9-dev-PollenateAsset-dlq: replayed 1, kept 0" in out
    (event,) = received
    original = json.loads(event_body())
    assert (event["source"], event["detail-type"], event["detail"]) == (
        original["source"],
        original["detail-type"],
        original["detail"],
    )
    assert ISO_SECONDS.fullmatch(event["time"]), event["time"]


def test_a_replayed_event_failing_again_is_back_with_lambdas_attributes_and_left(seen: dict[str, Any]) -> None:
    code, out, left = seen["to bus, failing again"]
    # PutEvents accepted it; PollenateAsset failed every asynchronous attempt; Lambda parked it again.
    assert (code, left) == (1, 1), out
    assert "replayed 1, kept 0, 1 left in the queue (1 sent during this replay" in out
    code, listing = seen["listed"]
    assert code == 0
    (attributes,) = [line.strip() for line in listing.splitlines() if line.strip().startswith("attributes:")]
    assert re.fullmatch(
        r"attributes: ErrorCode=200, ErrorMessage=RuntimeError: made to fail for the replay test, RequestID=[0-9a-f-]{36}",
        attributes,
    ), attributes
    (sample,) = [line for line in listing.splitlines() if line.strip().startswith("sample:")]
    assert re.search(r'"time": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', sample), sample
