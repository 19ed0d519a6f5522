"""``signal9 local up``: deploy a stack into an embedded moto server and smoke-test it."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import EndpointConnectionError

from signal9 import config, runtime
from signal9.errors import OperatorError
from signal9.stackfile import config_region, read_stack_config
from signal9_tools.emulator.collection import EndpointConfigError, Endpoints, given_endpoints
from signal9_tools.emulator.deploy_audit import DeployAudit, install_boundary
from signal9_tools.emulator.execution import ExecutionEnvironments
from signal9_tools.emulator.provisioner import Created, Deployment, MotoProvisioner
from signal9_tools.emulator.report import Report, format_check, format_summary, table_head, timed
from signal9_tools.emulator.request_constraints import RequestConstraintError
from signal9_tools.emulator.server import Transport, aws_environment, moto_engine
from signal9_tools.emulator.smoke import Smoke, invoke_asynchronously
from signal9_tools.emulator.smoke_run import BUILT_IN_UNIVERSE, PACING_SPEEDUP, SmokeClock, SmokeScope, run_smoke
from signal9_tools.emulator.snapshot import DeploySnapshot
from signal9_tools.emulator.teardown import (
    KeptStack,
    read_record,
    record,
    record_path,
    recorded,
    render,
    stop,
    tear_down,
)
from signal9_tools.mockrun import ProgramRun, run_program
from signal9_tools.sessions import aws_session
from signal9_tools.status import Status, collect, format_status, verdict_line

MOTO_ACCOUNT_ID = "123456789012"  # moto's default account (the emulator never sets MOTO_ACCOUNT_ID)
KEEP_HINTS = """
The emulator is still running at {endpoint} (Ctrl-C stops it). The signal9 tools and boto3 reach it
through AWS_ENDPOINT_URL (events put on the bus now are matched, not delivered); in another shell, in this directory:
  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={region}
  .venv/bin/signal9 status --stack {stack}         # exits 0: the smoke walked its failures through the runbook
  .venv/bin/signal9 verify --stack {stack}
  .venv/bin/signal9 local down --stack {stack}   # deletes every resource, shows nothing is left, stops this emulator
  .venv/bin/signal9 dlq list --stack {stack}
  .venv/bin/signal9 dlq replay --stack {stack} --function SyncEarningsCalendar   # runs the real handler
  .venv/bin/python -c 'import boto3; print(boto3.client("dynamodb").list_tables()["TableNames"])'
  .venv/bin/python -c 'import boto3; print(boto3.resource("dynamodb").Table("signal9-{stack}-assets").scan(Limit=2)["Items"])'
  .venv/bin/python -c 'import boto3; print([(s["Name"], s["State"]) for s in boto3.client("scheduler").list_schedules(GroupName="signal9-{stack}")["Schedules"]])'
(an installed AWS CLI reaches it the same way: aws sqs list-queues --queue-name-prefix signal9-{stack})
"""


# How long a given endpoint has to accept a TCP connection: a local fake answers in
# milliseconds, a remote API well under a second; a dead one would otherwise cost every collector its retries.
PROBE_TIMEOUT_SECONDS = 3.0


def check_endpoint(flag: str, url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
    """``url`` is an http(s) URL and something accepts a connection there, or EndpointConfigError."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise EndpointConfigError(f"{flag} {url!r}: not an http(s) URL (e.g. http://127.0.0.1:8080)")
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        raise EndpointConfigError(
            f"{flag} {url}: nothing answers at {parts.hostname}:{port} ({error.strerror or error}); "
            "start the server (e.g. `signal9 fakes serve`) or fix the URL"
        ) from None


def pacing_warning(stack_config: config.StackConfig) -> str:
    """What a run against given endpoints costs: the built-in fakes' clock is compressed, theirs is not."""
    per_pollenation = config.CALLS_PER_POLLENATION * stack_config.alphaVantage.interval_seconds
    batch = stack_config.regularPollenationBatchSize
    return (
        "warning: against given endpoints PollenateAsset paces its AlphaVantage requests in real time "
        f"({per_pollenation:.0f} s per pollenation at signal9:alphaVantage's rate), so the smoke's pollenations "
        f"take up to about {batch * per_pollenation / 60:.0f} min ({batch} of them, one after another) before the "
        "report prints; for a shorter run use a stack with a smaller signal9:regularPollenationBatchSize "
        "or a higher signal9:alphaVantage.requestsPerMinute, or, against a server that enforces no rate "
        "(e.g. `signal9 fakes serve`), --compressed-pacing"
    )


COMPRESSED_PACING_NOTE = (
    f"note: PollenateAsset's requests to the given endpoints are paced on a clock {PACING_SPEEDUP:.0f} times "
    "faster (--compressed-pacing), as against the built-in fakes: an endpoint that enforces AlphaVantage's "
    "rate would throttle them"
)


@dataclass
class LocalRun:
    plan: ProgramRun
    report: Report
    timings: dict[str, float]
    notes: list[str]
    endpoint: str | None  # the HTTP transport's URL; None in-process
    status: Status | None = None
    # What the provisioner created, in creation order (`signal9 local down` deletes it in reverse).
    created: list[Created] = field(default_factory=list)
    # The functions' execution environments, warm from the smoke, serving invocations from outside.
    environments: ExecutionEnvironments = field(default_factory=ExecutionEnvironments)

    @property
    def endpoint_port(self) -> int:
        if self.endpoint is None:
            raise ValueError("an in-process run has no endpoint")
        return int(self.endpoint.rsplit(":", 1)[-1])

    def tail(self) -> str:
        """The report after its checks: the counts, times, notes and what `signal9 status` says."""
        status = f"\n\n{format_status(self.status)}" if self.status else ""
        return format_summary(self.report, self.timings, self.notes) + status

    def text(self) -> str:
        return "\n".join([report_head(self.plan), *map(format_check, self.report.checks), self.tail()])


def report_head(plan: ProgramRun) -> str:
    """The report's first lines, known once the stack is deployed."""
    return (
        f"signal9 local: stack {plan.stack!r}, {len(plan.resources)} resources deployed into moto\n"
        f"{runtime.running_summary()}\n{table_head()}"
    )


def check_status(report: Report, status: Status) -> None:
    """`signal9 status` after the smoke (its failures walked through the runbook): every enabled collector
    fresh, a disabled one never ran, and the verdict all fresh, so `signal9 status` exits 0 on a kept stack."""
    expected = {row.function: "fresh" if row.enabled else "never ran" for row in status.collectors}
    found = {row.function: row.verdict for row in status.collectors}
    wrong = {name: verdict for name, verdict in found.items() if verdict != expected[name]}
    problems = [f"{name} {verdict}, expected {expected[name]}" for name, verdict in wrong.items()]
    if not status.healthy:
        problems.append(f"verdict: {verdict_line(status)}")
    report.add(
        "signal9 status verdicts",
        not problems,
        "; ".join(problems) or ", ".join(f"{name} {verdict}" for name, verdict in found.items()) + ": all fresh",
    )


def deploy(stack: str, values: Mapping[str, str], region: str) -> Deployment:
    """Deploy ``stack`` (its config ``values``) into the running emulator: the bootstrap's permissions
    boundary, then the program through the provisioner, every call judged by the stack's deploy
    policy and by the constraints AWS enforces on requests."""
    provisioner = MotoProvisioner(region)
    audit = provisioner.audit = DeployAudit.for_stack(stack, MOTO_ACCOUNT_ID, region)
    install_boundary(boto3.client("iam", region_name=region), audit.target)
    try:
        plan = run_program(stack, config=values, mocks_factory=lambda _: provisioner)
    except Exception as error:
        # The runtime wraps a creator's error in its own: name what AWS would reject.
        if provisioner.constraints.violations:
            raise RequestConstraintError("\n".join(provisioner.constraints.violations)) from error
        raise
    provisioner.audit = None  # the smoke's own calls are not part of the deploy
    checked = provisioner.constraints
    return Deployment(
        plan,
        provisioner.created,
        provisioner.notes,
        provisioner.query_definitions,
        provisioner.dead_letter_targets,
        audit=(audit.passed, audit.summary()),
        requests=(checked.checked > 0, checked.summary()),
    )


def deploy_and_smoke(
    stack: str,
    *,
    keep: bool = False,
    on_deployed: object = None,
    on_smoked: Callable[[LocalRun], None] | None = None,
    config_values: Mapping[str, str] | None = None,
    endpoints: Endpoints | None = None,
    scope: SmokeScope = "full",
    universe: int = BUILT_IN_UNIVERSE,
    compressed_pacing: bool = False,
    stream: TextIO | None = None,
    transport: Transport | None = None,
    snapshot: DeploySnapshot | None = None,
) -> LocalRun:
    """Deploy ``stack`` into a fresh emulator, run the smoke, shut down unless ``keep``.

    ``transport``: how boto3 reaches moto (``server.Transport``); in-process unless ``keep``, which
    serves HTTP so that other processes can reach the kept stack.

    ``on_deployed(plan)``, if given, runs between deploy and smoke (tests use it to break
    the wiring on purpose); ``on_smoked(run)`` after the smoke, with the emulator still running
    (tests use it as `--keep` is used: `signal9 verify`, `status`, boto3 against the stack);
    ``config_values`` replaces the stack file's config (as run_program);
    ``endpoints`` are the APIs the collectors call (the built-in fakes, serving ``universe``
    companies, when None); ``scope`` is how much of the smoke runs (``SMOKE_SCOPES``);
    ``compressed_pacing``: the given endpoints enforce no rate (``run_smoke``). With a ``stream``,
    the report is written to it as the run goes: each check's line as the check completes.
    ``snapshot`` (tests): the deploy is the one it holds, restored, or, while it holds none, a
    real one it then keeps (``snapshot.DeploySnapshot``).
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    values = dict(read_stack_config(stack) if config_values is None else config_values)
    stack_config = config.parse(config.namespace_values(values), f"Pulumi.{stack}.yaml")
    region = config_region(values, f"Pulumi.{stack}.yaml" if config_values is None else "the stack config")
    timings: dict[str, float] = {}
    report = Report(
        on_check=None if stream is None else lambda check: print(format_check(check), file=stream, flush=True)
    )
    environments = ExecutionEnvironments()  # every function's execution environment, for this emulator's life
    transport = transport or ("http" if keep else "in-process")
    if keep and transport != "http":
        raise ValueError("a kept emulator serves HTTP: other processes reach it (transport='http')")
    with moto_engine(region, transport, keep=keep) as emulator, contextlib.closing(environments):
        if snapshot is not None and snapshot.kept_stack is not None:
            with timed(timings, "restored deploy"):  # (tests) a copy of the snapshot's deploy
                deployment = snapshot.restore(stack, values)
        else:
            with timed(timings, "deploy"):
                deployment = deploy(stack, values, region)
            if snapshot is not None:
                snapshot.capture(stack, values, deployment)
        plan = deployment.plan
        clock = SmokeClock.now()
        # Invoke from outside (`signal9 dlq replay`, the AWS CLI) runs the deployed handler in-process,
        # and an event put from outside (`dlq replay --to-bus`) runs its rules' functions as Lambda's
        # asynchronous invocation would (retries, then the dead-letter queue).
        outside = Smoke(
            plan,
            stack_config,
            emulator.deliveries,
            {},
            deployment.dead_letter_targets,
            clock=clock,
            environments=environments,
        )
        emulator.invokes.invoker = outside.invoke
        emulator.deliveries.dispatch = lambda delivery: environments.run_when_idle(
            lambda: invoke_asynchronously(outside, delivery.function_arn, delivery.event)
        )
        if callable(on_deployed):
            on_deployed(plan)
        if stream is not None:
            print(report_head(plan), file=stream, flush=True)
        with timed(timings, "smoke"):
            run_smoke(
                plan,
                stack_config,
                deployment.query_definitions,
                deployment.dead_letter_targets,
                endpoints,
                report=report,
                clock=clock,
                environments=environments,
                scope=scope,
                universe=universe,
                compressed_pacing=compressed_pacing,
            )
        status = None
        if scope == "full":  # the collectors ran: what `signal9 status` says of them
            status = collect(aws_session(region=region), stack, stack_config, clock())
            check_status(report, status)
        clock.release()  # outside clients of a kept emulator: runs are recorded at the wall clock's time
        report.add("deploy calls allowed by the deploy policy", *deployment.audit)
        report.add("deploy requests within AWS's constraints", *deployment.requests)
        run = LocalRun(
            plan, report, timings, deployment.notes, emulator.endpoint, status, deployment.created, environments
        )
        if stream is not None:
            print(run.tail(), file=stream, flush=True)
        if on_smoked is not None:
            on_smoked(run)
        if keep:
            assert emulator.endpoint is not None  # a kept emulator serves HTTP
            kept = KeptStack(
                stack, region, MOTO_ACCOUNT_ID, emulator.endpoint, os.getpid(), recorded(plan, run.created)
            )
            record(kept)
            print(KEEP_HINTS.format(endpoint=emulator.endpoint, region=region, stack=stack))
            try:
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
            finally:
                record_path(stack).unlink(missing_ok=True)
    return run


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("local", help="run the whole stack on an embedded local AWS emulator (moto)")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="deploy every resource into moto and run the end-to-end smoke")
    up.add_argument("--stack", "-s", default="dev", help="stack whose Pulumi.<stack>.yaml to deploy (default dev)")
    up.add_argument("--keep", action="store_true", help="leave the emulator running and print how to look around")
    for flag, api in (
        ("--alpaca-url", "Alpaca trading API"),
        ("--alpaca-data-url", "Alpaca market-data API"),
        ("--alphavantage-url", "AlphaVantage API"),
    ):
        up.add_argument(flag, help=f"{api} base URL instead of the built-in fake (all three, keys from SIGNAL9_*)")
    up.add_argument(
        "--compressed-pacing",
        action="store_true",
        help="the given endpoints enforce no rate (e.g. `signal9 fakes serve`): pace PollenateAsset's requests "
        f"to them on a clock {PACING_SPEEDUP:.0f} times faster, as the built-in fakes always are, so the run "
        "takes seconds instead of minutes (an API that enforces its rate would throttle it)",
    )
    up.set_defaults(run=run)
    down = actions.add_parser(
        "down",
        help="delete every resource of a kept emulator (`local up --keep`) in reverse order, show nothing is "
        "left, stop it",
    )
    down.add_argument("--stack", "-s", default="dev", help="the stack `local up --keep` deployed (default dev)")
    down.add_argument(
        "--unprotect",
        action="store_true",
        help="delete protected resources too (as after `pulumi state unprotect`); retained ones stay",
    )
    down.set_defaults(run=run_down)


def run_down(args: argparse.Namespace) -> int:
    kept = read_record(args.stack)
    with aws_environment(kept.endpoint, kept.region):
        try:
            result = tear_down(kept, unprotect=args.unprotect)
        except EndpointConnectionError:
            record_path(args.stack).unlink(missing_ok=True)
            raise OperatorError(
                f"the kept emulator of stack {args.stack!r} at {kept.endpoint} is gone (its `local up --keep` "
                "stopped): nothing to delete"
            ) from None
    print(render(kept, result))
    if result.refused:
        return 1
    print(stop(kept))
    return 0 if result.complete else 1


def run(args: argparse.Namespace) -> int:
    try:
        endpoints = given_endpoints(args.alpaca_url, args.alpaca_data_url, args.alphavantage_url)
        if args.compressed_pacing and not endpoints:
            raise EndpointConfigError(
                "--compressed-pacing applies to the endpoints given with --alpaca-url, --alpaca-data-url and "
                "--alphavantage-url; the built-in fakes are always paced on the compressed clock"
            )
        if endpoints:  # before deploying: a bad endpoint would only show as every collector failing
            check_endpoint("--alpaca-url", endpoints.alpaca_url)
            check_endpoint("--alpaca-data-url", endpoints.alpaca_data_url)
            check_endpoint("--alphavantage-url", endpoints.alphavantage_url)
    except EndpointConfigError as error:
        raise OperatorError(str(error)) from None
    if endpoints:
        warning = COMPRESSED_PACING_NOTE if args.compressed_pacing else pacing_warning(config.load_stack(args.stack))
        print(warning, file=sys.stderr, flush=True)
    if args.keep:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        result = deploy_and_smoke(
            args.stack,
            keep=args.keep,
            endpoints=endpoints,
            compressed_pacing=args.compressed_pacing,
            stream=sys.stdout,
        )
    except RequestConstraintError as error:
        print(f"signal9 local up: the deploy makes requests AWS would reject:\n{error}", file=sys.stderr)
        return 1
    return 1 if result.report.failed else 0
