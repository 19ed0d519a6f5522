"""The bootstrap project's configuration (``bootstrap/Pulumi.<account stack>.yaml``), validated.

One bootstrap stack per AWS account. Keys (namespace ``signal9-bootstrap``):

- ``repository`` (required): ``owner/repo`` on GitHub whose workflows may assume the roles;
- ``stacks``: the Signal9 stacks deployed to this account (default all three); each gets a
  deploy role trusted by the GitHub environment of the same name, and a permissions boundary;
- ``stateVersionRetentionDays``: how long superseded state versions are kept (default 400:
  a yearly audit plus a month); ``auditLogRetentionDays``: the same for the state audit trail;
- ``oidcProviderArn``: an existing GitHub OIDC provider to reuse (an account holds one per URL);
- ``operatorArns``: IAM roles of the people who init stacks, set secrets and break glass: the
  only principals besides the GitHub roles that may use the state and secrets keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signal9 import catalog
from signal9.config import namespace_values, problem_lines, program_values
from signal9.errors import OperatorError
from signal9.stackfile import read_stack_config

PROJECT = f"{catalog.PROJECT}-bootstrap"
NAMESPACE = PROJECT


class BootstrapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    stacks: list[str] = Field(default=list(catalog.STACKS), min_length=1)
    # Audits look back a year; S3 keeps noncurrent versions this long after they are replaced.
    stateVersionRetentionDays: int = Field(default=400, ge=365, le=3650)
    auditLogRetentionDays: int = Field(default=400, ge=365, le=3650)
    oidcProviderArn: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:iam::\d{12}:oidc-provider/")
    operatorArns: list[Annotated[str, Field(pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/")]] = []


class BootstrapConfigError(pulumi.RunError, OperatorError):
    """A bootstrap configuration problem, one line per problem."""


def parse(raw: Mapping[str, Any], stack_file: str) -> BootstrapConfig:
    try:
        config = BootstrapConfig.model_validate(dict(raw))
    except ValidationError as error:
        raise BootstrapConfigError("\n".join(problem_lines(error, raw, stack_file, NAMESPACE, frozenset()))) from None
    unknown = sorted(set(config.stacks) - set(catalog.STACKS))
    if unknown:
        raise BootstrapConfigError(f"{stack_file}: {NAMESPACE}:stacks: unknown stack(s) {', '.join(unknown)}")
    return config


def load() -> BootstrapConfig:
    """The running bootstrap stack's config (inside the Pulumi program), through Pulumi's public API.

    Every key the stack file sets under the namespace is read, so an unknown (misspelt) one is
    refused rather than ignored.
    """
    stack = pulumi.get_stack()
    config = parse(program_values(NAMESPACE, stack, PROJECT, BootstrapConfig.model_fields), f"Pulumi.{stack}.yaml")
    for warning in placeholder_warnings(config):
        pulumi.log.warn(f"Pulumi.{stack}.yaml: {warning}")
    return config


# What bootstrap/Pulumi.main.yaml ships with: examples to replace, not an account's settings.
EXAMPLE_REPOSITORY = "example-org/signal9"
EXAMPLE_ACCOUNT = "123456789012"


def placeholder_warnings(config: BootstrapConfig) -> list[str]:
    """The shipped example values still in the config (a deploy would trust a repository and roles nobody owns)."""
    warnings = []
    if config.repository == EXAMPLE_REPOSITORY:
        warnings.append(
            f"{NAMESPACE}:repository is the shipped example {EXAMPLE_REPOSITORY!r}: set your GitHub owner/repo "
            f"(pulumi config set {NAMESPACE}:repository <owner>/<repo>), or its workflows cannot assume the roles"
        )
    examples = [arn for arn in config.operatorArns if f":iam::{EXAMPLE_ACCOUNT}:" in arn]
    if examples:
        warnings.append(
            f"{NAMESPACE}:operatorArns name the example account {EXAMPLE_ACCOUNT} ({', '.join(examples)}): list your "
            "operators' role ARNs, or no person can use the state and secrets keys"
        )
    return warnings


def load_stack(stack: str) -> BootstrapConfig:
    """``bootstrap/Pulumi.<stack>.yaml`` validated, offline (tooling)."""
    return parse(namespace_values(read_stack_config(stack, PROJECT), NAMESPACE), f"bootstrap/Pulumi.{stack}.yaml")
