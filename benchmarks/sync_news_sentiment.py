"""SyncNewsSentiment with 1000+ articles, on moto and the AlphaVantage fake: wall time, HTTP calls, items written.

The real handler runs in-process with boto3 on moto (DynamoDB emulated) and the AlphaVantage
fake served on 127.0.0.1, over a universe whose companies are all active Signal9 assets:

1. first run: no watermark, so the last 24 hours (``--per-hour`` x 24 articles, paged
   through 1000-article time windows);
2. the next hourly run: one new hour plus the 15-minute re-read overlap;
3. the same hour again: its 15-minute overlap re-read, nothing written.

HTTP calls are the fake's request log; DynamoDB calls are counted with botocore
``before-call`` hooks on the handler's client. moto is far slower than DynamoDB, so wall
time here is an upper bound (figures printed, not asserted).

    .venv/bin/python benchmarks/sync_news_sentiment.py [--assets 2000] [--per-hour 60]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.function_fleet import environment_variables  # noqa: E402
from functions.shared import aws as shared_aws  # noqa: E402
from functions.shared.observability import logger  # noqa: E402
from functions.shared.scheduled import delivered_input, scheduler_input_json  # noqa: E402
from functions.sync_news_sentiment import handler as sync_news  # noqa: E402
from signal9 import catalog  # noqa: E402
from signal9.config import parse  # noqa: E402
from signal9.naming import Naming  # noqa: E402
from signal9_tools.awsapi import create_stack_tables  # noqa: E402
from signal9_tools.emulator.smoke import LambdaContext  # noqa: E402
from signal9_tools.fakes.alphavantage import FAKE_API_KEY, AlphaVantageFake  # noqa: E402
from signal9_tools.fakes.server import FakeServer, SystemClock, serving  # noqa: E402
from signal9_tools.mockrun import run_program  # noqa: E402

RUN = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # Monday, an hourly run
OPERATIONS = ("Query", "GetItem", "BatchGetItem", "PutItem", "BatchWriteItem")


class FixedClock(SystemClock):
    """The fake's clock, moved by the benchmark to each run's scheduled time."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def time(self) -> float:
        return self.moment.timestamp()


@contextlib.contextmanager
def environment(server: FakeServer, fake: AlphaVantageFake) -> Iterator[None]:
    """moto with the dev stack's tables, every fake company an active asset, the secret and the env."""
    plan = run_program("dev")
    with mock_aws():
        os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        tables = create_stack_tables(plan, boto3.client("dynamodb"))
        with boto3.resource("dynamodb").Table(tables["assets"]).batch_writer() as batch:
            for symbol in fake.listed_symbols.values():  # as Alpaca spells them (BRK.B; the fake's is BRK-B)
                batch.put_item(
                    Item={
                        "symbol": symbol,
                        "lastPollenationDate": "2026-10-01T20:00:00.000Z",
                        "status": "active",
                        "avgVolume": Decimal(1000),
                    }
                )
        secret = {"apiKey": FAKE_API_KEY, "baseUrl": server.url}
        arn = boto3.client("secretsmanager").create_secret(
            Name="signal9/dev/alphavantage", SecretString=json.dumps(secret)
        )["ARN"]
        variables = environment_variables(
            catalog.function("SyncNewsSentiment"),
            Naming("dev"),
            parse({}, "Pulumi.dev.yaml"),
            table_names=tables,
            secret_arns={"alphavantage": arn},
            event_bus_name="signal9-dev",
        )
        os.environ.update({k: str(v) for k, v in variables.items()})
        shared_aws.reset_clients()
        yield


def timed_run(server: FakeServer, clock: FixedClock, when: datetime) -> str:
    clock.moment = when
    calls: Counter[str] = Counter()
    client = shared_aws.dynamodb().meta.client
    hooks = [(f"before-call.dynamodb.{op}", lambda model, **_: calls.update([model.name])) for op in OPERATIONS]
    for event, hook in hooks:
        client.meta.events.register(event, hook)
    http_before = len(server.requests)
    function = catalog.function("SyncNewsSentiment")
    context: Any = LambdaContext(  # the emulator's stand-in for the runtime's context
        function.name, function.memory_mb, f"arn:aws:lambda:us-east-1:123456789012:function:{function.name}"
    )
    event = delivered_input(
        scheduler_input_json(), execution_id="bench", scheduled_time=when.isoformat(), schedule_arn="bench", attempt=1
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # EMF lines
        result: dict[str, Any] = sync_news.handler(event, context)
    elapsed = time.perf_counter() - started
    for event_name, hook in hooks:
        client.meta.events.unregister(event_name, hook)
    dynamo = ", ".join(f"{op} {calls[op]}" for op in OPERATIONS if calls[op])
    return (
        f"{elapsed:6.2f} s  HTTP {len(server.requests) - http_before} calls  articles {result['fetched']:>5}  "
        f"items written {result['written']:>5}  unchanged {result['unchanged']:>5}  DynamoDB: {dynamo}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--assets", type=int, default=2000, help="fake universe size, all active Signal9 assets")
    parser.add_argument("--per-hour", type=int, default=60, help="articles the fake publishes per hour")
    args = parser.parse_args()
    logger.setLevel("WARNING")
    clock = FixedClock(RUN)
    fake = AlphaVantageFake(args.assets, clock=clock, articles_per_hour=args.per_hour)
    print(f"{args.assets} active assets, {args.per_hour} articles/hour ({24 * args.per_hour} in the first run's day)")
    with serving(fake) as server, environment(server, fake):
        print("first run (24 h)      ", timed_run(server, clock, RUN), flush=True)
        print("next hourly run       ", timed_run(server, clock, RUN + timedelta(hours=1)), flush=True)
        print("same hour, re-read    ", timed_run(server, clock, RUN + timedelta(hours=1)), flush=True)


if __name__ == "__main__":
    main()
