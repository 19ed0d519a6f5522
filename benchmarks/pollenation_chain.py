"""The pollenation chain at production scale, on moto against the local fakes (figures printed, not asserted).

SyncAssets (11,500 active assets) -> TriggerEarningsPollenation (a busy earnings day, 300
symbols) and TriggerRegularPollenation (one day's batch) -> PollenateAsset for every event,
delivered by a pool of as many in-process invocations as the stack's reserved concurrency
(``signal9:alphaVantage.pollenationConcurrency``) -> MarkEarningsProcessed; then a sample
of the same symbols pollenated again, first with nothing new reported (the repeat figures),
then after each reported a new quarter.

moto stands in for DynamoDB, EventBridge and Secrets Manager (in-process); the AlphaVantage
fake serves over HTTP on 127.0.0.1 and enforces the plan's ``requestsPerMinute``. The fake
and PollenateAsset's pacers share one CompressedClock, so the production arithmetic
(intervals, per-minute windows) runs ``--speed`` times faster than the wall clock. Both
triggers' events are delivered at once, the worst case (in production they run at 07:00 and
20:00 New York time).

``--write`` records the per-run figures in ``signal9_tools/collector_volumes.json``, which
``signal9 cost`` reads.

    .venv/bin/python benchmarks/pollenation_chain.py [--stack dev] [--speed 5] [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.pollenate_asset.fundamentals import DATASETS
from functions.shared import aws as shared_aws
from functions.shared import pacing
from functions.shared.clock import iso_utc, market_date
from functions.shared.observability import logger as handler_logger
from functions.shared.telemetry import MetricName
from signal9.config import StackConfig, load_stack
from signal9_tools.awsapi import create_stack_tables
from signal9_tools.cost import VOLUMES_FILE
from signal9_tools.fakes.alphavantage import AlphaVantageFake, reports
from signal9_tools.fakes.fundamentals import knobs
from signal9_tools.fakes.server import CompressedClock, FakeServer, busiest_window, serving
from signal9_tools.fakes.universe import universe
from signal9_tools.mockrun import run_program
from tests.handler_support import Fleet, WriteCounter, eventbridge_event, scheduled_event

ASSETS = 11_500
BUSY_EARNINGS_DAY = 300
REPEAT_SAMPLE = 50
# Monday 2 November 2026, 07:00 in New York: TriggerEarningsPollenation's scheduled time.
START = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
# SyncAssets' row for a symbol never pollenated (the alpaca branch's NEVER_POLLENATED).
NEVER_POLLENATED = "1970-01-01T00:00:00.000Z"


@dataclass
class BusTap:
    """Every entry the handlers put on the bus, as EventBridge would deliver it to a rule's target.

    Read at the PutEvents call: moto's SQS (the tests' capture queue) re-reads a queue's
    attributes per received message, far too slow for hundreds of events. Rule matching is
    covered by the tests and ``signal9 local``; here every Signal9 event reaches its consumer.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, params: dict[str, Any], **kwargs: Any) -> None:
        delivered = [
            eventbridge_event(entry["DetailType"], json.loads(entry["Detail"]), source=entry["Source"])
            for entry in params["Entries"]
        ]
        with self.lock:
            self.events.extend(delivered)

    def take(self, detail_type: str) -> list[dict[str, Any]]:
        with self.lock:
            taken = [e for e in self.events if e["detail-type"] == detail_type]
            self.events = [e for e in self.events if e["detail-type"] != detail_type]
        return taken


@contextlib.contextmanager
def quiet_handlers() -> Iterator[io.StringIO]:
    """Handler logs and EMF metrics go to a buffer (read afterwards for the throttle/retry metrics)."""
    buffer = io.StringIO()
    stream: Any = handler_logger.registered_handler
    previous = stream.setStream(buffer)
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        stream.setStream(previous)


def emf_total(buffer: io.StringIO, metric: MetricName) -> int:
    total = 0
    for line in buffer.getvalue().splitlines():
        if line.startswith('{"_aws"') and metric.value in line:
            values = json.loads(line)[metric.value]
            total += int(sum(values) if isinstance(values, list) else values)
    return total


def seed(fleet: Fleet, fake: AlphaVantageFake, assets: int) -> list[str]:
    """Active assets as SyncAssets leaves them, and a busy day's earnings calendar; the reporters.

    The reporters reported after yesterday's close, so the 07:00 run collects them (SPEC "When
    an earnings pollenation runs"); the fake publishes their quarters accordingly and the rows
    name the quarter the fake's calendar announces.
    """
    symbols = [company.symbol for company in universe(assets)]
    with fleet.table("assets").batch_writer() as batch:
        for index, symbol in enumerate(symbols):
            volume = (index * 7919) % 5_000_000
            item = {"symbol": symbol, "lastPollenationDate": NEVER_POLLENATED, "status": "active", "avgVolume": volume}
            batch.put_item(Item=item)
    reporters = symbols[:: max(1, assets // BUSY_EARNINGS_DAY)][:BUSY_EARNINGS_DAY]
    yesterday = market_date(START) - timedelta(days=1)
    with fleet.table("earningsCalendar").batch_writer() as batch:
        for symbol in reporters:
            fake.report_on(symbol, yesterday, "post-market")
            company = fake.company(symbol)
            assert company is not None
            (report,) = reports(fake, company, yesterday, yesterday)
            row = {"asset_symbol": symbol, "earnings_date": yesterday.isoformat(), "name": symbol}
            row |= {"fiscalDateEnding": report.fiscal_date_ending.isoformat(), "timeOfTheDay": "post-market"}
            batch.put_item(Item=row)
    return reporters


@dataclass
class Phase:
    name: str
    wall: float
    virtual: float
    writes: Counter[str]


class Chain:
    def __init__(self, fleet: Fleet, server: FakeServer, clock: CompressedClock, writes: WriteCounter) -> None:
        self.fleet, self.server, self.clock, self.writes = fleet, server, clock, writes
        self.phases: list[Phase] = []
        self.failures: list[str] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        print(f"  ... {name}", file=sys.stderr, flush=True)  # progress (stdout holds the handlers' output)
        wall, virtual = time.monotonic(), self.clock.time()
        self.writes.take()
        yield
        self.phases.append(Phase(name, time.monotonic() - wall, self.clock.time() - virtual, self.writes.take()))

    def scheduled(self, function: str) -> Any:
        moment = datetime.fromtimestamp(self.clock.time(), UTC)
        return self.fleet.invoke(function, scheduled_event(moment))

    def pool(self, function: str, events: list[dict[str, Any]], workers: int) -> list[Any]:
        """Deliver ``events`` with ``workers`` concurrent in-process invocations (one thread = one environment)."""
        handler = self.fleet.handler(function)

        done = iter(range(1, len(events) + 1))

        def run(event: dict[str, Any]) -> Any:
            try:
                return handler(event)
            except Exception as error:  # a failed invocation would go to Lambda's retries, then the DLQ
                self.failures.append(f"{function} {event['detail'].get('symbol')}: {type(error).__name__}: {error}")
                return None
            finally:
                count = next(done)
                if count % 50 == 0:
                    print(f"      {count}/{len(events)}", file=sys.stderr, flush=True)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="environment") as executor:
            return list(executor.map(run, events))

    def sequential(self, function: str, events: list[dict[str, Any]]) -> list[Any]:
        handler = self.fleet.handler(function)
        return [handler(event) for event in events]


def later(event: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """The same pollenationNeeded, requested ``delta`` later (a new pollenation of the same symbol)."""
    detail = dict(event["detail"])
    requested = datetime.fromisoformat(detail["requestedAt"].replace("Z", "+00:00")) + delta
    detail["requestedAt"] = iso_utc(requested)
    return {**event, "id": f"{event['id']}-repeat", "detail": detail}


def run(stack: str, speed: float, assets: int = ASSETS) -> dict[str, Any]:
    config: StackConfig = load_stack(stack)
    plan = config.alphaVantage
    clock = CompressedClock(factor=speed, start=START.timestamp())
    fake = AlphaVantageFake(assets, clock=clock, requests_per_minute=plan.requestsPerMinute)
    monkeypatch = pytest.MonkeyPatch()
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    previous_clock = pacing.clock()
    pacing.use_clock(clock)
    try:
        with mock_aws(), serving(fake) as server, quiet_handlers() as output:
            shared_aws.reset_clients()
            writes = WriteCounter.on(shared_aws.dynamodb().meta.client)
            bus = BusTap()
            shared_aws.events().meta.events.register("provide-client-params.events.PutEvents", bus)
            tables = create_stack_tables(run_program("dev"), boto3.client("dynamodb"))  # as the tests do
            fleet = Fleet(tables, monkeypatch, alphavantage_url=server.url, stack_config=config)
            chain = Chain(fleet, server, clock, writes)
            with chain.phase(
                f"seed: {assets:,} assets + {BUSY_EARNINGS_DAY} reporters (SyncAssets not on this branch)"
            ):
                reporters = seed(fleet, fake, assets)
            with chain.phase("TriggerEarningsPollenation + TriggerRegularPollenation"):
                earnings = chain.scheduled("TriggerEarningsPollenation")
                regular = chain.scheduled("TriggerRegularPollenation")
                events = bus.take("pollenationNeeded")
            first_calls = len(server.requests)
            with chain.phase(f"PollenateAsset x {len(events)}, {plan.paced_concurrency} concurrent"):
                chain.pool("PollenateAsset", events, plan.paced_concurrency)
            pollenate_requests = server.requests[:]
            processed = bus.take("earningsProcessed")
            with chain.phase(f"MarkEarningsProcessed x {len(processed)}"):
                marked = chain.sequential("MarkEarningsProcessed", processed)
            sample = [later(e, timedelta(hours=1)) for e in events[:REPEAT_SAMPLE]]
            with chain.phase(f"PollenateAsset repeat x {len(sample)} (nothing new reported)"):
                chain.pool("PollenateAsset", sample, plan.paced_concurrency)
            for event in sample:
                knobs(fake).new_quarters[event["detail"]["symbol"]] = 1
            reported = [later(e, timedelta(hours=2)) for e in events[:REPEAT_SAMPLE]]
            with chain.phase(f"PollenateAsset x {len(reported)} after a new quarter was reported"):
                chain.pool("PollenateAsset", reported, plan.paced_concurrency)
            throttled = emf_total(output, MetricName.EXTERNAL_THROTTLED)
            retries = emf_total(output, MetricName.EXTERNAL_RETRIES)
    finally:
        pacing.use_clock(previous_clock)
        monkeypatch.undo()
        shared_aws.reset_clients()

    first, repeat, new_quarter = chain.phases[2], chain.phases[4], chain.phases[5]
    physical = {v: k for k, v in fleet.tables.items()}
    per_table = {physical[t]: n for t, n in first.writes.items()}
    statement_tables = [d.table for d in DATASETS if d.statements]
    times = [r.at for r in pollenate_requests[first_calls:]]
    report = {
        "stack": stack,
        "speed": speed,
        "assets": assets,
        "reporters": len(reporters),
        "events": {"earnings": earnings["published"], "regular": regular["published"], "total": len(events)},
        "alphavantage_calls": len(pollenate_requests) - first_calls,
        "calls_per_pollenation": (len(pollenate_requests) - first_calls) / max(1, len(events)),
        "peak_calls_per_minute": busiest_window(times),
        "plan_requests_per_minute": plan.requestsPerMinute,
        "pollenation_budget_per_minute": plan.pollenation_budget,
        "throttled": throttled,
        "retries": retries,
        "failures": chain.failures,
        "marked_processed": sum(1 for m in marked if m and m.get("changed")),
        "drain_virtual_seconds": first.virtual,
        "drain_predicted_seconds": plan.drain_seconds(len(events)),
        "writes_per_pollenation_first": sum(first.writes.values()) / max(1, len(events)),
        "writes_per_pollenation_repeat": sum(repeat.writes.values()) / max(1, REPEAT_SAMPLE),
        "writes_per_pollenation_new_quarter": sum(new_quarter.writes.values()) / max(1, REPEAT_SAMPLE),
        "statement_rows_per_pollenation_first": sum(per_table.get(t, 0) for t in statement_tables)
        / max(1, len(events)),
        "writes_first_by_table": per_table,
        "phases": [
            {"name": p.name, "wall_seconds": p.wall, "virtual_seconds": p.virtual, "writes": sum(p.writes.values())}
            for p in chain.phases
        ],
    }
    return report


def show(report: dict[str, Any]) -> None:
    print(f"pollenation chain on moto + AlphaVantage fake, stack {report['stack']}, clock x{report['speed']:g}")
    print(f"  SyncAssets: alpaca's collector is not on this branch: {report['assets']:,} assets rows seeded directly")
    events = report["events"]
    print(f"  events: {events['total']} pollenationNeeded ({events['earnings']} earnings, {events['regular']} regular)")
    print(
        f"  AlphaVantage calls: {report['alphavantage_calls']} ({report['calls_per_pollenation']:.2f} per pollenation)"
    )
    print(
        f"  peak calls in any minute: {report['peak_calls_per_minute']} "
        f"(plan {report['plan_requests_per_minute']}/min, PollenateAsset budget {report['pollenation_budget_per_minute']}/min)"
    )
    print(
        f"  throttled answers: {report['throttled']}, retries: {report['retries']}, failed invocations: {len(report['failures'])}"
    )
    for failure in report["failures"][:5]:
        print(f"    {failure}")
    print(
        f"  drain: {report['drain_virtual_seconds'] / 60:.1f} virtual minutes "
        f"(predicted {report['drain_predicted_seconds'] / 60:.1f}, event age limit 60)"
    )
    if report["peak_calls_per_minute"] < report["pollenation_budget_per_minute"]:
        # The pool could not keep the pacers busy: moto and the fake, sharing the CPU, were slower than the pacing.
        print("  (drain bound by the emulator's CPU, not by the pacing: the peak stayed under the budget)")
    print(f"  earnings rows marked processed: {report['marked_processed']}")
    print(
        f"  DynamoDB writes per pollenation: first {report['writes_per_pollenation_first']:.1f}, "
        f"repeat {report['writes_per_pollenation_repeat']:.1f}, "
        f"after a new quarter {report['writes_per_pollenation_new_quarter']:.1f} "
        f"(statement rows per first pollenation {report['statement_rows_per_pollenation_first']:.1f})"
    )
    print(f"  first-pollenation writes by table: {report['writes_first_by_table']}")
    for phase in report["phases"]:
        print(
            f"  {phase['name']}: wall {phase['wall_seconds']:.1f} s, virtual {phase['virtual_seconds'] / 60:.1f} min, "
            f"{phase['writes']} DynamoDB writes"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--speed", type=float, default=5.0, help="clock compression factor")
    parser.add_argument("--write", action="store_true", help=f"record the figures in {VOLUMES_FILE.name}")
    parser.add_argument("--assets", type=int, default=ASSETS, help="assets seeded (a quick run: fewer)")
    args = parser.parse_args(argv)
    report = run(args.stack, args.speed, args.assets)
    show(report)
    if args.write:
        VOLUMES_FILE.write_text(json.dumps(volumes(report), indent=2) + "\n")
        print(f"  recorded in {VOLUMES_FILE}")
    return 0


def volumes(report: dict[str, Any]) -> dict[str, Any]:
    """What ``signal9 cost`` reads: per-pollenation figures measured by this run."""
    return {
        "source": "benchmarks/pollenation_chain.py --write",
        "stack": report["stack"],
        "PollenateAsset": {
            "alphavantage_calls_per_pollenation": report["calls_per_pollenation"],
            "writes_per_pollenation_first": report["writes_per_pollenation_first"],
            "writes_per_pollenation_repeat": report["writes_per_pollenation_repeat"],
            "writes_per_pollenation_new_quarter": report["writes_per_pollenation_new_quarter"],
            "statement_rows_per_pollenation_first": report["statement_rows_per_pollenation_first"],
        },
    }


if __name__ == "__main__":
    raise SystemExit(main())
