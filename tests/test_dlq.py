"""DLQ list and replay on moto: replayed messages are removed, failed replays keep theirs."""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from functions.shared.events import PollenationNeeded
from signal9 import catalog
from signal9.errors import OperatorError
from signal9.naming import Naming
from signal9_tools import dlq
from signal9_tools.sessions import aws_session
from tests.sqs_standin import DocumentedSqs, StandInSession

NAMING = Naming("dev")
POLLENATE = catalog.function("PollenateAsset")
SYNC_ASSETS = catalog.function("SyncAssets")


class RecordingLambda:
    """The real (moto) Lambda client, with each Invoke's arguments recorded."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.client.invoke(**kwargs)


@pytest.fixture
def queues(aws: None) -> dict[str, str]:
    """Every function's DLQ, named as the stack names it."""
    sqs = boto3.client("sqs")
    return {f.name: sqs.create_queue(QueueName=NAMING.dead_letter_queue(f.name))["QueueUrl"] for f in catalog.FUNCTIONS}


def create_function(function: catalog.Function) -> None:
    role = boto3.client("iam").create_role(
        RoleName=NAMING.role(function.name),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda").create_function(
        FunctionName=NAMING.function(function.name),
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": archive.getvalue()},
        Architectures=["arm64"],
    )


def event_body() -> str:
    """A rule target's dead letter: the full EventBridge envelope of a pollenationNeeded event."""
    detail = PollenationNeeded(symbol="AAPL", reason="regular", requestedAt=datetime(2026, 11, 27, 20, tzinfo=UTC))
    return json.dumps(
        {
            "version": "0",
            "id": "6f2c1c4e-0000-0000-0000-000000000001",
            "detail-type": catalog.POLLENATION_NEEDED,
            "source": catalog.EVENT_SOURCE,
            "account": "123456789012",
            "time": "2026-11-27T20:00:01Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail.model_dump(mode="json", exclude_none=True),
        }
    )


def messages_in(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_list_shows_counts_and_samples_without_removing(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["PollenateAsset"], MessageBody=event_body())
    report = dlq.list_queue(sqs, NAMING, POLLENATE, samples=3)
    assert (report.queue, report.visible, report.in_flight) == ("signal9-dev-PollenateAsset-dlq", 1, 0)
    assert report.samples == [dlq.Sample(event_body()[: dlq.SAMPLE_CHARS], len(event_body()), {})]
    assert report.samples[0].cut == (len(event_body()) > dlq.SAMPLE_CHARS)
    assert messages_in(queues["PollenateAsset"]) == 1
    assert dlq.list_queue(sqs, NAMING, SYNC_ASSETS).visible == 0


class AnsweringLambda:
    """A Lambda client answering Invoke as Lambda does for a run that returned (200) or raised (FunctionError)."""

    def __init__(self, function_error: str | None = None) -> None:
        self.function_error = function_error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if self.function_error is None:
            return {"StatusCode": 200, "Payload": io.BytesIO(b"{}")}
        # Lambda's answer to a synchronous invoke whose handler raised (Invoke API reference).
        error = {"errorType": "InvalidApiKeyError", "errorMessage": "AlphaVantage rejected the key", "stackTrace": []}
        return {
            "StatusCode": 200,
            "FunctionError": self.function_error,
            "Payload": io.BytesIO(json.dumps(error).encode()),
        }


def test_replay_runs_the_function_synchronously_and_deletes_only_a_confirmed_run(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["PollenateAsset"], MessageBody=event_body())
    answering = AnsweringLambda()
    result = dlq.replay_queue(sqs, NAMING, POLLENATE, dlq.lambda_delivery(answering, NAMING), run_seconds=600)
    assert (result.replayed, result.failed) == (1, 0)
    assert answering.calls == [
        {
            "FunctionName": "signal9-dev-PollenateAsset",
            "InvocationType": "RequestResponse",
            "Payload": event_body().encode(),
        }
    ]
    assert messages_in(queues["PollenateAsset"]) == 0


def test_a_replay_whose_run_failed_keeps_the_message_with_the_reason(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["SyncEarningsCalendar"], MessageBody='{"id": "run-1"}')
    function = catalog.function("SyncEarningsCalendar")
    result = dlq.replay_queue(sqs, NAMING, function, dlq.lambda_delivery(AnsweringLambda("Unhandled"), NAMING))
    assert (result.replayed, result.failed) == (0, 1)
    assert (
        "the function ran and failed (Unhandled) InvalidApiKeyError: AlphaVantage rejected the key" in result.errors[0]
    )
    assert dlq.list_queue(sqs, NAMING, function).visible == 1


def test_moto_without_docker_never_runs_the_handler_so_the_message_stays(queues: dict[str, str]) -> None:
    """The issue's case: moto answers Invoke without running the function (no docker); nothing is confirmed."""
    create_function(POLLENATE)
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["PollenateAsset"], MessageBody=event_body())
    recorder = RecordingLambda(boto3.client("lambda"))
    result = dlq.replay_queue(sqs, NAMING, POLLENATE, dlq.lambda_delivery(recorder, NAMING))
    assert (result.replayed, result.failed) == (0, 1), result.errors
    assert "the function ran and failed" in result.errors[0] and "\n" not in result.errors[0]
    assert messages_in(queues["PollenateAsset"]) == 1


def test_list_shows_each_messages_error_attributes_and_says_when_a_body_is_cut(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    body = json.dumps({"padding": "x" * 400})
    # What Lambda attaches to an asynchronous invocation's dead letter (Lambda developer guide, "Dead-letter queues").
    sqs.send_message(
        QueueUrl=queues["SyncAssets"],
        MessageBody=body,
        MessageAttributes={
            "RequestID": {"DataType": "String", "StringValue": "8f5b2c1e"},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "Task timed out after 300.00 seconds"},
        },
    )
    (sample,) = dlq.list_queue(sqs, NAMING, SYNC_ASSETS).samples
    assert sample.attributes == {
        "RequestID": "8f5b2c1e",
        "ErrorCode": "200",
        "ErrorMessage": "Task timed out after 300.00 seconds",
    }
    assert sample.cut and sample.length == len(body)


def test_an_html_answer_is_reported_in_one_line() -> None:
    page = "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body>...</body></html>"
    assert (
        dlq.one_line(RuntimeError(page)) == "RuntimeError: the endpoint answered with an HTML page, not an AWS response"
    )
    assert dlq.one_line(RuntimeError("first\nsecond")) == "first"


def test_failed_replay_keeps_the_message_visible(queues: dict[str, str]) -> None:
    """No function deployed: moto's Invoke fails, so the message must stay (and be visible again)."""
    sqs = boto3.client("sqs")
    body = json.dumps({"scheduledAt": "2026-11-27T10:30:00Z"})
    sqs.send_message(QueueUrl=queues["SyncAssets"], MessageBody=body)
    result = dlq.replay_queue(sqs, NAMING, SYNC_ASSETS, dlq.lambda_delivery(boto3.client("lambda"), NAMING))
    assert (result.replayed, result.failed) == (0, 1)
    assert "ResourceNotFoundException" in result.errors[0]
    report = dlq.list_queue(sqs, NAMING, SYNC_ASSETS)
    assert (report.visible, [sample.body for sample in report.samples]) == (1, [body])


def test_partial_failure_deletes_only_the_delivered_messages(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    for index in range(5):
        sqs.send_message(QueueUrl=queues["MarkEarningsProcessed"], MessageBody=json.dumps({"n": index}))
    delivered: list[int] = []

    def flaky(function: catalog.Function, body: str) -> None:
        number = json.loads(body)["n"]
        if number % 2:
            raise dlq.DeliveryError("throttled")
        delivered.append(number)

    result = dlq.replay_queue(sqs, NAMING, catalog.function("MarkEarningsProcessed"), flaky)
    assert (result.replayed, result.failed) == (3, 2) and sorted(delivered) == [0, 2, 4]
    assert messages_in(queues["MarkEarningsProcessed"]) == 2


def test_replay_limit_stops_early(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    for index in range(4):
        sqs.send_message(QueueUrl=queues["SyncAssets"], MessageBody=str(index))
    result = dlq.replay_queue(sqs, NAMING, SYNC_ASSETS, lambda function, body: None, limit=3)
    assert result.replayed == 3 and messages_in(queues["SyncAssets"]) == 1


def test_replay_to_bus_puts_the_event_back_and_a_rule_sees_it(queues: dict[str, str]) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=NAMING.event_bus)
    # An SQS-target rule stands in for the PollenateAsset rule (moto delivers to SQS, not Lambda).
    sink = sqs.create_queue(QueueName="sink")["QueueUrl"]
    sink_arn = sqs.get_queue_attributes(QueueUrl=sink, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="probe", EventBusName=NAMING.event_bus, EventPattern=json.dumps(PollenationNeeded.pattern()))
    events.put_targets(Rule="probe", EventBusName=NAMING.event_bus, Targets=[{"Id": "sink", "Arn": sink_arn}])
    sqs.send_message(QueueUrl=queues["PollenateAsset"], MessageBody=event_body())

    result = dlq.replay_queue(sqs, NAMING, POLLENATE, dlq.bus_delivery(events, NAMING))

    assert (result.replayed, result.failed) == (1, 0) and messages_in(queues["PollenateAsset"]) == 0
    delivered = json.loads(sqs.receive_message(QueueUrl=sink)["Messages"][0]["Body"])
    original = json.loads(event_body())
    assert (delivered["source"], delivered["detail-type"], delivered["detail"]) == (
        original["source"],
        original["detail-type"],
        original["detail"],
    )


def test_replay_to_bus_keeps_messages_that_are_not_events_or_have_no_bus(queues: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queues["PollenateAsset"], MessageBody="not json")
    sqs.send_message(QueueUrl=queues["PollenateAsset"], MessageBody=event_body())
    result = dlq.replay_queue(sqs, NAMING, POLLENATE, dlq.bus_delivery(boto3.client("events"), NAMING))
    assert (result.replayed, result.failed) == (0, 2)
    assert any("not an EventBridge event" in e for e in result.errors)
    assert any("does not exist" in e for e in result.errors)
    assert messages_in(queues["PollenateAsset"]) == 2


def test_cli_list_and_replay_through_boto3(queues: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    create_function(SYNC_ASSETS)
    boto3.client("sqs").send_message(QueueUrl=queues["SyncAssets"], MessageBody='{"scheduled": true}')
    session = aws_session(region="us-east-1")
    listing = argparse.Namespace(stack="dev", action="list", function="SyncAssets", samples=1)
    assert dlq.run(listing, session) == 0
    out = capsys.readouterr().out
    assert "signal9-dev-SyncAssets-dlq        1          0" in out and "attributes: none" in out
    replay = argparse.Namespace(stack="dev", action="replay", function=None, to_bus=False, limit=None)
    # moto (no docker) does not run the function: the replay is not confirmed, the message stays.
    assert dlq.run(replay, session) == 1
    out = capsys.readouterr().out
    assert "signal9-dev-SyncAssets-dlq: replayed 0, kept 1" in out
    assert "the function ran and failed (Handled)" in out
    assert messages_in(queues["SyncAssets"]) == 1


def test_unknown_function_is_refused() -> None:
    with pytest.raises(OperatorError, match="unknown function 'Nope'"):
        dlq.selected_functions("Nope")


def test_a_stack_not_deployed_in_this_account_and_region_is_one_clear_line(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """No queues here (staging deployed elsewhere, or not at all): say so, with the account and region used."""
    from signal9_tools import cli

    session = aws_session(region="us-east-1")
    listing = argparse.Namespace(command="dlq", stack="staging", action="list", function=None, samples=0)
    listing.run = lambda args: dlq.run(args, session)
    assert cli.execute(listing) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("signal9 dlq: signal9-staging-")
    assert "not in AWS account 123456789012, region us-east-1: stack 'staging' is not deployed there" in line
    assert "\n" not in line


# ---------------------------------------------------------------------------- SQS as documented
#
# moto always returns what waits; SQS's short polling may answer empty while messages wait, a
# received message comes back after its visibility timeout under a new receipt handle, and a
# message no longer in flight refuses ChangeMessageVisibility (tests/sqs_standin.py).


def standin(**options: Any) -> DocumentedSqs:
    sqs = DocumentedSqs(**options)
    for function in catalog.FUNCTIONS:
        sqs.add_queue(NAMING.dead_letter_queue(function.name))
    return sqs


def test_replay_keeps_receiving_while_the_queue_reports_messages() -> None:
    sqs = standin()
    queue = NAMING.dead_letter_queue(SYNC_ASSETS.name)
    for index in range(3):
        sqs.send(queue, json.dumps({"n": index}))
    delivered: list[str] = []
    result = dlq.replay_queue(sqs, NAMING, SYNC_ASSETS, lambda function, body: delivered.append(body), run_seconds=300)
    assert (result.replayed, result.failed) == (3, 0)
    assert sorted(delivered) == [json.dumps({"n": n}) for n in range(3)] and sqs.count(queue) == 0
    assert result.left == 0
    waits = {arguments["WaitTimeSeconds"] for call, arguments in sqs.calls if call == "ReceiveMessage"}
    assert waits == {dlq.LONG_POLL_SECONDS}  # long polling: every server is asked


def test_list_samples_what_the_queue_reports_although_short_polls_answer_empty() -> None:
    sqs = standin()
    queue = NAMING.dead_letter_queue(SYNC_ASSETS.name)
    for index in range(3):
        sqs.send(queue, json.dumps({"n": index}), {"ErrorCode": {"DataType": "Number", "StringValue": "200"}})
    report = dlq.list_queue(sqs, NAMING, SYNC_ASSETS, samples=3)
    assert report.visible == 3
    assert [sample.body for sample in report.samples] == [json.dumps({"n": n}) for n in range(3)]
    assert report.samples[0].attributes == {"ErrorCode": "200"} and sqs.count(queue) == 3


class SlowLambda:
    """Invoke on the stand-in's clock: each run takes ``seconds``; the functions named in ``failing`` raise."""

    def __init__(self, sqs: DocumentedSqs, seconds: float, failing: tuple[str, ...] = ()) -> None:
        self.sqs, self.seconds, self.failing = sqs, seconds, failing
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        self.sqs.now += self.seconds
        if not any(kwargs["FunctionName"].endswith(f"-{name}") for name in self.failing):
            return {"StatusCode": 200, "Payload": io.BytesIO(b"{}")}
        error = {"errorType": "RuntimeError", "errorMessage": "still broken", "stackTrace": []}
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(error).encode())}


def replay_args(function: str | None = None, limit: int | None = None) -> argparse.Namespace:
    return argparse.Namespace(stack="dev", action="replay", function=function, to_bus=False, limit=limit)


def test_messages_the_queue_reports_but_never_returns_are_left_and_the_command_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqs = standin()
    queue = NAMING.dead_letter_queue(SYNC_ASSETS.name)
    for index in range(2):
        sqs.send(queue, json.dumps({"n": index}))
    for message in sqs.queues[queue]:
        message.visible_at = sqs.now + 10_000  # in flight elsewhere (another replay) for longer than we poll
    session = StandInSession(sqs, {"lambda": SlowLambda(sqs, 1)})
    assert dlq.run(replay_args("SyncAssets"), session) == 1
    out = capsys.readouterr().out
    assert "signal9-dev-SyncAssets-dlq: replayed 0, kept 0, 2 left in the queue" in out, out
    receives = [call for call, _ in sqs.calls if call == "ReceiveMessage"]
    assert len(receives) == dlq.MAX_EMPTY_ANSWERS  # bounded: the command ends
    assert "not all replayed: 2 messages left in signal9-dev-SyncAssets-dlq" in out


def test_a_long_replay_runs_each_message_once_and_keeps_a_failed_one_hidden_with_its_newest_handle() -> None:
    """12 PollenateAsset messages at 100 s each, hidden 600 + 60 s each: the failed one comes back once, not run again.

    It comes back at 700 s and is hidden again (a new receipt handle) until 1360 s, after the replay's end at 1200 s.
    """
    sqs = standin(small_queue_sampling=False)
    queue = NAMING.dead_letter_queue(POLLENATE.name)
    for index in range(12):
        sqs.send(queue, json.dumps({"n": index}))
    runs: list[int] = []

    def deliver(function: catalog.Function, body: str) -> None:
        sqs.now += 100
        runs.append(json.loads(body)["n"])
        if runs[-1] == 0:
            raise dlq.DeliveryError("still broken")

    result = dlq.replay_queue(sqs, NAMING, POLLENATE, deliver, run_seconds=600)
    assert sorted(runs) == list(range(12)), runs  # each once
    assert (result.replayed, result.failed) == (11, 1)
    assert sqs.stale == []  # every visibility change and delete used the newest receipt handle
    attributes = sqs.get_queue_attributes(QueueUrl=sqs.url(queue), AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"  # visible again for the next list or replay
    assert result.left == 1


def test_a_kept_message_no_longer_in_flight_does_not_stop_the_other_queues_or_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--limit 1: the failed run outlasted the message's hiding; making it visible again finds it visible."""
    sqs = standin(small_queue_sampling=False)
    for function in (SYNC_ASSETS, POLLENATE):
        sqs.send(NAMING.dead_letter_queue(function.name), json.dumps({"for": function.name}))
    lambdas = SlowLambda(sqs, 400, failing=("SyncAssets",))  # SyncAssets: 300 s timeout + 60 s hidden
    code = dlq.run(replay_args(limit=1), StandInSession(sqs, {"lambda": lambdas}))
    out = capsys.readouterr().out
    assert "signal9-dev-SyncAssets-dlq: replayed 0, kept 1, 1 left in the queue" in out, out
    assert "signal9-dev-PollenateAsset-dlq: replayed 1, kept 0" in out
    assert len([line for line in out.splitlines() if line.startswith("signal9-dev-")]) == len(catalog.FUNCTIONS)
    assert code == 1


def test_a_message_sent_during_the_replay_is_left_for_the_next_one() -> None:
    """A replayed event that fails again comes back as a new message (e.g. --to-bus): the replay still ends."""
    sqs = standin(small_queue_sampling=False)
    queue = NAMING.dead_letter_queue(POLLENATE.name)
    sqs.send(queue, event_body())

    def fails_again(function: catalog.Function, body: str) -> None:
        sqs.now += 180  # Lambda's asynchronous attempts, then its dead-letter queue
        sqs.send(queue, body)

    result = dlq.replay_queue(sqs, NAMING, POLLENATE, fails_again, limit=5)
    assert (result.replayed, result.failed, result.left) == (1, 0, 1)
    assert "sent during this replay" in result.stopped
    attributes = sqs.get_queue_attributes(QueueUrl=sqs.url(queue), AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"  # visible for the next replay
