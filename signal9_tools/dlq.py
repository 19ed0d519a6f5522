"""``signal9 dlq list|replay``: what waits in each function's dead-letter queue, and re-delivery.

Every asynchronous failure path of a function ends in its queue ``signal9-<stack>-<Function>-dlq``:

- Lambda asynchronous invocation (the function's ``deadLetterConfig``): the body is the
  original event payload;
- its EventBridge Scheduler schedule: the body is the schedule's target input;
- its EventBridge rule target: the body is the original event (the full envelope).

So each body is exactly what the function should have received. ``replay`` re-delivers it
with a synchronous Lambda ``Invoke`` and deletes the message only when the run is confirmed:
the invoke returned 200 without ``FunctionError`` (an asynchronous invoke is only *accepted*,
and a run that then fails, or never starts, would lose the message). With ``--to-bus`` it puts
an event back on the Signal9 bus (so every matching rule sees it again) and deletes it once
PutEvents accepted it. A message whose replay is not confirmed stays in the queue, visible
again at the end of the run, with the reason printed.

Receiving as SQS's ReceiveMessage reference says to: a short poll samples some of SQS's servers
and "might not receive any messages" from a small queue ("If this happens, repeat the request"),
so every receive long-polls (all servers are asked), and the commands keep receiving while the
queue's counts (``ApproximateNumberOfMessages`` / ``...NotVisible``) report messages not yet
handled, until :data:`MAX_EMPTY_ANSWERS` long polls in a row bring nothing new. A replay that
ends with messages still in the queue says how many and exits 1.

Messages are replayed one at a time, each hidden for the function's timeout and a margin, so
a run is never replayed twice while it runs. A failed message is known by its ``MessageId``,
not its receipt handle (each receive gives a new one): when its hiding runs out during a long
replay it comes back, and the receive that returns it hides it again; it is not run again, and
its newest handle is kept. At the end each failed message is made visible with
ChangeMessageVisibility on that handle; one already visible (``MessageNotInflight``) needs
nothing more. A replay handles the messages that were in the queue when it began: one sent
later (its ``SentTimestamp``), such as an event replayed to the bus that failed again, is left
for the next replay, so a replay always ends.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from signal9 import catalog, config
from signal9.errors import OperatorError
from signal9.naming import Naming
from signal9.stackfile import stack_region
from signal9_tools.cli import add_stack_argument
from signal9_tools.operator_messages import CREDENTIALS_HOWTO
from signal9_tools.sessions import aws_session

# A message stays hidden while its replay runs: the function's timeout plus this margin (for
# the invoke's own round trip). A message whose replay failed is made visible again before the
# command returns, so the next `list` shows it.
REPLAY_MARGIN_SECONDS = 60
LONG_POLL_SECONDS = 20  # ReceiveMessage's longest WaitTimeSeconds; it answers as soon as a message is there
MAX_EMPTY_ANSWERS = 3  # long polls in a row that bring nothing new before a command stops looking
SAMPLE_CHARS = 300
MAX_SAMPLES = 10  # SQS ReceiveMessage's MaxNumberOfMessages limit: samples are one peek
ERROR_CHARS = 200  # a failure's reason, on one line

# What the commands call in AWS (named in the AccessDenied message); the stack's deploy role has it all.
AWS_PERMISSIONS = (
    "sqs:GetQueueUrl, sqs:GetQueueAttributes and sqs:ReceiveMessage to list; to replay also sqs:DeleteMessage, "
    "sqs:ChangeMessageVisibility and lambda:InvokeFunction (synchronous), or events:PutEvents with --to-bus"
)

Delivery = Callable[[catalog.Function, str], None]  # raises when the re-delivery was not confirmed


# What GetQueueUrl answers for a queue that does not exist (query and JSON protocol spellings).
MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
# ChangeMessageVisibility on a message that is visible again (its hiding ran out), both spellings.
NOT_IN_FLIGHT_CODES = frozenset({"AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight"})


class QueueMissingError(LookupError):
    """A stack's dead-letter queue is not in the account and region the credentials reach."""

    def __init__(self, queue: str) -> None:
        super().__init__(queue)
        self.queue = queue


class DeliveryError(RuntimeError):
    """A re-delivery AWS did not accept (the message stays in its queue)."""


@dataclass(frozen=True)
class Sample:
    """A peeked message: its body (cut at SAMPLE_CHARS), full length and message attributes.

    The attributes say why it was parked: Lambda's ``ErrorCode``/``ErrorMessage`` (and
    ``RequestID``), EventBridge's and Scheduler's ``ERROR_CODE``/``ERROR_MESSAGE``.
    """

    body: str
    length: int
    attributes: dict[str, str]

    @property
    def cut(self) -> bool:
        return self.length > len(self.body)


@dataclass
class QueueReport:
    function: str
    queue: str
    visible: int
    in_flight: int
    samples: list[Sample] = field(default_factory=list)


@dataclass
class ReplayResult:
    function: str
    queue: str
    replayed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    left: int = 0  # messages in the queue when the replay ended (the kept ones included), as SQS counts them
    stopped: str = ""  # why the replay stopped with messages it did not try


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, hidden) messages: ApproximateNumberOfMessages and ApproximateNumberOfMessagesNotVisible."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)), int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def bounded(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high`` (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f"{low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {allowed}, not {value}")
        return value

    return parse


def selected_functions(name: str | None) -> tuple[catalog.Function, ...]:
    if name is None:
        return catalog.FUNCTIONS
    if name not in catalog.FUNCTION_NAMES:
        raise OperatorError(f"unknown function {name!r} (one of {', '.join(catalog.FUNCTION_NAMES)})")
    return (catalog.function(name),)


def queue_url(sqs: Any, naming: Naming, function: catalog.Function) -> str:
    name = naming.dead_letter_queue(function.name)
    try:
        url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_QUEUE_CODES:
            raise QueueMissingError(name) from None
        raise
    return url


def not_deployed(session: Any, stack: str, queue: str) -> OperatorError:
    """The one-line answer when the stack's queues are not where the credentials point."""
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except Exception:  # the line is still useful without the account
        account = "(unknown: sts:GetCallerIdentity failed)"
    return OperatorError(
        f"{queue} is not in AWS account {account}, region {session.region_name}: stack {stack!r} is not deployed "
        f"there; {CREDENTIALS_HOWTO}, or deploy the stack first"
    )


def list_queue(sqs: Any, naming: Naming, function: catalog.Function, samples: int = 3) -> QueueReport:
    """Message counts and up to ``samples`` bodies (peeked: visibility 0, nothing is removed)."""
    url = queue_url(sqs, naming, function)
    visible, hidden = queue_counts(sqs, url)
    report = QueueReport(function.name, naming.dead_letter_queue(function.name), visible, hidden)
    report.samples = [
        Sample(
            m["Body"][:SAMPLE_CHARS],
            len(m["Body"]),
            {
                name: str(value.get("StringValue", value.get("BinaryValue", "")))
                for name, value in m.get("MessageAttributes", {}).items()
            },
        )
        for m in peek(sqs, url, min(samples, visible))
    ]
    return report


def peek(sqs: Any, url: str, wanted: int) -> list[dict[str, Any]]:
    """Up to ``wanted`` distinct messages, left visible; long polls until enough, or MAX_EMPTY_ANSWERS find none new."""
    seen: dict[str, dict[str, Any]] = {}
    fruitless = 0
    while len(seen) < wanted and fruitless < MAX_EMPTY_ANSWERS:
        received = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=wanted - len(seen),
            VisibilityTimeout=0,
            WaitTimeSeconds=LONG_POLL_SECONDS,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        new = [m for m in received if m["MessageId"] not in seen]
        fruitless = 0 if new else fruitless + 1
        seen.update((m["MessageId"], m) for m in new)
    return list(seen.values())[:wanted]


def one_line(error: BaseException) -> str:
    """An error's reason on one short line; an HTML page (a proxy's or emulator's answer) is named, not printed."""
    text = str(error).strip()
    if "<html" in text.lower() or "<!doctype" in text.lower():
        return f"{type(error).__name__}: the endpoint answered with an HTML page, not an AWS response"
    first = text.splitlines()[0] if text else type(error).__name__
    return first if len(first) <= ERROR_CHARS else first[: ERROR_CHARS - 1] + "…"


def lambda_delivery(lambda_client: Any, naming: Naming) -> Delivery:
    """Run the function on a body with a synchronous Invoke; confirmed = 200 without FunctionError."""

    def deliver(function: catalog.Function, body: str) -> None:
        response = lambda_client.invoke(
            FunctionName=naming.function(function.name), InvocationType="RequestResponse", Payload=body.encode()
        )
        if response.get("FunctionError"):
            # The payload is Lambda's error object: {"errorType": ..., "errorMessage": ...}.
            raw = response["Payload"].read().decode(errors="replace")
            try:
                detail = json.loads(raw)
                reason = f"{detail.get('errorType', '')}: {detail.get('errorMessage', '')}"
            except (ValueError, AttributeError):
                reason = raw
            raise DeliveryError(f"the function ran and failed ({response['FunctionError']}) {reason}")
        if response.get("StatusCode") != 200:
            raise DeliveryError(f"Invoke returned status {response.get('StatusCode')}, not 200")

    return deliver


def replay_client_config(functions: Sequence[catalog.Function], stack_config: config.StackConfig) -> Config:
    """A Lambda client that waits for the slowest run and never re-sends an Invoke (no duplicate runs)."""
    longest = max(stack_config.timeout_seconds(f) for f in functions)
    return Config(read_timeout=longest + REPLAY_MARGIN_SECONDS, retries={"total_max_attempts": 1})


def bus_delivery(events_client: Any, naming: Naming) -> Delivery:
    """Put an EventBridge event (a rule target's dead letter) back on the Signal9 bus."""

    def deliver(function: catalog.Function, body: str) -> None:
        try:
            event = json.loads(body)
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "EventBusName": naming.event_bus,
            }
        except (ValueError, KeyError, TypeError) as error:
            raise DeliveryError(
                f"not an EventBridge event ({error.__class__.__name__}); replay it to the function"
            ) from None
        response = events_client.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise DeliveryError(f"PutEvents failed: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}")

    return deliver


def replay_queue(
    sqs: Any,
    naming: Naming,
    function: catalog.Function,
    deliver: Delivery,
    limit: int | None = None,
    run_seconds: int = 0,
) -> ReplayResult:
    """Re-deliver each message once, one at a time, deleting it only once its delivery was confirmed.

    ``run_seconds``: how long one delivery may take (the function's timeout for a synchronous
    invoke); a message stays hidden that long plus REPLAY_MARGIN_SECONDS, and a failed one
    for the rest of the replay (see the module's docstring).
    """
    url = queue_url(sqs, naming, function)
    result = ReplayResult(function.name, naming.dead_letter_queue(function.name))
    hiding = run_seconds + REPLAY_MARGIN_SECONDS
    began_ms = int(time.time() * 1000)
    kept: dict[str, str] = {}  # MessageId of each message whose replay failed -> its newest receipt handle
    later: dict[str, str] = {}  # the same for messages sent after the replay began, left for the next one
    fruitless = 0
    while True:
        if limit is not None and result.replayed + result.failed >= limit:
            result.stopped = f"--limit {limit}"
            break
        if sum(queue_counts(sqs, url)) <= len(kept) + len(later):
            break  # nothing but the messages this replay holds back
        if fruitless >= MAX_EMPTY_ANSWERS:
            result.stopped = (
                f"the queue counts them, but {MAX_EMPTY_ANSWERS} long polls returned none to replay: in flight "
                "elsewhere (another replay?) or not counted off yet; run `dlq list` again"
            )
            break
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=1,
            VisibilityTimeout=hiding,
            WaitTimeSeconds=LONG_POLL_SECONDS,
            MessageSystemAttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        fresh = []
        for message in messages:
            identifier = message["MessageId"]
            if identifier in kept:  # back after its hiding ran out: hidden again by this very receive
                kept[identifier] = message["ReceiptHandle"]  # the newest handle is the one that works
            elif identifier in later or int(message.get("Attributes", {}).get("SentTimestamp", 0)) > began_ms:
                later[identifier] = message["ReceiptHandle"]
            else:
                fresh.append(message)
        fruitless = 0 if fresh else fruitless + 1
        for message in fresh:
            try:
                deliver(function, message["Body"])
            except Exception as error:  # any failure keeps the message; report it and go on
                result.failed += 1
                result.errors.append(f"{message['MessageId']}: {one_line(error)}")
                kept[message["MessageId"]] = message["ReceiptHandle"]
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            result.replayed += 1
    for handle in [*kept.values(), *later.values()]:  # back in the queue right away, for the next list or replay
        set_visibility(sqs, url, handle, 0)
    if later:
        sent = f"{len(later)} sent during this replay (a replayed event failing again?), for the next one"
        result.stopped = f"{result.stopped}; {sent}" if result.stopped else sent
    result.left = sum(queue_counts(sqs, url))
    return result


def set_visibility(sqs: Any, url: str, handle: str, seconds: int) -> None:
    """ChangeMessageVisibility; a message already visible again (MessageNotInflight) is left as it is."""
    try:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=seconds)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in NOT_IN_FLIGHT_CODES:
            raise


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("dlq", help="list or replay the functions' dead-letter queues (uses AWS)")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="message counts and sample bodies per function DLQ")
    add_stack_argument(listing)
    listing.add_argument("--function", "-f", help="one catalog function (default: all)")
    listing.add_argument(
        "--samples",
        type=bounded(0, MAX_SAMPLES),
        default=3,
        help=f"sample bodies to show per queue (0-{MAX_SAMPLES}: one ReceiveMessage call returns at most {MAX_SAMPLES})",
    )
    replay = actions.add_parser("replay", help="re-deliver messages; delete each only after it was accepted")
    add_stack_argument(replay)
    replay.add_argument("--function", "-f", help="one catalog function (default: all)")
    replay.add_argument("--to-bus", action="store_true", help="put event messages back on the Signal9 bus instead")
    replay.add_argument("--limit", type=bounded(1), help="at most this many messages per queue (at least 1)")
    parser.set_defaults(run=run, aws_permissions=AWS_PERMISSIONS)


def run(args: argparse.Namespace, session: Any = None) -> int:
    session = session or aws_session(region=stack_region(args.stack))
    try:
        return run_in(session, args)
    except QueueMissingError as missing:
        raise not_deployed(session, args.stack, missing.queue) from None


def run_in(session: Any, args: argparse.Namespace) -> int:
    naming = Naming(args.stack)
    sqs = session.client("sqs")
    functions = selected_functions(args.function)
    if args.action == "list":
        return print_reports([list_queue(sqs, naming, f, args.samples) for f in functions])
    stack_config = config.load_stack(args.stack)
    deliver = (
        bus_delivery(session.client("events"), naming)
        if args.to_bus
        else lambda_delivery(session.client("lambda", config=replay_client_config(functions, stack_config)), naming)
    )
    results = [
        replay_queue(sqs, naming, f, deliver, args.limit, 0 if args.to_bus else stack_config.timeout_seconds(f))
        for f in functions
    ]
    return print_results(results)


def print_results(results: Sequence[ReplayResult]) -> int:
    """One line per queue, each kept message's reason, and what is left; 0 only when nothing is left."""
    for result in results:
        line = f"{result.queue}: replayed {result.replayed}, kept {result.failed}"
        if result.left:
            line += f", {result.left} left in the queue" + (f" ({result.stopped})" if result.stopped else "")
        print(line)
        for error in result.errors:
            print(f"  kept {error}")
    left = {r.queue: r.left for r in results if r.left}
    if not left and not any(r.failed for r in results):
        print("all replayed: nothing left in the queues replayed")
        return 0
    count = sum(left.values())
    print(
        f"not all replayed: {count} message{'' if count == 1 else 's'} left"
        + (f" in {', '.join(left)}" if left else "")
    )
    return 1


def print_reports(reports: Sequence[QueueReport]) -> int:
    width = max(len(r.queue) for r in reports)
    print(f"{'QUEUE':<{width}}  {'WAITING':>7}  {'IN FLIGHT':>9}")
    for report in reports:
        print(f"{report.queue:<{width}}  {report.visible:>7}  {report.in_flight:>9}")
        for sample in report.samples:
            cut = f" [cut: first {len(sample.body)} of {sample.length} characters]" if sample.cut else ""
            print(f"  sample: {sample.body}{cut}")
            if sample.attributes:  # one line: a multi-line ErrorMessage keeps its breaks as \n
                pairs = (f"{k}={v}".replace("\n", "\\n") for k, v in sorted(sample.attributes.items()))
                print("    attributes: " + ", ".join(pairs))
            else:
                print("    attributes: none (the sender attached no error attributes)")
    return 0
