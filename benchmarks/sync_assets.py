"""SyncAssets against an 11,500-asset Alpaca fake on moto: wall time, HTTP calls, DynamoDB calls.

Three runs of the real handler, in-process, with boto3 on moto (DynamoDB emulated; each call
goes through one lock, see signal9_tools/motolock.py) and the Alpaca fake served on 127.0.0.1:

1. first run: every asset is new;
2. steady state with 1% changes: a third of them renamed or changed, a third delisted, a
   third newly listed (same schedule time, so the 20-session volumes are unchanged);
3. the same again with nothing changed.

DynamoDB calls are counted with botocore ``before-call`` hooks on the handler's client.
moto answers one call at a time (and base-table Queries read one partition, as DynamoDB
does: ``signal9_tools.moto_speedups.partition_queries``) and far slower than DynamoDB, so wall time
here is an upper bound; the printed AWS estimate takes the counted calls at a typical single-digit-millisecond
DynamoDB latency over the handler's writer pool.

    .venv/bin/python benchmarks/sync_assets.py [--assets 11500]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from components.function_fleet import environment_variables
from functions.shared import aws as shared_aws
from functions.shared.observability import logger
from functions.sync_assets import handler as sync_assets
from signal9 import catalog
from signal9.config import parse
from signal9.naming import Naming
from signal9_tools.awsapi import create_stack_tables
from signal9_tools.emulator.smoke import LambdaContext
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, AlpacaFake
from signal9_tools.fakes.server import FakeServer, serving
from signal9_tools.mockrun import run_program
from signal9_tools.moto_speedups import partition_queries
from signal9_tools.motolock import serialized_moto

SCHEDULED = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)  # Monday 05:30 in New York
CHANGED_SHARE = 0.01
AWS_MS_PER_CALL = 8.0  # a conservative DynamoDB round trip from Lambda in-region
# The attributes a handler and Powertools read, as the emulator passes them (Any: not Powertools' class).
CONTEXT: Any = LambdaContext(
    function_name="signal9-dev-SyncAssets",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:signal9-dev-SyncAssets",
)
OPERATIONS = ("Query", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@contextlib.contextmanager
def environment(server: FakeServer) -> Iterator[None]:
    """moto with the assets table (from the dev stack's own inputs), the alpaca secret and SyncAssets' env."""
    plan = run_program("dev")
    with mock_aws(), serialized_moto(), partition_queries():
        os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
        tables = create_stack_tables(plan, boto3.client("dynamodb"))
        secret = {"keyId": ALPACA_KEY_ID, "secretKey": ALPACA_SECRET_KEY, "baseUrl": server.url, "dataUrl": server.url}
        arn = boto3.client("secretsmanager").create_secret(Name="signal9/dev/alpaca", SecretString=json.dumps(secret))
        variables = environment_variables(
            catalog.function("SyncAssets"),
            Naming("dev"),
            parse({}, "Pulumi.dev.yaml"),
            table_names=tables,
            secret_arns={"alpaca": arn["ARN"]},
            event_bus_name="signal9-dev",
        )
        os.environ.update({k: str(v) for k, v in variables.items()})
        shared_aws.reset_clients()
        yield


def timed_run(server: FakeServer) -> dict[str, Any]:
    calls: Counter[str] = Counter()
    client = shared_aws.dynamodb().meta.client
    hooks = [(f"before-call.dynamodb.{op}", lambda model, **_: calls.update([model.name])) for op in OPERATIONS]
    for event, hook in hooks:
        client.meta.events.register(event, hook)
    http_before = server.count()
    quiet = io.StringIO()
    stream: Any = logger.registered_handler
    previous = stream.setStream(quiet)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(quiet):  # EMF metric lines
            result: dict[str, Any] = sync_assets.handler({"id": "benchmark", "time": SCHEDULED.isoformat()}, CONTEXT)
    finally:
        stream.setStream(previous)
        for event, hook in hooks:
            client.meta.events.unregister(event, hook)
    result["seconds"] = time.perf_counter() - started
    result["http"] = server.count() - http_before
    result["dynamodb"] = calls
    return result


def churn(fake: AlpacaFake) -> int:
    """Change about 1% of the catalog: renames/attribute flips, delistings and new listings in equal parts."""
    symbols = sorted(fake.active_symbols())
    third = max(1, round(len(symbols) * CHANGED_SHARE / 3))
    for symbol in symbols[:third]:
        fake.change(symbol, name=f"{symbol} Renamed Inc.")
    fake.delist(symbols[third : 2 * third])
    fake.list_new(third)
    return 3 * third


def report(label: str, result: dict[str, Any]) -> None:
    calls: Counter[str] = result["dynamodb"]
    writes = sum(n for op, n in calls.items() if op != "Query")
    estimate = sum(calls.values()) * AWS_MS_PER_CALL / 1000 / sync_assets.WRITERS
    print(f"{label}:")
    print(f"  wall time on moto: {result['seconds']:.1f} s (timeout 300 s)")
    print(f"  HTTP calls to the fake: {result['http']} (assets 1, calendar 1, bars pages {result['http'] - 2})")
    print(f"  DynamoDB: {writes} writes {dict(sorted((k, v) for k, v in calls.items() if k != 'Query'))}")
    print(f"            {calls['Query']} Query calls (status-index pages + per-symbol consistent reads)")
    print(f"  estimate on DynamoDB: ~{estimate:.1f} s of calls over {sync_assets.WRITERS} writers")
    keys = ("fetched", "listed", "updated", "delisted", "unchanged", "skipped", "conflicts", "symbols_without_bars")
    print("  summary: " + ", ".join(f"{k} {result[k]}" for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=11_500, help="companies in the fake's universe")
    args = parser.parse_args()
    fake = AlpacaFake(args.assets)
    with serving(fake) as server, environment(server):
        print(f"SyncAssets, Alpaca fake with {args.assets} companies ({len(fake.active_symbols())} active):")
        report("first run", timed_run(server))
        changed = churn(fake)
        report(f"steady state, {changed} changes (~1%)", timed_run(server))
        report("steady state, no changes", timed_run(server))


if __name__ == "__main__":
    main()
