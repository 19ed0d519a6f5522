"""The StackKey component: the stack's one customer managed KMS key and its alias.

Policy and rationale: ``signal9.keys``. Other components take ``data_key_arn``: the key's ARN
when the stack encrypts its data with it (``signal9:encryption: customer-managed``), else
``None`` (AWS owned keys). ``arn`` is always the key (the alarm topic uses it on every stack).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from signal9 import keys
from signal9.config import StackConfig
from signal9.naming import Naming, component_tags


class StackKey(pulumi.ComponentResource):
    """``alias/signal9-<stack>``: rotation on, a key policy naming every principal that uses it."""

    key: aws.kms.Key
    arn: pulumi.Output[str]
    data_key_arn: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:StackKey", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        parts = pulumi.Output.all(
            aws.get_caller_identity_output(opts=invoke).account_id,
            aws.get_partition_output(opts=invoke).partition,
            aws.get_region_output(opts=invoke).region,
        )
        customer_managed = stack_config.customer_managed_key
        uses = "the alarm topic"
        if customer_managed:
            uses += ", tables, DLQs, secrets, log groups, function environments and schedules"
        self.key = aws.kms.Key(
            "stack-key",
            description=f"Signal9 {naming.stack}: encrypts {uses}",
            enable_key_rotation=True,
            deletion_window_in_days=keys.DELETION_WINDOW_DAYS,
            policy=parts.apply(
                lambda p: json.dumps(keys.key_policy(keys.KeyScope(naming, p[0], p[1], p[2]), customer_managed))
            ),
            tags=component_tags("encryption"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.kms.Alias(
            "stack-key-alias",
            name=f"alias/{naming.prefix}",
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.key.arn
        self.data_key_arn = self.key.arn if customer_managed else None
        self.register_outputs({"arn": self.arn, "encryption": stack_config.encryption})
