"""The event bus, its archive and the two event routes: what the program registers, and that
the registered rule patterns route exactly the events the handlers emit (moto EventBridge)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pulumi
import pytest

from components.event_bus import archive_name
from functions.shared.env import EVENT_BUS_NAME as ENV_EVENT_BUS_NAME
from functions.shared.events import DETAIL_MODELS, SOURCE, EarningsProcessed, PollenationNeeded
from signal9 import catalog
from signal9.naming import Naming
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, Resource

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
ARCHIVE_RETENTION = {"dev": 7.0, "staging": 30.0, "prod": 90.0}

# One event per catalog event, shaped exactly as the producers build them.
SAMPLE_EVENTS = {
    "pollenationNeeded": PollenationNeeded(
        symbol="AAPL",
        reason="earnings",
        requestedAt=datetime(2027, 3, 15, 11, tzinfo=UTC),
        earningsDate=date(2027, 3, 12),
        fiscalDateEnding=date(2026, 12, 31),
    ),
    "earningsProcessed": EarningsProcessed(
        symbol="AAPL",
        earningsDate=date(2027, 3, 12),
        fiscalDateEnding=date(2026, 12, 31),
        outcome="processed",
        processedAt=datetime(2027, 3, 15, 11, 5, tzinfo=UTC),
    ),
}


def rule_arn(run: ProgramRun, detail_type: str) -> str:
    naming = Naming(run.stack)
    return f"arn:aws:events:{run.region}:{ACCOUNT_ID}:rule/{naming.event_bus}/{naming.rule(detail_type)}"


def queue_arn(run: ProgramRun, function: str) -> str:
    return f"arn:aws:sqs:{run.region}:{ACCOUNT_ID}:{Naming(run.stack).dead_letter_queue(function)}"


def tls_only_statement(queue: str) -> dict[str, Any]:
    """What cdk-nag's AwsSolutions-SQS4 requires of a queue's policy."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def by_detail_type(run: ProgramRun, typ: str, suffix: str) -> dict[str, Resource]:
    return {r.name.removesuffix(suffix): r for r in run.of_type(typ)}


# --- bus and archive --------------------------------------------------------------------


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_bus_and_archive_per_stack(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    (bus,) = run.of_type("aws:cloudwatch/eventBus:EventBus")
    (archive,) = run.of_type("aws:cloudwatch/eventArchive:EventArchive")
    assert bus.inputs["name"] == f"signal9-{stack}"
    assert bus.inputs["tags"] == {"Component": "event-bus"}
    assert bus.parent == archive.parent == "event-bus"
    assert archive.inputs["eventSourceArn"] == f"arn:aws:events:{run.region}:{ACCOUNT_ID}:event-bus/signal9-{stack}"
    # Retention from signal9:eventArchiveRetentionDays; no pattern, so every event is kept.
    assert archive.inputs["retentionDays"] == ARCHIVE_RETENTION[stack]
    assert "eventPattern" not in archive.inputs
    assert archive.inputs["name"] == f"signal9-{stack}-archive"
    assert len(archive.inputs["name"]) <= 48
    assert bus.delete_before_replace and archive.delete_before_replace


def test_a_stack_name_too_long_for_an_archive_is_refused_with_a_clear_message() -> None:
    assert archive_name(Naming("x" * 32)) == f"signal9-{'x' * 32}-archive"  # exactly 48
    with pytest.raises(pulumi.RunError, match=r"event archive name 'signal9-x{33}-archive' breaks the AWS limit of 48"):
        archive_name(Naming("x" * 33))


def test_moto_accepts_the_archive_as_registered(aws: None, dev: ProgramRun) -> None:
    events = boto3.client("events")
    bus_arn = events.create_event_bus(Name=dev.of_type("aws:cloudwatch/eventBus:EventBus")[0].inputs["name"])[
        "EventBusArn"
    ]
    archive = dev.of_type("aws:cloudwatch/eventArchive:EventArchive")[0].inputs
    assert archive["eventSourceArn"] == bus_arn
    events.create_archive(
        ArchiveName=archive["name"], EventSourceArn=bus_arn, RetentionDays=int(archive["retentionDays"])
    )
    assert events.describe_archive(ArchiveName=archive["name"])["RetentionDays"] == 7


# --- rules, targets, permissions, queue policies -----------------------------------------


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_one_rule_per_catalog_event_with_the_models_pattern(plans: dict[str, ProgramRun], stack: str) -> None:
    rules = by_detail_type(plans[stack], RULE, "-rule")
    # (Registration order is not deterministic under the mock runtime; compare as sets.)
    assert set(rules) == {event.detail_type for event in catalog.EVENTS} == {"pollenationNeeded", "earningsProcessed"}
    for detail_type, rule in rules.items():
        assert rule.parent == "event-routes"
        assert rule.inputs["name"] == f"signal9-{stack}-{detail_type}"
        assert rule.inputs["eventBusName"] == f"signal9-{stack}"
        assert rule.inputs["eventPattern"] == json.dumps(DETAIL_MODELS[detail_type].pattern())
        assert json.loads(rule.inputs["eventPattern"]) == {"source": [SOURCE], "detail-type": [detail_type]}
        assert rule.inputs["tags"] == {"Component": "event-routes"}
        # A rule the program leaves without a state is ENABLED (the provider's default).
        assert rule.inputs.get("state", "ENABLED") == "ENABLED" and rule.inputs.get("isEnabled", True) is True


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_targets_invoke_the_consumer_with_retries_and_its_dlq(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    naming = Naming(stack)
    targets = by_detail_type(run, TARGET, "-target")
    assert set(targets) == {event.detail_type for event in catalog.EVENTS}
    for event in catalog.EVENTS:
        inputs = targets[event.detail_type].inputs
        assert inputs["rule"] == naming.rule(event.detail_type)
        assert inputs["eventBusName"] == naming.event_bus
        assert inputs["arn"] == f"arn:aws:lambda:{run.region}:{ACCOUNT_ID}:function:{naming.function(event.consumer)}"
        assert inputs["retryPolicy"] == {"maximumRetryAttempts": 3.0, "maximumEventAgeInSeconds": 3600.0}
        assert inputs["deadLetterConfig"] == {"arn": queue_arn(run, event.consumer)}
        # Nothing is delivered before EventBridge may invoke the consumer and dead-letter.
        assert set(targets[event.detail_type].dependencies) >= {
            f"{event.detail_type}-invoke-permission",
            f"{event.consumer}-dlq-policy",
        }


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_lambda_permissions_are_scoped_to_the_rule(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    permissions = [p for p in run.of_type("aws:lambda/permission:Permission") if p.parent == "event-routes"]
    assert {p.name for p in permissions} == {f"{e.detail_type}-invoke-permission" for e in catalog.EVENTS}
    for event in catalog.EVENTS:
        inputs = run.named(f"{event.detail_type}-invoke-permission").inputs
        assert inputs == {
            "action": "lambda:InvokeFunction",
            "function": Naming(stack).function(event.consumer),
            "principal": "events.amazonaws.com",
            "sourceArn": rule_arn(run, event.detail_type),
        }


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_consumer_dlq_policies_let_only_their_rule_send(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    naming = Naming(stack)
    policies = {
        name: r for name, r in by_detail_type(run, QUEUE_POLICY, "-dlq-policy").items() if r.parent == "event-routes"
    }
    assert set(policies) == {event.consumer for event in catalog.EVENTS}
    for event in catalog.EVENTS:
        policy = policies[event.consumer].inputs
        assert policy["queueUrl"].endswith(f"/{ACCOUNT_ID}/{naming.dead_letter_queue(event.consumer)}")
        grant, tls_only = json.loads(policy["policy"])["Statement"]
        assert grant == {
            "Sid": f"{event.detail_type}RuleDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn(run, event.consumer),
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn(run, event.detail_type)}},
        }
        assert tls_only == tls_only_statement(queue_arn(run, event.consumer))


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_every_dlq_has_one_policy_and_it_refuses_plain_http(plans: dict[str, ProgramRun], stack: str) -> None:
    """The DLQs no rule feeds get a TLS-only policy from FunctionFleet; the others get EventRoutes' one."""
    run = plans[stack]
    policies = {r.inputs["queueUrl"].rsplit("/", 1)[-1]: r for r in run.of_type(QUEUE_POLICY)}
    assert set(policies) == {Naming(stack).dead_letter_queue(f) for f in catalog.FUNCTION_NAMES}
    for function in catalog.FUNCTION_NAMES:
        policy = policies[Naming(stack).dead_letter_queue(function)]
        fed = function in {event.consumer for event in catalog.EVENTS}
        assert policy.parent == ("event-routes" if fed else "functions")
        statements = json.loads(policy.inputs["policy"])["Statement"]
        assert statements[-1] == tls_only_statement(queue_arn(run, function))


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_no_queue_has_two_policies(plans: dict[str, ProgramRun], stack: str) -> None:
    """A second QueuePolicy on a queue would silently replace the first (see EventRoutes)."""
    urls = [r.inputs["queueUrl"] for r in plans[stack].of_type(QUEUE_POLICY)]
    assert len(urls) == len(set(urls))


def test_sqs_accepts_the_dlq_policy_as_registered(aws: None, dev: ProgramRun) -> None:
    sqs = boto3.client("sqs")
    policy = dev.named("PollenateAsset-dlq-policy").inputs
    url = sqs.create_queue(QueueName=Naming("dev").dead_letter_queue("PollenateAsset"))["QueueUrl"]
    assert url.endswith(policy["queueUrl"].rsplit("/", 2)[-2] + "/" + policy["queueUrl"].rsplit("/", 1)[-1])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy["policy"]})
    stored = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert json.loads(stored) == json.loads(policy["policy"])


@pytest.mark.parametrize("stack", catalog.STACKS)
def test_only_emitters_may_put_events_and_only_on_this_bus(plans: dict[str, ProgramRun], stack: str) -> None:
    run = plans[stack]
    bus_arn = f"arn:aws:events:{run.region}:{ACCOUNT_ID}:event-bus/{Naming(stack).event_bus}"
    grants: dict[str, list[Any]] = {}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(action.startswith("events:") for action in actions):
                assert actions == ["events:PutEvents"], policy.name
                grants[policy.name.removesuffix("-role-policy")] = statement["Resource"]
    assert grants == {f.name: [bus_arn] for f in catalog.FUNCTIONS if f.emits}
    # ...and they find the bus by name in their environment.
    for function in catalog.FUNCTIONS:
        variables = run.named(f"{function.name}-function").inputs["environment"]["variables"]
        assert variables.get(ENV_EVENT_BUS_NAME) == (Naming(stack).event_bus if function.emits else None)


# --- the registered patterns route exactly the emitted events ----------------------------


@pytest.fixture
def routed(aws: None, dev: ProgramRun) -> dict[str, str]:
    """The dev bus and rules in moto, each rule's target an SQS queue standing in for its Lambda
    (moto does not deliver to Lambda). Returns detail-type -> the queue URL its rule feeds."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus = dev.of_type("aws:cloudwatch/eventBus:EventBus")[0].inputs["name"]
    events.create_event_bus(Name=bus)
    queues: dict[str, str] = {}
    for detail_type, rule in by_detail_type(dev, RULE, "-rule").items():
        url = sqs.create_queue(QueueName=f"{detail_type}-received")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        # The exact pattern text the program registered.
        events.put_rule(Name=rule.inputs["name"], EventBusName=bus, EventPattern=rule.inputs["eventPattern"])
        events.put_targets(Rule=rule.inputs["name"], EventBusName=bus, Targets=[{"Id": "received", "Arn": arn}])
        queues[detail_type] = url
    return queues


def received(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def put(entry: dict[str, str]) -> None:
    request: Any = {"Entries": [entry]}
    result = boto3.client("events").put_events(**request)
    assert result["FailedEntryCount"] == 0


@pytest.mark.parametrize("detail_type", [event.detail_type for event in catalog.EVENTS])
def test_each_rule_receives_exactly_its_event(routed: dict[str, str], detail_type: str) -> None:
    put(SAMPLE_EVENTS[detail_type].entry("signal9-dev"))
    (event,) = received(routed[detail_type])
    assert event["source"] == SOURCE and event["detail-type"] == detail_type
    # What arrives is what the consumer's model accepts.
    assert DETAIL_MODELS[detail_type].from_event(event) == SAMPLE_EVENTS[detail_type]
    others = [url for other, url in routed.items() if other != detail_type]
    assert all(received(url) == [] for url in others)


@pytest.mark.parametrize(
    "near_miss",
    [
        {"Source": "signal9.pollenation.test"},
        {"Source": "signal9"},
        {"Source": "aws.scheduler"},
        {"DetailType": "PollenationNeeded"},
        {"DetailType": "pollenationneeded"},
        {"DetailType": "pollenationNeeded "},
        {"DetailType": "earningsProcessed"},
    ],
    ids=lambda change: f"{next(iter(change))}={next(iter(change.values()))!r}",
)
def test_the_pollenation_rule_rejects_near_misses(routed: dict[str, str], near_miss: dict[str, str]) -> None:
    entry = {**SAMPLE_EVENTS["pollenationNeeded"].entry("signal9-dev"), **near_miss}
    put(entry)
    assert received(routed["pollenationNeeded"]) == []


def test_an_event_on_another_bus_is_not_routed(routed: dict[str, str]) -> None:
    boto3.client("events").create_event_bus(Name="signal9-staging")
    put(SAMPLE_EVENTS["pollenationNeeded"].entry("signal9-staging"))
    assert received(routed["pollenationNeeded"]) == []
