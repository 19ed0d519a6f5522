"""One smoke run's context: the stack as deployed in the emulator, its clients, and handlers run as Lambda would.

The checks (``*_checks.py``) read it; ``smoke_run`` runs them in order.

Everything is read back from moto (what was deployed), not from the program's inputs,
except where moto keeps no record (the provisioner's records, noted in the report). Handlers run in-process,
each loaded from its deployed archive in an execution environment of its own (``execution``), with
exactly the environment variables their deployed function has, their AWS calls going to moto.
moto does not run Lambda code nor deliver events to Lambda targets: moto matches each
event against the deployed rules' real patterns, and ``LambdaDeliveries`` hands what
matched to the smoke, which invokes the rule's target function with it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.awslambda.models import lambda_backends
from moto.core.authorization import enable_iam_authentication

from functions.shared.clock import utc_now
from signal9 import catalog
from signal9.config import StackConfig
from signal9.naming import Naming
from signal9_tools.emulator.delivery import LambdaDeliveries
from signal9_tools.emulator.execution import ExecutionEnvironments
from signal9_tools.emulator.lambda_records import record_invocation
from signal9_tools.emulator.report import Report, SmokeCheckError, expect
from signal9_tools.emulator.server import Clients
from signal9_tools.mockrun import ProgramRun


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the real Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@contextlib.contextmanager
def function_environment(variables: dict[str, str]) -> Iterator[None]:
    """Exactly the deployed function's variables on top of the emulator's AWS settings."""
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Smoke:
    """One smoke run: the stack as deployed, the emulator's clients and the report."""

    plan: ProgramRun
    config: StackConfig
    deliveries: LambdaDeliveries
    query_definitions: dict[str, dict[str, Any]]
    # Function name -> dead-letter target ARN as deployed (the provisioner's record: moto keeps none).
    dead_letter_targets: dict[str, str]
    report: Report = field(default_factory=Report)
    logs: list[str] = field(default_factory=list)
    # One execution environment per function, warm between its invocations as in Lambda.
    environments: ExecutionEnvironments = field(default_factory=ExecutionEnvironments)
    # When a run starts and ends, as Lambda records it (the smoke's fixed clock: smoke_run.SmokeClock).
    clock: Callable[[], datetime] = field(default_factory=lambda: utc_now)

    def __post_init__(self) -> None:
        self.naming = Naming(self.plan.stack)
        self.region = self.plan.region
        self._clients = Clients(self.region)
        self._role_clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str) -> Any:
        return self._clients(service)

    def role_client(self, role_arn: str, service: str) -> Any:
        """A client holding the role's own (assumed) credentials, so moto's IAM enforcement decides.

        One per role and service for the run: moto judges each request by the role's policies as
        they are then, so a policy changed later still decides the next call.
        """
        cached = self._role_clients.get((role_arn, service))
        if cached is not None:
            return cached
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="signal9-local-smoke")[
            "Credentials"
        ]
        # A client with the role's keys on the default session: a new Session per role
        # would reload botocore's endpoint data (~0.2 s each).
        client = self._role_clients[role_arn, service] = boto3.client(  # type: ignore[call-overload]
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.region,
        )
        return client

    def function_role_client(self, function: str, service: str) -> Any:
        """A client holding ``function``'s execution role's own credentials (the role as deployed)."""
        role = self.client("iam").get_role(RoleName=self.naming.role(function))["Role"]["Arn"]
        return self.role_client(role, service)

    def log_group(self, function: str) -> dict[str, Any]:
        """``function``'s log group as deployed (the prefix search can match longer names too)."""
        name = self.naming.log_group(function)
        (group,) = [
            g
            for g in self.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
            if g["logGroupName"] == name
        ]
        return dict(group)

    def queue_arn(self, queue_name: str) -> str:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    # --- invoking handlers as Lambda would --------------------------------------------

    def configuration(self, function_arn_or_name: str) -> dict[str, Any]:
        config: dict[str, Any] = self.client("lambda").get_function_configuration(FunctionName=function_arn_or_name)
        return config

    @functools.cached_property
    def account_id(self) -> str:
        """The emulated account (asked once: every invocation reads its function's archive from it)."""
        return str(self.client("sts").get_caller_identity()["Account"])

    def deployed_archive(self, function: str) -> bytes:
        """The archive moto holds for ``function`` (what the provisioner uploaded)."""
        return bytes(lambda_backends[self.account_id][self.region].get_function(function).code_bytes)

    def invoke(self, function_arn_or_name: str, event: Any, request_id: str | None = None) -> Any:
        """Run the deployed function's handler in-process, loaded from its deployed archive, with its deployed environment.

        ``request_id``: the invocation's (an asynchronous invocation keeps one across its retries).
        """
        config = self.configuration(function_arn_or_name)
        environment = self.environments.environment(
            config["FunctionName"], self.deployed_archive(config["FunctionName"])
        )
        context = LambdaContext(
            function_name=config["FunctionName"],
            memory_limit_in_mb=config["MemorySize"],
            invoked_function_arn=config["FunctionArn"],
            log_group_name=f"/aws/lambda/{config['FunctionName']}",
            aws_request_id=request_id or str(uuid.uuid4()),
        )
        output = io.StringIO()
        started, failed = self.clock(), True
        try:
            with (
                function_environment(config["Environment"]["Variables"]),
                contextlib.redirect_stdout(output),
                warnings.catch_warnings(),
                self.environments.entered(environment) as load,
            ):
                # Powertools warns when a run emitted no custom metric; in Lambda that goes to the log.
                warnings.filterwarnings("ignore", message="No application metrics to publish")
                handler = load(config["Handler"])
                # Powertools binds its log stream when the logger is created; point it here.
                stream = load("functions.shared.observability.logger").registered_handler
                if not isinstance(stream, logging.StreamHandler):
                    raise TypeError("the handlers' logger no longer writes to a stream")
                previous = stream.setStream(output)
                try:
                    result = handler(event, context)
                    failed = False
                    return result
                finally:
                    stream.setStream(previous)
        finally:
            lines = [line for line in output.getvalue().splitlines() if line.strip()]
            self.logs.extend(lines)
            # What Lambda records of the run (log group, report, metrics): `signal9 status` reads them.
            record_invocation(
                self.client("logs"),
                self.client("cloudwatch"),
                config["FunctionName"],
                context.aws_request_id,
                lines,
                started,
                failed,
                ended=self.clock(),
            )

    # --- event delivery ---------------------------------------------------------------

    def lambda_target(self, rule: str) -> str:
        targets = self.client("events").list_targets_by_rule(Rule=rule, EventBusName=self.naming.event_bus)["Targets"]
        (target,) = [t["Arn"] for t in targets if t["Arn"].startswith("arn:aws:lambda:")]
        return str(target)

    def deliver(self, rounds: int = 5) -> dict[str, list[Any]]:
        """Invoke each rule's function with what the rule matched, until the bus is quiet."""
        results: dict[str, list[Any]] = {self.naming.rule(e.detail_type): [] for e in catalog.EVENTS}
        for _ in range(rounds):
            batch = self.deliveries.take()
            if not batch:
                break
            for delivery in batch:
                results.setdefault(delivery.rule, []).append(self.invoke(delivery.function_arn, delivery.event))
        return results

    def put_event(self, entry: dict[str, str]) -> None:
        result = self.client("events").put_events(Entries=[entry])
        expect(result["FailedEntryCount"] == 0, f"PutEvents failed: {result['Entries']}")


def count_items(smoke: Smoke, table: str) -> int:
    # Counting rows for the report is the one place a Scan is right: it proves nothing was written.
    return int(smoke.client("dynamodb").scan(TableName=smoke.naming.table(table), Select="COUNT")["Count"])


# Lambda's message attributes on a failed asynchronous invocation's dead letter (Lambda developer
# guide, "Dead-letter queues"): the request id, a 3-digit HTTP error code (200: the function ran
# and raised) and the error message, cut to 1 KB.
ERROR_CODE_FUNCTION_ERROR = "200"
ERROR_MESSAGE_BYTES = 1024


def dead_letter_attributes(request_id: str, error: BaseException) -> dict[str, dict[str, str]]:
    message = f"{type(error).__name__}: {error}".encode()[:ERROR_MESSAGE_BYTES].decode(errors="ignore")
    return {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": ERROR_CODE_FUNCTION_ERROR},
        "ErrorMessage": {"DataType": "String", "StringValue": message},
    }


@dataclass(frozen=True)
class AsynchronousRun:
    """What an asynchronous invocation came to: the function, each failed attempt's error, the queue it ended in."""

    function: str
    errors: list[BaseException]
    attempts: int
    dead_letter_queue: str | None  # None: an attempt succeeded


def invoke_asynchronously(smoke: Smoke, target: str, event: Any) -> AsynchronousRun:
    """Run ``target`` as Lambda's asynchronous invocation would: one request id, 1 + its retries attempts, then
    the event to the queue its deployed dead-letter config names, with Lambda's attributes, as its execution role."""
    deployed = smoke.configuration(target)
    name = deployed["FunctionName"]
    attempts = 1 + int(
        smoke.client("lambda").get_function_event_invoke_config(FunctionName=target)["MaximumRetryAttempts"]
    )
    request_id = str(uuid.uuid4())
    errors: list[BaseException] = []
    for _ in range(attempts):  # Lambda's asynchronous retries, then the dead-letter queue
        try:
            smoke.invoke(target, event, request_id)
        except Exception as error:
            errors.append(error)
        else:
            return AsynchronousRun(name, errors, len(errors) + 1, None)
    # What Lambda does next: send the event to the queue the function's dead-letter config
    # names, as the function's execution role. moto enforces IAM on SQS: the role decides.
    queue = smoke.dead_letter_targets[name].rsplit(":", 1)[-1]
    url = smoke.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
    as_role = smoke.role_client(deployed["Role"], "sqs")
    with enable_iam_authentication():
        try:
            as_role.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(event),
                MessageAttributes=dead_letter_attributes(request_id, errors[-1]),
            )
        except ClientError as error:
            # moto's denial is an XML body the SQS JSON protocol cannot parse: name it plainly.
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            why = "AccessDenied" if "AccessDenied" in str(error) else error.response["Error"].get("Code", "")
            raise SmokeCheckError(
                f"{name}'s role may not send to its dead-letter target {queue}: HTTP {status} {why}"
            ) from None
    return AsynchronousRun(name, errors, attempts, queue)


def fail_into_dlq(smoke: Smoke, target: str, event: Any, what: str) -> str:
    """Invoke ``target`` as Lambda's async path would, expect every attempt to fail writing nothing, and the
    event to land, with Lambda's attributes, in the queue its deployed dead-letter config names."""
    before = {t.name: count_items(smoke, t.name) for t in catalog.TABLES}
    run = invoke_asynchronously(smoke, target, event)
    expect(run.dead_letter_queue is not None, f"{what} was accepted by {run.function}")
    after = {t.name: count_items(smoke, t.name) for t in catalog.TABLES}
    expect(before == after, f"{what} wrote something")
    sqs = smoke.client("sqs")
    url = sqs.get_queue_url(QueueName=run.dead_letter_queue)["QueueUrl"]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
    ).get("Messages", [])
    expect(
        [json.loads(m["Body"]) for m in messages] == [event],
        f"{run.dead_letter_queue} holds {len(messages)} messages, expected exactly the rejected event",
    )
    attributes = sorted(messages[0].get("MessageAttributes", {}))
    expect(attributes == ["ErrorCode", "ErrorMessage", "RequestID"], f"its attributes are {attributes}")
    return (
        f"rejected {run.attempts}x by {run.function} ({type(run.errors[0]).__name__}; Lambda's async retries "
        "replayed by the emulator), nothing written; sent with its role's credentials (IAM enforced by moto) to "
        f"the dead-letter target its deployed config names (emulator's record): {run.dead_letter_queue} holds the "
        "event, with Lambda's RequestID, ErrorCode and ErrorMessage"
    )
