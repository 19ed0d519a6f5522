"""Lazily created AWS clients shared by every handler in one Lambda execution environment.

Clients are created on first use (not at import) so that a test's moto ``mock_aws`` or an
``AWS_ENDPOINT_URL`` set before the first call is honoured, and are then reused across warm
invocations (creating a boto3 client costs tens of milliseconds). Retries follow the
environment the fleet sets: ``AWS_RETRY_MODE=standard``, ``AWS_MAX_ATTEMPTS=3``.

Callers that switch AWS backends in one process (tests, the in-process ``signal9 local``
smoke) call :func:`reset_clients` between sessions: it drops the cached clients and the
cached secret values with them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider

if TYPE_CHECKING:  # the stubs are a dev dependency; they do not exist at Lambda run time
    from mypy_boto3_dynamodb import DynamoDBServiceResource
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient


@cache
def dynamodb() -> DynamoDBServiceResource:
    return boto3.resource("dynamodb")


@cache
def dynamodb_table(physical_name: str) -> Table:
    """One Table per table for the environment's life: ``Table()`` builds a new resource class each call
    (a few milliseconds, on every query of a loop). Shared by the handlers' worker threads: they use
    only its actions and its name, never its lazily loaded attributes (what makes resources unsafe
    to share between threads)."""
    return dynamodb().Table(physical_name)


@cache
def events() -> EventBridgeClient:
    return boto3.client("events")


@cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager")


@cache
def secrets_provider() -> SecretsProvider:
    """The Powertools provider that fetches and caches secret values in memory (max_age)."""
    return SecretsProvider(boto3_client=secretsmanager())


def reset_clients() -> None:
    """Forget every cached client and cached secret value (the next call creates fresh ones)."""
    for factory in (dynamodb, dynamodb_table, events, secretsmanager, secrets_provider):
        factory.cache_clear()
