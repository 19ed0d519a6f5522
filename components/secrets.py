"""The Secrets component: one Secrets Manager secret per catalog entry, values from secret config.

Each secret ``signal9/<stack>/<name>`` holds a JSON object of the catalog's fields. Values
come from ``pulumi config set --secret --path signal9:secrets.<name>.<field> ...``; an unset
field stores a ``PLACEHOLDER-`` value (the handlers' secret helper refuses it with a clear
message) and the deploy warns with the exact command to run, never with a value.

Read access is granted only by the functions' identity policies (FunctionFleet:
GetSecretValue on this secret's ARN). There is deliberately no resource policy: allowing
only the function roles would need their ARNs here (the roles depend on the secret ARNs),
and a deny-everyone-else policy would also lock out ``pulumi refresh`` and operators.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from functions.shared.secret_fields import PLACEHOLDER_VALUE, set_secret_command
from signal9 import catalog
from signal9.config import StackConfig
from signal9.naming import Naming, component_tags

# Which fields hold the placeholder, on the secret itself: `signal9 verify` reads it with
# DescribeSecret (never the value). The deploy writes it with the value it stores.
PLACEHOLDER_TAG = "Signal9Placeholders"


def placeholder_tag_value(fields: tuple[str, ...]) -> str:
    """The tag's value: the fields still holding the placeholder, or ``none``."""
    return " ".join(fields) or "none"


def configured_values(secret: catalog.Secret, stack_config: StackConfig) -> dict[str, str | None]:
    """The stack's configured value, else the catalog default, else None, for each field of ``secret``."""
    values = getattr(stack_config.secrets, secret.name).model_dump()
    defaults = dict(secret.defaults)
    return {field: values.get(field) or defaults.get(field) for field in secret.fields}


def unset_fields(secret: catalog.Secret, stack_config: StackConfig) -> tuple[str, ...]:
    """Fields of ``secret`` that have no configured value and will hold a placeholder."""
    return tuple(field for field, value in configured_values(secret, stack_config).items() if not value)


def secret_document(secret: catalog.Secret, stack_config: StackConfig) -> str:
    """The secret's JSON text: configured values, placeholders for the rest.

    Deterministic (catalog field order, fixed placeholder) so an unchanged config never
    produces a new secret version on ``pulumi up``.
    """
    values = configured_values(secret, stack_config)
    return json.dumps({field: value or PLACEHOLDER_VALUE for field, value in values.items()}, separators=(",", ":"))


def placeholder_warning(secret: catalog.Secret, naming: Naming, fields: tuple[str, ...]) -> str:
    """The deploy warning for a secret with placeholder fields: what to run, never a value."""
    commands = "; ".join(set_secret_command(secret.name, field, naming.stack) for field in fields)
    return (
        f"secret {naming.secret(secret.name)} stores PLACEHOLDER values for {', '.join(fields)}; "
        f"handlers using it fail until you run: {commands}; then pulumi up -s {naming.stack}"
    )


class Secrets(pulumi.ComponentResource):
    """Every catalog secret; ``secrets[name]`` / ``arns[name]`` by catalog secret name."""

    secrets: dict[str, aws.secretsmanager.Secret]
    arns: dict[str, pulumi.Output[str]]
    placeholders: dict[str, tuple[str, ...]]

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        key_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:Secrets", name, None, opts)
        self.secrets = {}
        self.placeholders = {}
        for secret in catalog.SECRETS:
            missing = unset_fields(secret, stack_config)
            resource = aws.secretsmanager.Secret(
                f"{secret.name}-secret",
                name=naming.secret(secret.name),
                description=f"Signal9 {naming.stack}: {secret.description} (JSON: {', '.join(secret.fields)})",
                recovery_window_in_days=stack_config.secretRecoveryWindowDays,
                # None: the account's aws/secretsmanager key.
                kms_key_id=key_arn,
                tags={
                    **component_tags("secrets"),
                    PLACEHOLDER_TAG: placeholder_tag_value(missing),
                },
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            aws.secretsmanager.SecretVersion(
                f"{secret.name}-secret-version",
                secret_id=resource.id,
                # Output.secret keeps the value encrypted in state and masked in every preview.
                secret_string=pulumi.Output.secret(secret_document(secret, stack_config)),
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret_string"]),
            )
            self.secrets[secret.name] = resource
            if missing:
                self.placeholders[secret.name] = missing
                pulumi.log.warn(placeholder_warning(secret, naming, missing), resource=resource)
        self.arns = {name: secret.arn for name, secret in self.secrets.items()}
        self.register_outputs({"arns": self.arns})
