"""The EventRoutes component: a rule per catalog event on the Signal9 bus, delivering to its consumer.

For each ``catalog.EVENTS`` entry (``pollenationNeeded`` -> PollenateAsset,
``earningsProcessed`` -> MarkEarningsProcessed):

- a rule matching exactly the event's source and detail-type, the pattern built by the
  event model itself (``functions/shared/events.py``), so producers, consumers and rules
  cannot drift apart;
- a target invoking the consumer, with a retry policy and the consumer's DLQ;
- a Lambda permission letting EventBridge invoke the consumer on behalf of this rule only;
- the consumer DLQ's queue policy, letting EventBridge dead-letter on behalf of this rule only
  (and, like every queue's, refusing requests without TLS);
- the bus's resource policy (FSBP EventBridge.3): only the producers' roles may put events.

A queue has exactly one policy document. The DLQs belong to FunctionFleet, which writes the
TLS-only policy of every DLQ no rule feeds; this component writes the policy of each DLQ a
rule feeds (its grants and the same TLS-only statement, ``queue_policy_json``). The other
writers to a DLQ (Lambda's async on-failure path, the Scheduler execution role) use identity
policies. Anyone adding a second QueuePolicy on a DLQ must merge it into the one built here,
or one silently replaces the other.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.delivery import FleetOutputs, aws_name, policy_json, queue_policy_json
from components.event_bus import EventBus
from functions.shared.events import DETAIL_MODELS
from signal9 import catalog
from signal9.naming import Naming, component_tags

# AWS limit: rule names up to 64 characters.
RULE_NAME_LIMIT = 64

# EventBridge retries only failed *deliveries* to Lambda's async queue (service errors,
# throttled invoke API), not handler errors. Three retries is the project-wide ceiling; if an
# hour of retries cannot get through it is an incident: the event waits in the DLQ, the
# delivery-failure alarm fires, and the archive allows a replay once it is fixed.
MAXIMUM_RETRY_ATTEMPTS = 3
MAXIMUM_EVENT_AGE_SECONDS = 3600


def rule_pattern(detail_type: str) -> str:
    """The rule's event pattern: exactly what the event's model says it is."""
    return json.dumps(DETAIL_MODELS[detail_type].pattern())


def dead_letter_policy(queue_arn: str, rule_arns: dict[str, str]) -> str:
    """EventBridge may send to the queue, only on behalf of these rules (detail-type -> rule ARN); TLS only."""
    return queue_policy_json(
        queue_arn,
        *(
            {
                "Sid": f"{detail_type}RuleDeadLetters",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
            for detail_type, rule_arn in rule_arns.items()
        ),
    )


def bus_policy(bus_arn: str, producer_role_arns: list[str]) -> str:
    """Only the catalog's producer roles may put events on the bus; everyone else is denied.

    The Deny is what restricts this account's other principals (an Allow alone adds to their IAM
    policies); AWS services stay outside it so EventBridge itself can replay the archive.
    """
    return policy_json(
        {
            "Sid": "Signal9ProducersPutEvents",
            "Effect": "Allow",
            "Principal": {"AWS": producer_role_arns},
            "Action": "events:PutEvents",
            "Resource": bus_arn,
        },
        {
            "Sid": "NoOtherPrincipalPutsEvents",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": {
                "ArnNotEquals": {"aws:PrincipalArn": producer_role_arns},
                "Bool": {"aws:PrincipalIsAWSService": "false"},
            },
        },
    )


class EventRoutes(pulumi.ComponentResource):
    """Rules, targets, invoke permissions and DLQ policies, keyed by event detail-type."""

    rules: dict[str, aws.cloudwatch.EventRule]
    targets: dict[str, aws.cloudwatch.EventTarget]
    permissions: dict[str, aws.lambda_.Permission]
    queue_policies: dict[str, aws.sqs.QueuePolicy]
    bus_policy: aws.cloudwatch.EventBusPolicy

    def __init__(
        self,
        name: str,
        naming: Naming,
        event_bus: EventBus,
        fleet: FleetOutputs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:EventRoutes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.rules = {
            event.detail_type: aws.cloudwatch.EventRule(
                f"{event.detail_type}-rule",
                name=aws_name("event rule", naming.rule(event.detail_type), RULE_NAME_LIMIT),
                description=f"Signal9 {naming.stack}: {event.detail_type} events -> {event.consumer}",
                event_bus_name=event_bus.name,
                event_pattern=rule_pattern(event.detail_type),
                tags=component_tags("event-routes"),
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for event in catalog.EVENTS
        }

        # One policy per consumer DLQ, holding a statement for each rule that feeds it.
        self.queue_policies = {}
        for consumer in dict.fromkeys(event.consumer for event in catalog.EVENTS):
            detail_types = [event.detail_type for event in catalog.EVENTS if event.consumer == consumer]
            queue = fleet.dead_letter_queues[consumer]
            rule_arns = pulumi.Output.all(**{d: self.rules[d].arn for d in detail_types})
            self.queue_policies[consumer] = aws.sqs.QueuePolicy(
                f"{consumer}-dlq-policy",
                queue_url=queue.url,
                policy=pulumi.Output.all(queue.arn, rule_arns).apply(
                    lambda parts: dead_letter_policy(parts[0], parts[1])
                ),
                opts=child,
            )

        self.permissions = {}
        self.targets = {}
        for event in catalog.EVENTS:
            function = fleet.functions[event.consumer]
            rule = self.rules[event.detail_type]
            self.permissions[event.detail_type] = aws.lambda_.Permission(
                f"{event.detail_type}-invoke-permission",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )
            self.targets[event.detail_type] = aws.cloudwatch.EventTarget(
                f"{event.detail_type}-target",
                rule=rule.name,
                event_bus_name=event_bus.name,
                target_id=event.consumer,
                arn=function.arn,
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=MAXIMUM_EVENT_AGE_SECONDS,
                ),
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(
                    arn=fleet.dead_letter_queues[event.consumer].arn
                ),
                # No delivery before EventBridge may invoke the function and dead-letter.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.permissions[event.detail_type], self.queue_policies[event.consumer]],
                ),
            )
        producers = [fleet.roles[f.name].arn for f in catalog.FUNCTIONS if f.emits]
        self.bus_policy = aws.cloudwatch.EventBusPolicy(
            "event-bus-policy",
            event_bus_name=event_bus.name,
            policy=pulumi.Output.all(event_bus.arn, pulumi.Output.all(*producers)).apply(
                lambda parts: bus_policy(parts[0], parts[1])
            ),
            opts=child,
        )
        self.register_outputs({"ruleArns": {detail_type: rule.arn for detail_type, rule in self.rules.items()}})
