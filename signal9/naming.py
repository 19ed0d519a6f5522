"""Physical names and tags, derived from the project and stack name.

One place decides how a Signal9 resource is called in AWS, so the program, the local
emulator, the operations commands and the tests all agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from signal9.catalog import PROJECT


@dataclass(frozen=True)
class Naming:
    """Names of one stack's resources, e.g. ``Naming("dev").table("assets")``."""

    stack: str

    @property
    def prefix(self) -> str:
        return f"{PROJECT}-{self.stack}"

    def table(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def function(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def dead_letter_queue(self, function: str) -> str:
        return f"{self.prefix}-{function}-dlq"

    def role(self, function: str) -> str:
        return f"{self.prefix}-{function}"

    def log_group(self, function: str) -> str:
        return f"/aws/lambda/{self.function(function)}"

    def secret(self, name: str) -> str:
        return f"{PROJECT}/{self.stack}/{name}"

    @property
    def handler_layer(self) -> str:
        """The Lambda layer holding the handlers' packages (signal9.runtime)."""
        return f"{self.prefix}-handler-runtime"

    @property
    def event_bus(self) -> str:
        return self.prefix

    @property
    def schedule_group(self) -> str:
        return self.prefix

    def schedule(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def rule(self, detail_type: str) -> str:
        return f"{self.prefix}-{detail_type}"

    @property
    def permissions_boundary(self) -> str:
        """The managed policy the bootstrap creates and the program attaches to every role it makes."""
        return f"{self.prefix}-permissions-boundary"

    def permissions_boundary_arn(self, account_id: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account_id}:policy/{self.permissions_boundary}"

    def common_tags(self) -> dict[str, str]:
        """Tags every taggable resource carries (applied as the provider's default tags)."""
        return {"Project": PROJECT, "Environment": self.stack, "ManagedBy": "pulumi"}


def component_tags(component: str) -> dict[str, str]:
    """The per-component tag added on top of the provider's default tags."""
    return {"Component": component}
