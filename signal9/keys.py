"""The stack's customer managed KMS key: who may use it and for what, as plain policy documents.

One key per stack (``alias/signal9-<stack>``), rotation on. It always encrypts the alarm
topic (CloudWatch must be able to use it; the AWS managed ``aws/sns`` key cannot allow that).
With ``signal9:encryption: customer-managed`` it also encrypts the tables, dead-letter queues,
secrets, log groups, function environments and schedule payloads.

Who uses it, exactly:

- the account, through IAM (AWS's default statement: without it no one could ever administer
  or delete the key; the deploy role's IAM policy decides who administers it);
- the stack's function roles and the Scheduler execution role, named by role ARN in an
  ``aws:PrincipalArn`` condition and only through the services Signal9 calls
  (``kms:ViaService``). Naming the roles as a condition, not as principals, avoids a cycle: the
  roles' policies need the key ARN, and KMS rejects a principal that does not exist yet;
- CloudWatch Logs, only for this stack's function log groups (encryption context);
- EventBridge, only for this stack's rules (dead-lettering into the encrypted DLQs);
- CloudWatch, only for this stack's alarms (publishing to the encrypted topic).

Pure functions over strings, like ``signal9.iam``: the key component, the role policies, the
policy rules and the emulator checks all call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signal9 import catalog, iam
from signal9.iam import ROLE_KEY_ACTIONS, SCHEDULER_KEY_SERVICES, function_key_services
from signal9.naming import Naming

# CloudWatch Logs' documented set for an encrypted log group.
LOGS_KEY_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
SERVICE_KEY_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey")
# What CloudWatch needs to publish to an encrypted topic (AWS's documented statement).
ALARM_KEY_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey*")
SCHEDULER_ROLE = "scheduler"
# The AWS page each service principal's statement follows (tests/test_preflight.py holds each
# statement against the page's actions and conditions).
AWS_PAGES: dict[str, str] = {
    "CloudWatchAlarmsPublish": "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
    "CloudWatchLogsEncryptFunctionLogs": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    "EventBridgeRulesDeadLetter": "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html",
}
# Key deletion waits this long (KMS allows 7-30 days): a mistaken destroy can be undone.
DELETION_WINDOW_DAYS = 30


@dataclass(frozen=True)
class KeyScope:
    """Where the key lives: the names and ARNs its policy refers to."""

    naming: Naming
    account_id: str
    partition: str
    region: str

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account_id}:{resource}"

    @property
    def root(self) -> str:
        return self.arn("iam", "root", region=False)

    def role_arn(self, role: str) -> str:
        return self.arn("iam", f"role/{self.naming.role(role)}", region=False)

    def via(self, service: str) -> str:
        return f"{service}.{self.region}.amazonaws.com"


def key_principals(scope: KeyScope) -> list[str]:
    """Every role that may use the stack key: the seven function roles and the Scheduler role."""
    return [scope.role_arn(name) for name in (*catalog.FUNCTION_NAMES, SCHEDULER_ROLE)]


def key_services(scope: KeyScope) -> list[str]:
    services = {s for f in catalog.FUNCTIONS for s in function_key_services(f)} | set(SCHEDULER_KEY_SERVICES)
    return [scope.via(s) for s in sorted(services)]


def _statement(
    sid: str, principal: dict[str, Any], actions: Sequence[str], condition: dict[str, Any]
) -> dict[str, Any]:
    # In a key policy, "Resource": "*" means this key.
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": list(actions),
        "Resource": "*",
        **({"Condition": condition} if condition else {}),
    }


def key_policy(scope: KeyScope, customer_managed: bool) -> dict[str, Any]:
    """The key policy: see the module docstring for who and why."""
    prefix = scope.naming.prefix
    statements = [
        _statement("AccountAdministersKey", {"AWS": scope.root}, ["kms:*"], {}),
        _statement(
            "CloudWatchAlarmsPublish",
            {"Service": "cloudwatch.amazonaws.com"},
            ALARM_KEY_ACTIONS,
            {
                "StringEquals": {"aws:SourceAccount": scope.account_id},
                "ArnLike": {"aws:SourceArn": scope.arn("cloudwatch", f"alarm:{prefix}-*")},
            },
        ),
    ]
    if customer_managed:
        statements += [
            _statement(
                "Signal9RolesUseKeyViaServices",
                {"AWS": scope.root},
                ROLE_KEY_ACTIONS,
                {
                    "ArnEquals": {"aws:PrincipalArn": key_principals(scope)},
                    "StringEquals": {"kms:ViaService": key_services(scope)},
                },
            ),
            _statement(
                "CloudWatchLogsEncryptFunctionLogs",
                {"Service": f"logs.{scope.region}.amazonaws.com"},
                LOGS_KEY_ACTIONS,
                {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": scope.arn("logs", f"log-group:/aws/lambda/{prefix}-*")
                    }
                },
            ),
            _statement(
                "EventBridgeRulesDeadLetter",
                {"Service": "events.amazonaws.com"},
                SERVICE_KEY_ACTIONS,
                {
                    "StringEquals": {"aws:SourceAccount": scope.account_id},
                    "ArnLike": {"aws:SourceArn": scope.arn("events", f"rule/{scope.naming.event_bus}/*")},
                },
            ),
        ]
    return {"Version": iam.POLICY_VERSION, "Statement": statements}
