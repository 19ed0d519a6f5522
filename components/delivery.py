"""What the event bus, the schedules and the event routes share.

- ``FleetOutputs``: the part of FunctionFleet they deliver to (functions and their DLQs).
- ``aws_name``: AWS name limits, checked when the program runs. Names derive from the
  stack name, and Pulumi's mocks never enforce AWS limits, so a long stack name would
  otherwise only fail halfway through ``pulumi up``.
- ``policy_json``: an IAM policy document as JSON text; ``queue_policy_json`` a queue's, which
  always denies requests without TLS.
- ``pin_role_policies``: a role's policies in AWS are exactly the ones the program declares.
- ``permissions_boundary_arn``: the boundary every role is created under (the bootstrap makes it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from signal9 import iam
from signal9.naming import Naming

# The character set EventBridge rules and archives, Scheduler schedules and groups and IAM
# roles all accept (IAM also allows +=,@ which Signal9 names never use).
NAME_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")


class FleetOutputs(Protocol):
    """The FunctionFleet attributes schedules and event routes need, by catalog function name."""

    @property
    def functions(self) -> Mapping[str, aws.lambda_.Function]: ...

    @property
    def dead_letter_queues(self) -> Mapping[str, aws.sqs.Queue]: ...

    @property
    def roles(self) -> Mapping[str, aws.iam.Role]: ...


def aws_name(kind: str, name: str, limit: int) -> str:
    """``name`` if AWS accepts it for ``kind``; otherwise stop the program with a clear message."""
    if len(name) > limit or not NAME_CHARACTERS.fullmatch(name):
        raise pulumi.RunError(
            f"{kind} name {name!r} breaks the AWS limit of {limit} characters from A-Z a-z 0-9 . _ -; "
            "it is derived from the stack name, so choose a shorter stack name"
        )
    return name


def policy_json(*statements: Mapping[str, Any]) -> str:
    """An IAM policy document with these statements, as the JSON text AWS stores."""
    return json.dumps({"Version": iam.POLICY_VERSION, "Statement": list(statements)})


def deny_insecure_transport(resource_arn: str, action: str) -> dict[str, Any]:
    """Refuse ``action`` on the resource to anyone not calling over TLS (cdk-nag AwsSolutions-SQS4/SNS3).

    AWS services deliver over TLS, so the EventBridge and CloudWatch grants next to it still apply.
    """
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def queue_policy_json(queue_arn: str, *statements: Mapping[str, Any]) -> str:
    """A dead-letter queue's policy: these grants, and no request without TLS."""
    return policy_json(*statements, deny_insecure_transport(queue_arn, "sqs:*"))


def pin_role_policies(
    logical: str, role: aws.iam.Role, inline: Sequence[aws.iam.RolePolicy], parent: pulumi.Resource
) -> None:
    """Make ``role``'s inline policies exactly ``inline`` and its managed policies none, in AWS.

    A policy added out of band (console, another tool) would otherwise widen the role
    unseen; with these, the next deploy removes it.
    """
    opts = pulumi.ResourceOptions(parent=parent)
    aws.iam.RolePoliciesExclusive(
        f"{logical}-inline-policies", role_name=role.name, policy_names=[p.name for p in inline], opts=opts
    )
    aws.iam.RolePolicyAttachmentsExclusive(
        f"{logical}-managed-policies", role_name=role.name, policy_arns=[], opts=opts
    )


def permissions_boundary_arn(naming: Naming, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The stack's permissions boundary, created by the bootstrap project (bootstrap/).

    The deploy role may create roles only with this boundary attached, so every role the
    program makes names it; ``signal9.boundary`` derives its content from the role policies.
    """
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return identity.account_id.apply(naming.permissions_boundary_arn)
