"""The stack configuration contract, validated before any resource is registered.

Operators edit ``Pulumi.<stack>.yaml``; every ``signal9:*`` key there is checked here.
A problem is reported as one line per problem naming the stack file, the key path, the
value and what is allowed, raised as a ``ConfigError`` (a ``pulumi.RunError``, so
Pulumi prints the message without a Python traceback).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from functions.pollenate_asset.fundamentals import DATASETS
from signal9 import catalog
from signal9.cron import ScheduleExpressionError, check_weekday_only, next_fire
from signal9.errors import OperatorError
from signal9.stackfile import read_stack_config

NAMESPACE = catalog.PROJECT

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

FunctionName = Literal[catalog.FUNCTION_NAMES]  # type: ignore[valid-type]
ScheduleName = Literal[catalog.SCHEDULE_NAMES]  # type: ignore[valid-type]
SecretName = Literal[catalog.SECRET_NAMES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _weekday_expression(value: str) -> str:
    try:
        check_weekday_only(value)
    except ScheduleExpressionError as error:
        raise ValueError(str(error)) from None
    return value


def _timezone(value: str) -> str:
    # Scheduler checks each expression in this timezone, and the maintenance window is Sunday in
    # New York (docs/contract.md): any other zone would let a Mon-Sat expression fire on a New York Sunday.
    if value != catalog.DEFAULT_TIMEZONE:
        raise ValueError(
            f"must be {catalog.DEFAULT_TIMEZONE}: the Sunday maintenance window is defined in New York time"
        )
    return value


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("must be an email address")
    return value


class FunctionOverride(_Strict):
    """Per-function tuning; unset fields keep the catalog defaults."""

    memoryMb: int | None = Field(default=None, ge=128, le=10240)
    timeoutSeconds: int | None = Field(default=None, ge=1, le=900)


class ScheduleOverride(_Strict):
    """Per-schedule override of the catalog expression, or switching a schedule off."""

    expression: Annotated[str, AfterValidator(_weekday_expression)] | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _fires_again(self, info: ValidationInfo) -> ScheduleOverride:
        # A one-time at() (or a cron pinned to past years) that has fired is a schedule doing nothing.
        if self.expression and self.enabled:
            now = (info.context or {}).get("now") or datetime.now(UTC)
            try:
                next_fire(self.expression, catalog.DEFAULT_TIMEZONE, now)
            except ScheduleExpressionError as error:
                raise ValueError(f"{error}; remove it or set enabled: false") from None
        return self


class Protection(_Strict):
    """How hard the stack's stateful resources are to delete."""

    deletionProtection: bool = False
    retainOnDelete: bool = False


# What docs/contract.md requires of each named stack; other stacks (e.g. a personal dev stack) choose freely.
REQUIRED_PROTECTION = {
    "staging": Protection(deletionProtection=True),
    "prod": Protection(deletionProtection=True, retainOnDelete=True),
}


# Where data at rest is encrypted: AWS owned keys (free, no key policy to audit) or the stack's
# customer managed KMS key (rotation, a key policy naming every principal, CloudTrail per use).
Encryption = Literal["aws-owned", "customer-managed"]
CUSTOMER_MANAGED: Encryption = "customer-managed"
# What docs/contract.md requires of the financial-data stacks; dev may stay on AWS owned keys to keep it cheap.
REQUIRED_ENCRYPTION: dict[str, Encryption] = {stack: CUSTOMER_MANAGED for stack in catalog.CUSTOMER_MANAGED_KEY_STACKS}


class AlpacaCredentials(_Strict):
    keyId: str | None = None
    secretKey: str | None = None
    baseUrl: str | None = None
    dataUrl: str | None = None


class AlphaVantageCredentials(_Strict):
    apiKey: str | None = None
    baseUrl: str | None = None


# A new AWS account's concurrency quota: when no concurrency is reserved for PollenateAsset
# (pollenationConcurrency: null), the whole account is the bound the pacing has to assume.
NEW_ACCOUNT_CONCURRENCY = 10
# AlphaVantage calls per pollenation: OVERVIEW, EARNINGS and the three statements.
CALLS_PER_POLLENATION = len(DATASETS)
SECONDS_PER_MINUTE = 60


class AlphaVantagePlan(_Strict):
    """The AlphaVantage plan the stack's key is on, and PollenateAsset's share of it.

    docs/collectors.md ("PollenateAsset and the AlphaVantage plan") explains the arithmetic.
    """

    requestsPerMinute: int = Field(default=75, ge=1, le=100_000)
    """The plan's rate (75 is the smallest premium plan)."""
    pollenationConcurrency: int | None = Field(default=5, ge=1, le=1000)
    """Reserved concurrency of PollenateAsset; null reserves none (see NEW_ACCOUNT_CONCURRENCY)."""
    collectorHeadroomPerMinute: int = Field(default=5, ge=0)
    """Requests a minute kept free for SyncEarningsCalendar and SyncNewsSentiment (same key)."""
    busyDayPollenations: int = Field(default=300, ge=1, le=100_000)
    """pollenationNeeded events one trigger run may emit at once (a busy earnings day)."""

    @property
    def paced_concurrency(self) -> int:
        """The most PollenateAsset environments that can run at once."""
        return self.pollenationConcurrency or NEW_ACCOUNT_CONCURRENCY

    @property
    def pollenation_budget(self) -> int:
        """Requests a minute PollenateAsset may use in steady state.

        The plan's rate minus the other collectors' headroom, minus one request per
        environment: a paced environment can land one extra request in a minute window
        that starts just before its request (at most ``60 / interval + 1`` in any window).
        """
        return self.requestsPerMinute - self.collectorHeadroomPerMinute - self.paced_concurrency

    @property
    def interval_seconds(self) -> float:
        """Seconds between two requests of one environment: ``concurrency * 60 / budget``."""
        return self.paced_concurrency * SECONDS_PER_MINUTE / self.pollenation_budget

    def drain_seconds(self, pollenations: int) -> float:
        """How long ``pollenations`` events queued at once take to collect at the budget."""
        return pollenations * CALLS_PER_POLLENATION * SECONDS_PER_MINUTE / self.pollenation_budget

    @property
    def largest_burst(self) -> int:
        """The most pollenations queued at once that drain within the age Lambda keeps an event."""
        return int(
            catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS
            * self.pollenation_budget
            / (CALLS_PER_POLLENATION * SECONDS_PER_MINUTE)
        )


class SecretValues(_Strict):
    """Credential values, set with `pulumi config set --secret --path signal9:secrets.<name>.<field>`."""

    alphavantage: AlphaVantageCredentials = AlphaVantageCredentials()
    alpaca: AlpacaCredentials = AlpacaCredentials()


class StackConfig(_Strict):
    """Every ``signal9:*`` key a stack file may set, with its default."""

    functions: dict[FunctionName, FunctionOverride] = {}
    schedules: dict[ScheduleName, ScheduleOverride] = {}
    timezone: Annotated[str, AfterValidator(_timezone)] = catalog.DEFAULT_TIMEZONE
    protection: Protection = Protection()
    encryption: Encryption = "aws-owned"
    logRetentionDays: Literal[LOG_RETENTION_DAYS] = 30  # type: ignore[valid-type]
    alarmEmails: list[Annotated[str, AfterValidator(_email)]] = []
    eventArchiveRetentionDays: int = Field(default=30, ge=0, le=36500)
    secretRecoveryWindowDays: Literal[
        0, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30
    ] = 7
    regularPollenationBatchSize: int = Field(default=100, ge=1, le=1000)
    # One missed-run alarm per enabled scheduled function (signal9.dashboard); dev switches them off
    # to stay under its monthly budget (`signal9 status` still reports every schedule there).
    missedRunAlarms: bool = True
    # The news-lag, earnings-overdue and earnings-unpublished alarms (signal9.dashboard); dev
    # switches them off for the same budget (the dashboard's freshness row and `signal9 status` stay).
    freshnessAlarms: bool = True
    secrets: SecretValues = SecretValues()
    # With functions and regularPollenationBatchSize, checked by _plan_arithmetic (defaults included).
    alphaVantage: AlphaVantagePlan = AlphaVantagePlan()

    @model_validator(mode="after")
    def _plan_arithmetic(self) -> StackConfig:
        """The plan's rate must leave PollenateAsset a budget that drains a burst in time.

        Each problem names the key most likely to need the change (``CrossKeyError``), not the plan as a whole.
        """
        plan = self.alphaVantage
        if plan.pollenation_budget < 1:
            raise CrossKeyError(
                ("alphaVantage", "requestsPerMinute"),
                plan.requestsPerMinute,
                f"leaves no requests for PollenateAsset after collectorHeadroomPerMinute "
                f"{plan.collectorHeadroomPerMinute} and one per concurrent pollenation ({plan.paced_concurrency}): "
                "raise the plan's rate or lower the concurrency",
            )
        burst = max(plan.busyDayPollenations, self.regularPollenationBatchSize)
        if plan.drain_seconds(burst) > catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS:
            batch = self.regularPollenationBatchSize >= plan.busyDayPollenations
            raise CrossKeyError(
                ("regularPollenationBatchSize",) if batch else ("alphaVantage", "busyDayPollenations"),
                burst,
                f"{burst} pollenations queued at once take {plan.drain_seconds(burst):.0f} s at "
                f"{plan.pollenation_budget} requests/min, longer than the {catalog.ASYNC_MAXIMUM_EVENT_AGE_SECONDS} s "
                f"Lambda keeps an event (the rest would go to the DLQ): at most {plan.largest_burst} at this "
                f"AlphaVantage plan; lower it or raise {NAMESPACE}:alphaVantage.requestsPerMinute",
            )
        function = catalog.function("PollenateAsset")
        timeout = self.timeout_seconds(function)
        paced = CALLS_PER_POLLENATION * plan.interval_seconds
        if paced >= timeout:
            overridden = self.functions.get(function.name)
            raise CrossKeyError(
                ("functions", function.name, "timeoutSeconds")
                if overridden and overridden.timeoutSeconds
                else ("alphaVantage",),
                timeout if overridden and overridden.timeoutSeconds else plan.model_dump(),
                f"one pollenation waits {paced:.0f} s for its {CALLS_PER_POLLENATION} paced requests, not less "
                f"than PollenateAsset's timeout of {timeout} s: raise the timeout or the rate, or lower "
                "pollenationConcurrency",
            )
        return self

    @property
    def pollenationRequestIntervalSeconds(self) -> float:  # noqa: N802 - a catalog setting name (env var)
        """PollenateAsset's pacing interval, handed to it as a setting (``catalog.Function.settings``)."""
        return self.alphaVantage.interval_seconds

    def reserved_concurrency(self, function: catalog.Function) -> int | None:
        """Reserved concurrency for a paced function (``catalog.Function.paced``); None reserves none."""
        return self.alphaVantage.pollenationConcurrency if function.paced else None

    @field_validator("protection")
    @classmethod
    def _spec_protection(cls, value: Protection, info: ValidationInfo) -> Protection:
        stack = (info.context or {}).get("stack")
        required = REQUIRED_PROTECTION.get(stack or "")
        if required and (
            (required.deletionProtection and not value.deletionProtection)
            or (required.retainOnDelete and not value.retainOnDelete)
        ):
            raise ValueError(
                f"{stack} must keep {required.model_dump()} (docs/contract.md: tables are protected outside dev)"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _stack_default_encryption(cls, data: Any, info: ValidationInfo) -> Any:
        # staging and prod default to the customer managed key; everything else to AWS owned keys.
        required = REQUIRED_ENCRYPTION.get((info.context or {}).get("stack") or "")
        if required and isinstance(data, dict) and "encryption" not in data:
            return {**data, "encryption": required}
        return data

    @field_validator("encryption")
    @classmethod
    def _spec_encryption(cls, value: Encryption, info: ValidationInfo) -> Encryption:
        required = REQUIRED_ENCRYPTION.get((info.context or {}).get("stack") or "")
        if required and value != required:
            raise ValueError(f"must be {required!r} on this stack (FSBP review: customer managed key outside dev)")
        return value

    @property
    def customer_managed_key(self) -> bool:
        """Whether tables, queues, secrets, logs, function environments and schedules use the stack key."""
        return self.encryption == CUSTOMER_MANAGED

    def memory_mb(self, function: catalog.Function) -> int:
        override = self.functions.get(function.name)
        return override.memoryMb if override and override.memoryMb else function.memory_mb

    def timeout_seconds(self, function: catalog.Function) -> int:
        override = self.functions.get(function.name)
        return override.timeoutSeconds if override and override.timeoutSeconds else function.timeout_seconds

    def schedule_expression(self, function: catalog.Function) -> str:
        trigger = catalog.schedule_trigger(function)
        override = self.schedules.get(trigger.schedule)
        return override.expression if override and override.expression else trigger.expression

    def schedule_enabled(self, function: catalog.Function) -> bool:
        override = self.schedules.get(catalog.schedule_trigger(function).schedule)
        return override.enabled if override else True


# Keys whose values must never be echoed back in an error message.
SECRET_KEYS = frozenset({"secrets"})


class ConfigError(pulumi.RunError, OperatorError):
    """A stack configuration problem; the message has one line per problem."""


class CrossKeyError(ValueError):
    """A problem between keys, reported at ``loc``: the key most likely to need the change, with its value."""

    def __init__(self, loc: tuple[str, ...], value: Any, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.value = value


def _describe(value: Any, secret: bool) -> str:
    if secret:
        return "[secret]"
    if value is None:
        return "(not set)"
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _key_path(loc: tuple[int | str, ...], namespace: str = NAMESPACE) -> str:
    top, *rest = loc
    path = f"{namespace}:{top}"
    for part in rest:
        if part == "[key]":
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _value_at(raw: Mapping[str, Any], loc: tuple[int | str, ...]) -> Any:
    value: Any = raw
    for part in loc:
        if part == "[key]":
            return value
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


# Settings that no longer exist, with why: a stack file that still sets one learns what replaced it.
RETIRED_KEYS = {
    "powertoolsLayerVersion": (
        "no longer a setting: every stack runs the handlers' layer built from uv.lock, the versions "
        'the tests ran (docs/architecture.md, "Handler runtime"); remove it'
    ),
}


def _allowed(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return RETIRED_KEYS.get(str(error["loc"][0]), "unknown key") if len(error["loc"]) == 1 else "unknown key"
    if kind == "missing":
        return "required"
    if error["loc"] and error["loc"][-1] == "[key]":
        return str(error["msg"]).replace("Input should be", "key must be")
    message = str(error["msg"]).removeprefix("Value error, ")
    return message.replace("Input should be", "must be").replace("String should match", "must match the")


def parse(raw: Mapping[str, Any], stack_file: str, now: datetime | None = None) -> StackConfig:
    """Validate the ``signal9:*`` values of one stack (keys without the namespace).

    ``now`` is when schedules must still fire after (default: the clock; tests pass their own).
    """
    try:
        stack = stack_file.removeprefix("Pulumi.").removesuffix(".yaml")
        return StackConfig.model_validate(dict(raw), context={"stack": stack, "now": now})
    except ValidationError as error:
        raise ConfigError("\n".join(problem_lines(error, raw, stack_file))) from None


def problem_lines(
    error: ValidationError,
    raw: Mapping[str, Any],
    stack_file: str,
    namespace: str = NAMESPACE,
    secret_keys: frozenset[str] = SECRET_KEYS,
) -> list[str]:
    """One line per problem: the file, the key path, the value (never a secret's) and what is allowed."""
    lines = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        blame = (problem.get("ctx") or {}).get("error")
        if isinstance(blame, CrossKeyError):
            value = _value_at(raw, blame.loc)
            shown = _describe(value, False) if value is not None else f"{_describe(blame.value, False)} (default)"
            lines.append(f"{stack_file}: {_key_path(blame.loc, namespace)} = {shown}: {blame}")
            continue
        secret = loc[0] in secret_keys
        value = loc[-2] if loc[-1] == "[key]" else _value_at(raw, loc)
        lines.append(f"{stack_file}: {_key_path(loc, namespace)} = {_describe(value, secret)}: {_allowed(problem)}")
    return lines


def _decode(value: Any) -> Any:
    """Structured config arrives as JSON text; plain strings stay strings."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def namespace_values(config: Mapping[str, Any], namespace: str = NAMESPACE) -> dict[str, Any]:
    """The ``namespace:*`` entries (default ``signal9:*``) of a flat Pulumi config map, decoded, without the prefix."""
    prefix = f"{namespace}:"
    return {k.removeprefix(prefix): _decode(v) for k, v in config.items() if k.startswith(prefix)}


def load_stack(stack: str) -> StackConfig:
    """Validate ``Pulumi.<stack>.yaml`` by stack name, offline (tooling; the program uses load())."""
    return parse(namespace_values(read_stack_config(stack)), f"Pulumi.{stack}.yaml")


def program_values(namespace: str, stack: str, project: str, names: Iterable[str]) -> dict[str, Any]:
    """A running program's ``namespace:*`` config, read with Pulumi's public API, decoded.

    Pulumi hands a program its values but no list of keys: the keys are the stack file's
    (checked offline first: namespaces, declared types, as the CLI reads it) and ``names``.
    A stack file's problem is raised as a ``ConfigError``, which Pulumi shows without a traceback.
    """
    try:
        offline = read_stack_config(stack, project)
    except FileNotFoundError:
        offline = {}  # a stack created with `pulumi stack init` and no config yet
    except OperatorError as error:
        raise ConfigError(str(error)) from None
    prefix = f"{namespace}:"
    keys = dict.fromkeys([*(k.removeprefix(prefix) for k in offline if k.startswith(prefix)), *names])
    settings = pulumi.Config(namespace)
    return {key: _decode(value) for key in keys if (value := settings.get(key)) is not None}


def load() -> StackConfig:
    """Validate the running stack's configuration (call before creating any resource)."""
    stack = pulumi.get_stack()
    return parse(program_values(NAMESPACE, stack, catalog.PROJECT, StackConfig.model_fields), f"Pulumi.{stack}.yaml")
