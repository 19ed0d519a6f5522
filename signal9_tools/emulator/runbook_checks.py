"""The smoke's last checks: its deliberate failures handled as an operator would, until the stack is all fresh.

The runbooks walked: docs/runbooks/dlq-not-empty.md and, for the cause, the emergency rotation in
docs/runbooks/rotating-credentials.md. Against the built-in fakes AlphaVantage stops accepting the
stack's key, so a collector run fails into its dead-letter queue; the event checks parked a
malformed event in PollenateAsset's. Then ``signal9 status`` must show both, ``signal9 dlq list``
must say why each message was parked (Lambda's attributes), the causes are removed (the key
AlphaVantage accepts now stored in the secret; the malformed test event dropped, the runbook's
"Drop instead"), ``signal9 dlq replay`` through its command line must replay the collector's run,
and ``signal9 status`` must find every enabled collector fresh and every queue empty: what
``signal9 status --stack <stack>`` then answers on a kept emulator (``local up --keep``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable
from datetime import datetime

from signal9_tools import cli
from signal9_tools.emulator.collection import Endpoints, LocalFakes
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.schedule_checks import FiredRuns, scheduler_delivery
from signal9_tools.emulator.smoke import Smoke, fail_into_dlq
from signal9_tools.sessions import aws_session
from signal9_tools.status import Status, collect, verdict_line

# The collector whose run the smoke makes fail (built-in fakes only), and what fails it: the key
# AlphaVantage accepts from then on (a fake key, as the fakes' own).
FAULT_COLLECTOR = "SyncEarningsCalendar"
ROTATED_KEY = "test-av-key-rotated-0001"
MALFORMED_FUNCTION = "PollenateAsset"  # where the event checks park a malformed event
MALFORMED_SYMBOL = "not a symbol"  # that event's symbol (event_checks.malformed_to_dlq)
ATTRIBUTE_SEPARATOR = re.compile(r", (?=[A-Za-z][\w.-]*=)")  # `dlq list`: "Name=value, Name=value"


def signal9(*command: str) -> tuple[int, str]:
    """Run ``signal9 <command>`` as from a shell: its exit code and what it printed (boto3 reaches the emulator)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(command))
    return code, out.getvalue()


def parked_reasons(listing: str) -> dict[str, dict[str, str]]:
    """Each queue's first sample's attributes, from ``signal9 dlq list``'s output (queue name -> attributes)."""
    reasons: dict[str, dict[str, str]] = {}
    queue = ""
    for line in listing.splitlines():
        if line.startswith("signal9-"):
            queue = line.split()[0]
        elif line.strip().startswith("attributes: ") and queue not in reasons:
            pairs = ATTRIBUTE_SEPARATOR.split(line.strip().removeprefix("attributes: "))
            reasons[queue] = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    return reasons


def check_runbook(
    smoke: Smoke,
    endpoints: Endpoints,
    fired: FiredRuns,
    fakes: LocalFakes | None,
    clock: Callable[[], datetime],
) -> None:
    """Make a collector fail (fakes only), then walk the runbooks until ``signal9 status`` is all fresh."""
    stack = smoke.naming.stack
    failing = {FAULT_COLLECTOR} if fakes is not None else set()
    parked = {name: 1 for name in (*sorted(failing), MALFORMED_FUNCTION)}

    def status() -> Status:
        return collect(aws_session(region=smoke.region), stack, smoke.config, clock())

    def collector_fails() -> str:
        assert fakes is not None
        run = fired.collectors.get(FAULT_COLLECTOR)
        expect(run is not None and run.fires_at is not None, f"{FAULT_COLLECTOR} did not run")
        assert run is not None and run.fires_at is not None
        fakes.alphavantage.api_key = ROTATED_KEY  # the stored key is refused from now on
        event = scheduler_delivery(run.schedule, run.fires_at)
        detail = fail_into_dlq(smoke, run.schedule["Target"]["Arn"], event, "the run with a revoked key")
        return f"AlphaVantage refusing the stack's key ('invalid API key', fake): {detail}"

    def failures_shown() -> str:
        found = status()
        verdicts = {row.function: row.verdict for row in found.collectors if row.enabled}
        expected = {name: "failed" if name in failing else "fresh" for name in verdicts}
        waiting = {name: depth for name, depth in found.dead_letter_queues.items() if depth}
        expect(verdicts == expected, f"verdicts {verdicts}, expected {expected}")
        expect(waiting == parked, f"dead-letter queues {waiting}, expected {parked}")
        line = verdict_line(found)
        runbooks = ["dlq-not-empty.md", *(["collector-late.md"] if failing else [])]
        expect(all(runbook in line for runbook in runbooks), f"the verdict names {line!r}")
        return f"`signal9 status`: {', '.join(f'{n} {v}' for n, v in verdicts.items() if v != 'fresh') or 'collectors fresh'}; {line}"

    def reasons_read() -> str:
        code, listing = signal9("dlq", "list", "--stack", stack, "--samples", "1")
        expect(code == 0, f"`signal9 dlq list` exited {code}")
        reasons = parked_reasons(listing)
        queues = {smoke.naming.dead_letter_queue(name) for name in parked}
        expect(set(reasons) == queues, f"samples with attributes for {sorted(reasons)}, expected {sorted(queues)}")
        lacking = {q: sorted(r) for q, r in reasons.items() if not {"RequestID", "ErrorCode", "ErrorMessage"} <= set(r)}
        expect(not lacking, f"Lambda's RequestID, ErrorCode, ErrorMessage missing: {lacking}")
        return "`signal9 dlq list`: " + "; ".join(
            f"{queue} ErrorCode {r['ErrorCode']}, ErrorMessage {r['ErrorMessage'][:60]!r}"
            for queue, r in sorted(reasons.items())
        )

    def key_replaced() -> str:
        assert fakes is not None
        secret = {**endpoints.secrets()["alphavantage"], "apiKey": fakes.alphavantage.api_key}
        name = smoke.naming.secret("alphavantage")
        smoke.client("secretsmanager").put_secret_value(SecretId=name, SecretString=json.dumps(secret))
        # The runbook then waits out the functions' secret cache (POWERTOOLS_PARAMETERS_MAX_AGE, 5 min):
        # a warm function replayed sooner still holds the revoked key and fails the same way.
        smoke.environments.restart()
        return (
            f"the key AlphaVantage accepts put into {name} (put-secret-value, value not shown); the 5-minute "
            "secret cache waited out (the emulator starts every function's environment afresh instead)"
        )

    def test_event_dropped() -> str:
        sqs = smoke.client("sqs")
        url = sqs.get_queue_url(QueueName=smoke.naming.dead_letter_queue(MALFORMED_FUNCTION))["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        malformed = [m for m in messages if json.loads(m["Body"]).get("detail", {}).get("symbol") == MALFORMED_SYMBOL]
        expect(len(malformed) == 1, f"{len(malformed)} malformed test events among {len(messages)} messages")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=malformed[0]["ReceiptHandle"])
        for other in messages:
            if other is not malformed[0]:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=other["ReceiptHandle"], VisibilityTimeout=0)
        return f"the malformed test event deleted from {smoke.naming.dead_letter_queue(MALFORMED_FUNCTION)}: no run can take it"

    def replayed() -> str:
        command = ("dlq", "replay", "--stack", stack, "--function", FAULT_COLLECTOR)
        code, out = signal9(*command)
        queue = smoke.naming.dead_letter_queue(FAULT_COLLECTOR)
        expect(code == 0 and f"{queue}: replayed 1, kept 0" in out, f"exit {code}: {' / '.join(out.splitlines())}")
        return f"`signal9 {' '.join(command)}`: exit 0, {out.splitlines()[0]} (the emulator ran the deployed handler)"

    def all_fresh() -> str:
        found = status()
        expect(found.healthy, verdict_line(found))
        fresh = [row.function for row in found.collectors if row.enabled]
        return f"`signal9 status`: {', '.join(fresh)} fresh, dead-letter queues empty, no alarm in ALARM: all fresh"

    report = smoke.report
    if fakes is not None:
        report.run("failing collector run ends in its DLQ", collector_fails)
    report.run("signal9 status shows the deliberate failures", failures_shown)
    report.run("signal9 dlq list reads why each was parked", reasons_read)
    if fakes is not None:
        report.run("the revoked key replaced in its secret", key_replaced)
    report.run("the malformed test event dropped", test_event_dropped)
    if fakes is not None:
        report.run("signal9 dlq replay replays the failed run", replayed)
    report.run("signal9 status all fresh after the runbook", all_fresh)
