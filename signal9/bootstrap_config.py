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

import json
from collections.abc import Mapping
from typing import Annotated, Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signal9 import catalog
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
        lines = [
            f"{stack_file}: {NAMESPACE}:{'.'.join(map(str, p['loc']))}: {str(p['msg']).removeprefix('Value error, ')}"
            for p in error.errors()
        ]
        raise BootstrapConfigError("\n".join(lines)) from None
    unknown = sorted(set(config.stacks) - set(catalog.STACKS))
    if unknown:
        raise BootstrapConfigError(f"{stack_file}: {NAMESPACE}:stacks: unknown stack(s) {', '.join(unknown)}")
    return config


def _namespace_values(config: Mapping[str, str]) -> dict[str, Any]:
    """Every key set under the namespace, so an unknown (misspelt) one is refused rather than ignored."""
    prefix = f"{NAMESPACE}:"
    raw: dict[str, Any] = {}
    for key, value in ((k.removeprefix(prefix), v) for k, v in config.items() if k.startswith(prefix)):
        try:
            raw[key] = json.loads(value) if value[:1] in "[{" else value
        except ValueError:
            raw[key] = value
        if key.endswith("Days") and isinstance(raw[key], str) and raw[key].isdigit():
            raw[key] = int(raw[key])
    return raw


def load() -> BootstrapConfig:
    """The running bootstrap stack's config (inside the Pulumi program)."""
    config = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    return parse(_namespace_values(config), f"Pulumi.{pulumi.get_stack()}.yaml")


def load_stack(stack: str) -> BootstrapConfig:
    """``bootstrap/Pulumi.<stack>.yaml`` validated, offline (tooling)."""
    return parse(_namespace_values(read_stack_config(stack, PROJECT)), f"bootstrap/Pulumi.{stack}.yaml")
