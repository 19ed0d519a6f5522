"""The collectors' fault harness: inject the faults AWS and the APIs produce, recover as Lambda would, compare.

A test file builds one :class:`World` (module fixture: one moto backend, the deployed
environment, its fake servers). A :class:`Case` of its fault matrix restores the tables to the
scenario's starting state, arms its fault, runs the scenario's deliveries and compares every
table with the same scenario run without the fault (:meth:`World.baseline`).

AWS faults reach a handler through botocore ``before-call`` hooks on its own clients
(``functions.shared.aws``), so moto never sees the call they answer:

- :class:`Crash`: the execution environment dies (a crash, a Lambda timeout) before its n-th
  write: that write and every later AWS call of the attempt never happen;
- :class:`AwsError`: the error the SDK raises once its own retries are spent (throttling, an
  internal error, a transaction cancelled with its reasons). A self-check reads the items the
  rejected request names before it and after it, and fails the test if they changed;
- :class:`Unprocessed`: a partial batch answer: part of a BatchWriteItem / BatchGetItem is
  applied through the harness's own client, the rest answered as ``UnprocessedItems`` /
  ``UnprocessedKeys``; PutEvents the same way with failed entries;
- :class:`IndexLag`: a global secondary index read that misses rows (moto's indexes are always
  current; DynamoDB's are eventually consistent);
- :class:`During`: something else (another delivery) run to completion at a chosen call.

API faults are the fakes' own knobs (``signal9_tools.fakes``). :meth:`World.deliver` runs an
invocation as Lambda's asynchronous invoke does: a failed attempt is retried twice, each time in
a fresh execution environment, then the event is in the DLQ.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from functions.shared import aws as shared_aws
from functions.shared import retry
from signal9 import catalog
from signal9.catalog import ASYNC_MAXIMUM_RETRY_ATTEMPTS
from signal9_tools.awsapi import create_stack_tables
from signal9_tools.mockrun import ProgramRun
from signal9_tools.moto_speedups import moto_speedups
from tests.fixtures import fake_aws_environment, fresh_default_session
from tests.handler_support import Fleet, context_for, scheduled_event

BUS = "(the bus)"
"""The pseudo-table of a snapshot that holds the distinct events put on the bus: (detail-type, detail)."""
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "PutEvents"})
Item = dict[str, Any]
Tables = dict[str, dict[tuple[Any, ...], Item]]


class EnvironmentDiedError(Exception):
    """The execution environment died (a crash, a timeout): this call and every later one never happened."""


class HarnessError(BaseException):
    """The harness itself went wrong (a self-check failed): never taken for a handler's failure."""


@dataclass
class Call:
    """One AWS call a handler makes, as the hooks see it."""

    operation: str
    request: dict[str, Any]  # the JSON body as sent (DynamoDB's typed values)
    function: str  # the function whose delivery made it


class Rule:
    """An armed fault: sees every AWS call of ``function`` (the scenario's function when None)."""

    function: str | None = None
    operations: frozenset[str] = frozenset()
    nth: int = 1
    times: int = 1
    seen: int = 0
    fired: int = 0

    def due(self, call: Call) -> bool:
        """Whether this call is one the rule acts on (counts the calls it matches)."""
        if call.operation not in self.operations:
            return False
        self.seen += 1
        if self.nth <= self.seen < self.nth + self.times:
            self.fired += 1
            return True
        return False

    def before(self, call: Call, world: World) -> tuple[AWSResponse, dict[str, Any]] | None:
        return None

    def after(self, call: Call, http: AWSResponse, parsed: dict[str, Any], world: World) -> None:
        return None


@dataclass(eq=False)
class Crash(Rule):
    """The environment dies before the function's write number ``after_writes + 1`` (of ``operation`` only, if given)."""

    after_writes: int
    function: str | None = None
    operation: str | None = None

    def __post_init__(self) -> None:
        self.operations = frozenset({self.operation}) if self.operation else WRITES
        self.nth = self.after_writes + 1

    def before(self, call: Call, world: World) -> None:
        if self.due(call):
            world.current().dead = True
            raise EnvironmentDiedError(f"crashed before write {self.nth} ({call.operation})")


@dataclass(eq=False)
class AwsError(Rule):
    """``operation``'s ``nth`` call (and the ``times - 1`` after it) answered with ``code``, moto never asked.

    ``reasons``: for TransactionCanceledException, the cancellation reason of each item in
    order ("None" for the rest). ``applied``: the fault goes in after moto applied the request,
    which the self-check must catch (only the harness's own test sets it).
    """

    operation: str
    code: str
    nth: int = 1
    times: int = 1
    reasons: tuple[str, ...] = ()
    function: str | None = None
    applied: bool = False
    checked: int = field(default=0, init=False)
    _before: dict[int, list[Item | None]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.operations = frozenset({self.operation})

    def before(self, call: Call, world: World) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.due(call):
            return None
        self._before[id(call.request)] = world.targeted_items(call)
        return None if self.applied else self.response(call)

    def after(self, call: Call, http: AWSResponse, parsed: dict[str, Any], world: World) -> None:
        was = self._before.pop(id(call.request), None)
        if was is None:
            return
        now = world.targeted_items(call)
        if now != was:
            raise HarnessError(f"the rejected {call.operation} was applied: {was} became {now}")
        self.checked += 1
        if self.applied:  # not reached when the check works: the write changed its items
            rejected, body = self.response(call)
            http.status_code = rejected.status_code
            parsed.clear()
            parsed.update(body)

    def response(self, call: Call) -> tuple[AWSResponse, dict[str, Any]]:
        extra: dict[str, Any] = {}
        message = f"injected {self.code}"
        if self.code == "TransactionCanceledException":
            count = len(call.request.get("TransactItems", []))
            codes = [*self.reasons, *["None"] * count][:count]
            extra["CancellationReasons"] = [{"Code": code} for code in codes]
            message = (
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(codes)}]"
            )
        status = 500 if self.code in ("InternalServerError", "InternalFailure") else 400
        return answer(status, {"Error": {"Code": self.code, "Message": message}, **extra})


@dataclass(eq=False)
class Unprocessed(Rule):
    """``operation``'s ``nth`` call partly answered: the first half applied, the rest returned unprocessed.

    BatchWriteItem: ``UnprocessedItems``; BatchGetItem: ``UnprocessedKeys``; PutEvents: failed
    entries (``ThrottlingException``).
    """

    operation: str
    nth: int = 1
    function: str | None = None

    def __post_init__(self) -> None:
        self.operations = frozenset({self.operation})

    def before(self, call: Call, world: World) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.due(call):
            return None
        if self.operation == "PutEvents":
            return self._put_events(call, world)
        key = "RequestItems"
        done: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for table, requests in call.request[key].items():
            listed = requests["Keys"] if self.operation == "BatchGetItem" else requests
            half = (len(listed) + 1) // 2
            if self.operation == "BatchGetItem":
                done[table] = {**requests, "Keys": listed[:half]}
                if listed[half:]:
                    rest[table] = {**requests, "Keys": listed[half:]}
            else:
                done[table] = listed[:half]
                if listed[half:]:
                    rest[table] = listed[half:]
        if self.operation == "BatchGetItem":
            responses = world.client.batch_get_item(RequestItems=done)["Responses"]
            return answer(200, {"Responses": responses, "UnprocessedKeys": rest})
        world.client.batch_write_item(RequestItems=done)
        return answer(200, {"UnprocessedItems": rest})

    def _put_events(self, call: Call, world: World) -> tuple[AWSResponse, dict[str, Any]]:
        entries = call.request["Entries"]
        half = (len(entries) + 1) // 2
        accepted = world.events.put_events(Entries=entries[:half])["Entries"]
        failed = [{"ErrorCode": "ThrottlingException", "ErrorMessage": "injected"}] * (len(entries) - half)
        return answer(200, {"FailedEntryCount": len(failed), "Entries": [*accepted, *failed]})


@dataclass(eq=False)
class IndexLag(Rule):
    """The ``nth`` Query of ``index`` (and the ``times - 1`` after it) misses the rows ``hide`` picks."""

    index: str
    hide: Callable[[Item], bool]
    nth: int = 1
    times: int = 1
    function: str | None = None
    hidden: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.operations = frozenset({"Query"})

    def after(self, call: Call, http: AWSResponse, parsed: dict[str, Any], world: World) -> None:
        if call.request.get("IndexName") != self.index or not self.due(call):
            return
        kept = [item for item in parsed.get("Items", []) if not self.hide(item)]
        self.hidden += len(parsed.get("Items", [])) - len(kept)
        parsed["Items"], parsed["Count"] = kept, len(kept)


@dataclass(eq=False)
class During(Rule):
    """``action`` (another delivery, say) runs to completion just before ``operation``'s ``nth`` call."""

    operation: str
    action: Callable[[], Any]
    nth: int = 1
    when: Callable[[Call], bool] = lambda call: True
    function: str | None = None

    def __post_init__(self) -> None:
        self.operations = frozenset({self.operation})

    def due(self, call: Call) -> bool:
        return call.operation in self.operations and self.when(call) and super().due(call)

    def before(self, call: Call, world: World) -> None:
        if self.due(call):
            self.action()


def answer(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    """A response botocore takes as the service's (an error status makes the client raise the modeled error)."""
    metadata = {"HTTPStatusCode": status, "RequestId": "fault-injected", "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse("https://fault.invalid/", status, HTTPHeaders(), None), {**parsed, "ResponseMetadata": metadata}


@dataclass
class Attempt:
    function: str
    dead: bool = False


class Recovery(StrEnum):
    """How a scenario that met a fault ended up with the fault-free run's tables."""

    IN_RUN = "within the run"
    """The handler (or its client's retries) absorbed the fault; the invocation succeeded."""
    LAMBDA_RETRY = "Lambda's retry"
    """The invocation failed; an asynchronous retry completed the work."""
    NEXT_SCHEDULE = "the next scheduled run"
    """The run succeeded short of the fault-free tables; a later run of the scenario caught up."""
    NONE = "none"
    """The tables never caught up within the scenario (the case says what is left behind)."""


Step = Callable[["World"], None]


@dataclass(frozen=True, eq=False)
class Scenario:
    """What a matrix's cases share: a starting state and the deliveries made from it, step by step.

    ``start`` is run once per test file (without faults) and its tables recorded; every run of
    a scenario with that start begins from them. Each step is a delivery as a deployment makes
    it (a schedule's run, an event); a fault is armed for the whole scenario and usually spent
    in the first step.
    """

    description: str
    start: Step
    steps: tuple[Step, ...]


@dataclass
class Outcome:
    tables: list[Tables]  # after each step
    failed_attempts: list[list[str]]  # per step: "<function>: <error>" per failed attempt
    dlq: list[str]  # functions whose event ended in the DLQ
    writes: list[int]  # per step: AWS writes the function under test sent

    def recovery(self, baseline: Outcome) -> Recovery:
        """How the tables came to be the fault-free run's: after the first step, a later one, or never."""
        for step, (have, want) in enumerate(zip(self.tables, baseline.tables, strict=True)):
            if not differences(want, have):
                if step:
                    return Recovery.NEXT_SCHEDULE
                return Recovery.LAMBDA_RETRY if self.failed_attempts[0] else Recovery.IN_RUN
        return Recovery.NONE


Arm = Callable[["World"], "list[Rule] | None"]
"""Arms a case's fault: returns the AWS rules, or turns a fake's knob (and returns None)."""
Accept = Callable[[Tables], Tables]
"""Turns the fault-free run's tables into exactly what a fault that is not survived leaves."""


class World:
    """The deployed environment in one moto backend, shared by a test file's fault matrix."""

    def __init__(self, fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fleet = fleet
        self.monkeypatch = monkeypatch
        # The harness's own clients, never hooked: the fleet's table handles, and a client for typed
        # values in and out, as the hooks see requests.
        self.client = boto3.client("dynamodb")
        self.events = boto3.client("events")
        self.now: datetime | None = None
        self.alphavantage: Any = None  # the file's fakes, for its cases' knobs
        self.alpaca: Any = None
        self.writes: list[int] = []  # per step: writes the function under test made in the fault-free run
        self.duplicate = False  # every outer delivery made twice (at-least-once delivery)
        self._written = 0
        self.rules: list[Rule] = []
        self._published: dict[tuple[Any, ...], Item] = {}  # events the scenario's deliveries put on the bus
        self.failed_attempts: list[str] = []
        self.dlq: list[str] = []
        self._attempts: dict[int, list[Attempt]] = {}
        self._outer: list[Attempt] = []
        self._hooked: list[Any] = []
        self.environments = {f.name: fleet.environment(f) for f in catalog.FUNCTIONS}
        self._keys = {
            physical: tuple(
                k["AttributeName"] for k in self.client.describe_table(TableName=physical)["Table"]["KeySchema"]
            )
            for physical in fleet.tables.values()
        }
        self._baselines: dict[Scenario, Outcome] = {}
        self._held: Tables | None = None  # what the tables hold, as of the last snapshot or restore
        self.function = ""  # the function under test (rules default to it): see involve()
        self.tables: list[str] = []
        self.publishes = False
        self._start: dict[Step, Tables] = {}  # the tables each start left

    # --- deliveries ------------------------------------------------------------------------

    def deliver(self, function: str, event: Any) -> Any:
        """``event`` to ``function`` as Lambda's async invoke does it; the result, or None once in the DLQ.

        With :attr:`duplicate`, the event is delivered a second time once the first delivery is done.
        """
        result = self._deliver(function, event)
        if self.duplicate and not self._outer:
            result = self._deliver(function, event)
        return result

    def deliver_again(self) -> list[Rule]:
        """Arm a duplicate delivery of every event of the scenario (a case's ``arm``)."""
        self.duplicate = True
        return []

    def _deliver(self, function: str, event: Any) -> Any:
        nested = bool(self._outer)  # delivered while another delivery runs (a concurrent one)
        for _ in range(1 + ASYNC_MAXIMUM_RETRY_ATTEMPTS):
            with self._attempt(function, nested=nested) as attempt:
                try:
                    return self._invoke(function, event)
                except Exception as error:  # what Lambda sees as a failed invocation
                    self.failed_attempts.append(f"{function}: {type(error).__name__}: {error}"[:300])
            if attempt.dead and not nested:
                shared_aws.reset_clients()  # a crash ends the environment: the retry starts a fresh one
        self.dlq.append(function)
        return None

    def _invoke(self, function: str, event: Any) -> Any:
        definition = catalog.function(function)
        self._hook(shared_aws.dynamodb().meta.client)
        self._hook(shared_aws.events())
        handler = importlib.import_module(f"functions.{definition.package}.handler").handler
        return handler(event, context_for(definition))

    @contextmanager
    def _attempt(self, function: str, *, nested: bool) -> Iterator[Attempt]:
        attempt = Attempt(function)
        stack = self._attempts.setdefault(threading.get_ident(), []) if nested else self._outer
        stack.append(attempt)
        saved = dict(os.environ)
        if not nested:  # a nested delivery keeps the outer one's variables (its threads may be reading them)
            for key in [k for k in os.environ if k.startswith("SIGNAL9_")]:
                del os.environ[key]
        os.environ.update(self.environments[function])
        try:
            yield attempt
        finally:
            stack.pop()
            os.environ.clear()
            os.environ.update(saved)

    def move_clocks(self, moment: datetime) -> None:
        """The fakes' clocks and the handlers' frozen ``utc_now`` (:func:`frozen_now`) to ``moment``."""
        for fake in (self.alphavantage, self.alpaca):
            if fake is not None:
                fake.clock.now = moment.timestamp()
        self.now = moment

    def current(self) -> Attempt:
        """The attempt the calling thread works for (a handler's worker threads work for the outer one)."""
        nested = self._attempts.get(threading.get_ident())
        return nested[-1] if nested else self._outer[-1]

    def calling(self, function: str, action: Callable[[], Any]) -> Any:
        """``action()`` (a handler's function called directly) as a nested delivery of ``function``."""
        with self._attempt(function, nested=True):
            return action()

    # --- hooks -----------------------------------------------------------------------------

    def _hook(self, client: Any) -> None:
        if any(client is hooked for hooked in self._hooked):
            return
        self._hooked.append(client)
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-call.{service}", self._before)
        # After boto3's own (registered when the resource was made) turned typed values into Python.
        client.meta.events.register(f"after-call.{service}", self._after)

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> Any:
        if not (self._outer or self._attempts):
            return None
        if model.name == "Scan":
            raise HarnessError("handlers must Query or GetItem, never Scan")
        attempt = self.current()
        if attempt.dead:
            raise EnvironmentDiedError(f"{model.name} after the environment died")
        call = Call(model.name, json.loads(params.get("body") or b"{}"), attempt.function)
        context["fault_call"] = call
        if call.operation in WRITES and call.function == self.function:
            self._written += 1
        for rule in self.rules_for(call):
            response = rule.before(call, self)
            if response is not None:
                return response
        return None

    def _after(
        self, http_response: AWSResponse, parsed: dict[str, Any], context: dict[str, Any], **kwargs: Any
    ) -> None:
        call = context.get("fault_call")
        if call is None:
            return
        for rule in self.rules_for(call):
            rule.after(call, http_response, parsed, self)
        if call.operation == "PutEvents" and http_response.status_code < 300:
            for entry, result in zip(call.request["Entries"], parsed.get("Entries", []), strict=False):
                if "EventId" in result and not result.get("ErrorCode"):
                    self._published[(entry["DetailType"], entry["Detail"])] = json.loads(entry["Detail"])

    def rules_for(self, call: Call) -> list[Rule]:
        return [rule for rule in self.rules if (rule.function or self.function) == call.function]

    def targeted_items(self, call: Call) -> list[Item | None]:
        """The current state of every item a write request names (read through the harness's client)."""
        keys: list[tuple[str, dict[str, Any]]] = []
        request = call.request
        if "TableName" in request:
            keys.append((request["TableName"], request.get("Key") or request.get("Item") or {}))
        for table, requests in request.get("RequestItems", {}).items():
            for entry in requests if isinstance(requests, list) else []:
                for kind in ("PutRequest", "DeleteRequest"):
                    if kind in entry:
                        keys.append((table, entry[kind].get("Key") or entry[kind].get("Item")))
        for entry in request.get("TransactItems", []):
            (action,) = entry.values()
            keys.append((action["TableName"], action.get("Key") or action.get("Item")))
        found: list[Item | None] = []
        for table, item in keys:
            key = {name: item[name] for name in self._keys[table]}
            found.append(self.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item"))
        return found

    # --- state -----------------------------------------------------------------------------

    def involve(self, *functions: str) -> None:
        """The functions a scenario delivers to, the first one under test: their tables are compared."""
        self.function = functions[0]
        involved = [catalog.function(name) for name in functions]
        self.tables = sorted({table for f in involved for table in f.writes})
        self.publishes = any(f.emits for f in involved)

    def snapshot(self) -> Tables:
        """Every item of the tables the scenario's functions may write, by key (the harness's own Scans).

        The other tables cannot change: no function of the scenario is allowed to write them.
        """
        tables: Tables = {}
        for name in self.tables:
            physical = self.fleet.tables[name]
            handle = self.fleet.table(name)
            page = handle.scan()
            items = list(page["Items"])
            while "LastEvaluatedKey" in page:
                page = handle.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
                items.extend(page["Items"])
            tables[name] = {tuple(item[k] for k in self._keys[physical]): item for item in items}
        self._held = tables
        if self.publishes:
            return {**tables, BUS: dict(self._published)}
        return tables

    def restore(self, tables: Tables) -> None:
        """Make the tables hold exactly ``tables`` (writing only what differs from the last snapshot)."""
        held = self._held if self._held is not None else self.snapshot()
        for name in self.tables:  # the bus is no table: what a run published is recorded from its start
            physical = self.fleet.tables[name]
            wanted, present = tables.get(name, {}), held.get(name, {})
            with self.fleet.table(name).batch_writer() as batch:
                for key in present.keys() - wanted.keys():
                    batch.delete_item(Key=dict(zip(self._keys[physical], key, strict=True)))
                for key, item in wanted.items():
                    if present.get(key) != item:
                        batch.put_item(Item=item)
        self._held = tables

    def run(self, scenario: Scenario, arm: Arm = lambda world: []) -> Outcome:
        """``scenario`` from its starting state with ``arm``'s faults armed; what it left behind, step by step."""
        self.restore(self.prepare(scenario.start))
        if self.publishes:
            self.fleet.delivered()
        for fake in (self.alphavantage, self.alpaca):
            if fake is not None:
                fake.clear_faults()
        self.dlq, self.duplicate, self._written, self._published = [], False, 0, {}
        self.rules = list(arm(self) or [])
        tables: list[Tables] = []
        failed: list[list[str]] = []
        writes: list[int] = []
        try:
            for step in scenario.steps:
                self.failed_attempts, self._written = [], 0
                step(self)
                failed.append(self.failed_attempts)
                writes.append(self._written)
                tables.append(self.snapshot())
        finally:
            self.rules, self.duplicate = [], False
            if len(tables) < len(scenario.steps):
                self._held = None
        return Outcome(tables, failed, list(self.dlq), writes)

    def prepare(self, start: Step) -> Tables:
        """The tables ``start`` leaves (run once per test file, then recorded)."""
        if start not in self._start:
            self.restore({})
            start(self)
            self._held = None
            self._start[start] = self.snapshot()
        return self._start[start]

    def baseline(self, scenario: Scenario) -> Outcome:
        """``scenario`` without any fault (run once per test file)."""
        if scenario not in self._baselines:
            outcome = self.run(scenario)
            assert not any(outcome.failed_attempts), outcome.failed_attempts
            self._baselines[scenario] = outcome
        self.writes = self._baselines[scenario].writes
        return self._baselines[scenario]


@dataclass(frozen=True)
class Case:
    """One row of a collector's fault matrix: the fault, how a deployment recovers, what is left behind.

    ``leaves``: None when the tables end equal to the fault-free run's; otherwise what the fault
    costs, in words for docs/collectors.md, and ``accept`` turns the fault-free tables into
    exactly what the faulty run leaves (the test holds both to it).
    """

    fault: str
    arm: Arm
    recovery: Recovery = Recovery.LAMBDA_RETRY
    leaves: str | None = None
    accept: Accept | None = None
    scenario: Scenario | None = None
    """A scenario of its own (its description says what differs); the matrix's when None."""


@dataclass(frozen=True)
class Matrix:
    """A function's fault matrix: its cases, most of them on ``scenario``."""

    function: str
    scenario: Scenario
    cases: tuple[Case, ...]

    def check(self, world: World, case: Case) -> Outcome:
        return check(world, case.scenario or self.scenario, case)

    def ids(self) -> list[str]:
        return ["-".join(word.strip("`{}.,()'") for word in case.fault.split())[:60] for case in self.cases]


def check(world: World, scenario: Scenario, case: Case) -> Outcome:
    """Run ``case`` on ``scenario``: its tables must end as the fault-free run's (or as ``case`` accepts),
    recovered the way ``case`` says, with nothing in a DLQ."""
    baseline = world.baseline(scenario)
    outcome = world.run(scenario, case.arm)
    expected = case.accept(baseline.tables[-1]) if case.accept else baseline.tables[-1]
    diff = differences(expected, outcome.tables[-1])
    assert not diff, f"{case.fault}: tables differ from the fault-free run's:\n" + "\n".join(diff)
    assert not outcome.dlq, f"{case.fault}: events left in the DLQ of {outcome.dlq}: {outcome.failed_attempts}"
    recovery = outcome.recovery(baseline)
    assert recovery is case.recovery, (
        f"{case.fault}: recovered by {recovery}, not {case.recovery}: {outcome.failed_attempts}"
    )
    return outcome


def scheduled(function: str, at: datetime) -> Step:
    """The schedule's run of ``function`` at ``at`` (the clocks moved there first)."""

    def run(world: World) -> None:
        world.move_clocks(at)
        world.deliver(function, scheduled_event(at))

    return run


def differences(expected: Tables, actual: Tables, limit: int = 12) -> list[str]:
    """What ``actual`` holds that ``expected`` does not (and the reverse), item by item."""
    found: list[str] = []
    for table in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(table, {}), actual.get(table, {})
        for key in sorted(want.keys() | have.keys(), key=str):
            if key not in have:
                found.append(f"{table} {key}: missing")
            elif key not in want:
                found.append(f"{table} {key}: not in the fault-free run")
            elif want[key] != have[key]:
                changed = {
                    name: (want[key].get(name), have[key].get(name))
                    for name in sorted(want[key].keys() | have[key].keys())
                    if want[key].get(name) != have[key].get(name)
                }
                found.append(f"{table} {key}: (fault-free, faulty) {changed}")
    return found[:limit] + ([f"... and {len(found) - limit} more"] if len(found) > limit else [])


@contextmanager
def world(dev: ProgramRun, *, alphavantage_url: str | None = None) -> Iterator[World]:
    """One moto backend with the dev stack's tables, bus and secrets, for a whole test file."""
    monkeypatch = pytest.MonkeyPatch()
    fake_aws_environment(monkeypatch)
    monkeypatch.setattr(retry, "pause", lambda seconds: None)  # backoff delays are not slept
    try:
        with mock_aws(), moto_speedups():
            fresh_default_session()
            tables = create_stack_tables(dev, boto3.client("dynamodb"))
            shared_aws.reset_clients()
            yield World(Fleet(tables, monkeypatch, alphavantage_url=alphavantage_url), monkeypatch)
            shared_aws.reset_clients()
    finally:
        monkeypatch.undo()


@pytest.fixture
def fresh_clients() -> None:
    """Replaces the suite's per-test reset (tests/fixtures.py) in a fault-matrix file (imported there):
    the handlers' clients live as long as the file's moto backend, as in a warm execution environment;
    :func:`world` resets them at both ends and a crash resets them (a fresh environment)."""


def frozen_now(world: World, *modules: Any) -> None:
    """The handlers' ``utc_now`` reads ``world.now``: stored times are the same in every run of a scenario."""

    def now() -> datetime:
        assert world.now is not None, "the scenario sets world.now"
        return world.now

    for module in modules:
        world.monkeypatch.setattr(module, "utc_now", now)
