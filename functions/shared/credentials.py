"""Credentials from Secrets Manager: fetched by ARN, cached in memory, validated, placeholders refused.

The fleet passes each function the ARN of the one secret it may read
(``SIGNAL9_SECRET_<NAME>_ARN``). Values are fetched through Powertools' Secrets provider,
which caches them in memory for ``POWERTOOLS_PARAMETERS_MAX_AGE`` seconds (default 300):
a warm invocation makes no Secrets Manager call, and a rotated value is picked up within
that time without a deploy.

A field still holding the Secrets component's ``PLACEHOLDER-...`` value fails fast with the
command that sets it. Error messages name the secret and fields, never a value (pydantic
input values are stripped and the original exception is not chained), and the models hold
credentials as ``SecretStr`` so a stray log or repr prints ``**********``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, TypeVar

from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from functions.shared.aws import secrets_provider
from functions.shared.env import STAGE, require, secret_variable
from functions.shared.secret_fields import (
    ALPACA_DATA_URL,
    ALPACA_TRADING_URL,
    ALPHAVANTAGE_URL,
    PLACEHOLDER_PREFIX,
    set_secret_command,
)
from functions.shared.validation import problems

MAX_AGE_VARIABLE = "POWERTOOLS_PARAMETERS_MAX_AGE"
DEFAULT_MAX_AGE_SECONDS = 300


class SecretNotSetError(RuntimeError):
    """The secret still stores the deploy-time placeholder for one or more fields."""


class SecretInvalidError(RuntimeError):
    """The secret's value is not the JSON object its model expects."""


class Credentials(BaseModel):
    """One secret's JSON document. Subclasses name the secret (catalog name) in ``SECRET``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    SECRET: ClassVar[str]


class AlphaVantageCredentials(Credentials):
    SECRET: ClassVar[str] = "alphavantage"

    apiKey: SecretStr = Field(min_length=1)
    baseUrl: HttpUrl = HttpUrl(ALPHAVANTAGE_URL)


class AlpacaCredentials(Credentials):
    SECRET: ClassVar[str] = "alpaca"

    keyId: SecretStr = Field(min_length=1)
    secretKey: SecretStr = Field(min_length=1)
    baseUrl: HttpUrl = HttpUrl(ALPACA_TRADING_URL)
    dataUrl: HttpUrl = HttpUrl(ALPACA_DATA_URL)


C = TypeVar("C", bound=Credentials)


def max_age_seconds() -> int:
    return int(os.environ.get(MAX_AGE_VARIABLE, DEFAULT_MAX_AGE_SECONDS))


def load_credentials(model: type[C]) -> C:
    """The validated credentials of ``model.SECRET`` (cached; see the module docstring)."""
    name = model.SECRET
    arn = require(secret_variable(name))
    try:
        document = secrets_provider().get(arn, transform="json", max_age=max_age_seconds())
    except TransformParameterError:
        raise SecretInvalidError(f"secret {name!r} ({arn}) is not valid JSON") from None
    if not isinstance(document, dict):
        raise SecretInvalidError(f"secret {name!r} ({arn}) must be a JSON object with fields {_fields(model)}")
    _refuse_placeholders(name, arn, document)
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise SecretInvalidError(f"secret {name!r} ({arn}) is malformed: {problems(error)}") from None


def _refuse_placeholders(name: str, arn: str, document: dict[str, Any]) -> None:
    fields = [f for f, v in document.items() if isinstance(v, str) and v.startswith(PLACEHOLDER_PREFIX)]
    if fields:
        stage = os.environ.get(STAGE)
        stack = f" -s {stage}" if stage else ""
        commands = "; ".join(set_secret_command(name, f, stage) for f in fields)
        raise SecretNotSetError(
            f"secret {name!r} ({arn}) still holds the PLACEHOLDER value for {', '.join(fields)}. "
            f"Set the real value(s) with: {commands}; then run `pulumi up{stack}`."
        )


def _fields(model: type[Credentials]) -> str:
    return ", ".join(model.model_fields)
