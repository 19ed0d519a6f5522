"""Running the Phase 1 handlers in-process against moto, the way Lambda would.

``Fleet`` sets up what the infrastructure provides (bus, secrets, tables from the
program's own inputs) plus an SQS queue subscribed to the bus so tests can see every
event put on it, and invokes a handler with exactly the environment FunctionFleet gives
that function (derived from the catalog).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from components.function_fleet import environment_variables
from functions.shared import observability
from functions.shared.events import SOURCE
from functions.shared.scheduled import delivered_input, scheduler_input_json
from functions.shared.telemetry import FreshnessMetric
from signal9 import catalog
from signal9.config import StackConfig, parse
from signal9.naming import Naming
from signal9_tools.emulator.smoke import LambdaContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

STAGE_NAME = "dev"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BUS = f"signal9-{STAGE_NAME}"
BATCH_SIZE = 2
STACK_CONFIG = parse({"regularPollenationBatchSize": BATCH_SIZE}, "Pulumi.test.yaml")

# Obviously fake test credentials (never real ones); tests assert they never leak.
SECRET_VALUES: dict[str, dict[str, str]] = {
    "alphavantage": {"apiKey": "test-av-key-0000", "baseUrl": "https://www.alphavantage.co"},
    "alpaca": {
        "keyId": "test-key-id-0000",
        "secretKey": "test-secret-key-0000",
        "baseUrl": "https://paper-api.alpaca.markets",
        "dataUrl": "https://data.alpaca.markets",
    },
}

Handler = Callable[[Any, Any], Any]


def context_for(function: catalog.Function) -> LambdaContext:
    name = f"signal9-{STAGE_NAME}-{function.name}"
    return LambdaContext(
        function_name=name,
        memory_limit_in_mb=function.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        log_group_name=f"/aws/lambda/{name}",
    )


def eventbridge_event(detail_type: str, detail: dict[str, Any], *, source: str = SOURCE) -> dict[str, Any]:
    """An event as EventBridge delivers it to a rule target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-02T20:00:05Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def scheduled_event(time: datetime | str, attempt: int = 1) -> dict[str, Any]:
    """What Signal9's schedules send: the target input with Scheduler's context attributes resolved."""
    event: dict[str, Any] = delivered_input(
        scheduler_input_json(),
        execution_id=uuid.uuid4().hex[:16],
        scheduled_time=time if isinstance(time, str) else time.isoformat().replace("+00:00", "Z"),
        schedule_arn=f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/signal9-{STAGE_NAME}/test",
        attempt=attempt,
    )
    return event


@dataclass(frozen=True)
class OwnClients:
    """The tests' own clients (never the handlers', which tests hook and reset): unhooked, reused."""

    dynamodb: DynamoDBServiceResource
    secretsmanager: SecretsManagerClient
    events: EventBridgeClient
    sqs: SQSClient


def default_session() -> boto3.Session:
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION  # type: ignore[return-value]


@functools.lru_cache(maxsize=1)
def own_clients(session: boto3.Session) -> OwnClients:
    """Made once per boto3 default session (a file's shared account keeps one; ``aws`` makes one per
    test): creating a client costs ~20 ms, and every test made four."""
    return OwnClients(
        session.resource("dynamodb"), session.client("secretsmanager"), session.client("events"), session.client("sqs")
    )


class Fleet:
    """The deployed environment, in moto: tables, bus (+ capture queue), secrets."""

    def __init__(
        self,
        tables: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
        *,
        alphavantage_url: str | None = None,
        stack_config: StackConfig = STACK_CONFIG,
    ) -> None:
        self.tables = tables
        self.stack_config = stack_config
        self._monkeypatch = monkeypatch
        own = own_clients(default_session())
        self.dynamodb = own.dynamodb
        self._tables: dict[str, Any] = {}
        self.secretsmanager = own.secretsmanager
        secrets = dict(SECRET_VALUES)
        if alphavantage_url:  # the local fake stands in for AlphaVantage
            secrets["alphavantage"] = {**secrets["alphavantage"], "baseUrl": alphavantage_url}
        self.secret_arns = {name: self.put_secret(name, value) for name, value in secrets.items()}
        events, sqs = own.events, own.sqs
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=BUS)  # a file's shared account has it from an earlier test
        self.queue_url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="capture", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="capture", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
        self._sqs = sqs
        self.delivered()  # drained: nothing an earlier test in a file's shared account put on the bus

    def put_secret(self, name: str, value: dict[str, str]) -> str:
        secret_id = f"signal9/{STAGE_NAME}/{name}"
        try:
            return self.secretsmanager.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))["ARN"]
        except self.secretsmanager.exceptions.ResourceNotFoundException:
            return self.secretsmanager.create_secret(Name=secret_id, SecretString=json.dumps(value))["ARN"]

    def table(self, name: str) -> Any:
        """The test's own handle on a table, made once (``Table()`` builds a resource class per call)."""
        if name not in self._tables:
            self._tables[name] = self.dynamodb.Table(self.tables[name])
        return self._tables[name]

    def rows(self, name: str) -> list[dict[str, Any]]:
        """Every row (a Scan is fine in a test: it proves what was, or was not, written)."""
        return list(self.table(name).scan()["Items"])

    def environment(self, function: catalog.Function) -> dict[str, str]:
        """Exactly what FunctionFleet sets for ``function`` (its own helper, with this fleet's names)."""
        variables = environment_variables(
            function,
            Naming(STAGE_NAME),
            self.stack_config,
            table_names=self.tables,
            secret_arns=self.secret_arns,
            event_bus_name=BUS,
        )
        env: dict[str, str] = {}
        for key, value in variables.items():
            assert isinstance(value, str), key  # plain names in, plain values out
            env[key] = value
        return env

    def invoke(self, function_name: str, event: Any) -> Any:
        """Call ``functions.<package>.handler.handler`` with the function's environment and a context."""
        return self.handler(function_name)(event)

    def handler(self, function_name: str) -> Callable[[Any], Any]:
        """The function's handler, its environment set for the process (so many threads may call it)."""
        function = catalog.function(function_name)
        self._clear_environment()
        for key, value in self.environment(function).items():
            self._monkeypatch.setenv(key, value)
        handler: Handler = importlib.import_module(f"functions.{function.package}.handler").handler
        return lambda event: handler(event, context_for(function))

    def _clear_environment(self) -> None:
        """Drop another function's variables so a handler sees only its own."""
        for function in catalog.FUNCTIONS:
            for key in self.environment(function):
                if key.startswith("SIGNAL9_"):
                    self._monkeypatch.delenv(key, raising=False)

    def delivered(self) -> list[dict[str, Any]]:
        """Every event put on the bus since the last call (drains the capture queue)."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class WriteCounter:
    """DynamoDB items a client writes, by physical table (BatchWriteItem and transactions item by item)."""

    OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")

    by_table: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def on(cls, client: Any) -> WriteCounter:
        """A counter of every write ``client`` (the handlers' DynamoDB client) sends from now on."""
        counter = cls()
        for operation in cls.OPERATIONS:
            client.meta.events.register(f"provide-client-params.dynamodb.{operation}", counter)
        return counter

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> None:
        items: Counter[str] = Counter()
        if "TableName" in params:
            items[params["TableName"]] += 1
        for table, requests in params.get("RequestItems", {}).items():
            items[table] += len(requests)
        for item in params.get("TransactItems", []):
            items[next(iter(item.values()))["TableName"]] += 1
        with self.lock:
            self.by_table.update(items)

    def take(self) -> Counter[str]:
        """The counts so far, and start again from zero."""
        with self.lock:
            taken, self.by_table = self.by_table, Counter()
        return taken


def record_gauges(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """(name, value) of every freshness gauge the handlers emit from now on (Powertools' add_metric spied on)."""
    recorded: list[tuple[str, float]] = []
    add_metric = observability.metrics.add_metric

    def spy(name: str, unit: Any, value: float, **kwargs: Any) -> None:
        if name in set(FreshnessMetric):
            recorded.append((name, value))
        add_metric(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(observability.metrics, "add_metric", spy)
    return recorded
