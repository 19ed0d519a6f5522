"""Check every deploy call's parameters against the constraints AWS enforces on requests.

botocore validates only required members, types and numeric minimums (``botocore.validate``)
and moto checks little more, so a name one character too long deploys into the emulator and
fails in AWS. This walks each operation's input shape in botocore's own service model and
checks what the model states: string length (``min``/``max``), ``pattern``, ``enum``, numeric
range, blob size and list/map sizes. A few limits the models cannot state because the member
also accepts an ARN (a Lambda function name is 64 characters; the shape allows a 140-character
ARN) are added from AWS's API references (``NAME_LIMITS``; e.g. the FunctionName and QueueName
members of docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html and
docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).

Patterns: the models' patterns are Java regexes that AWS applies to the whole value (its error
is "Member must satisfy regular expression pattern"), so they are compiled with Python's ``re``
in ASCII mode (Java's ``\\w``, ``\\d``, ``\\s`` are ASCII) and matched with ``fullmatch``; the
tag patterns' Unicode classes (``\\p{L}``...) with the `regex` package (``compiled``). A pattern
neither can apply as Java does is skipped and counted (``RequestConstraints.skipped_patterns``).
No pattern needed loosening: every value the dev, staging and prod deploys send matches its
model's pattern (tests/test_request_constraints.py deploys prod; the local tests dev and staging).

A value of a shape the model marks sensitive (a secret's value) is never quoted in a message.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol, cast

import regex
from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape

NUMBERS = frozenset({"integer", "long", "float", "double"})
QUOTED_CHARACTERS = 80  # a value is quoted up to this many characters (every name fits)


@dataclass(frozen=True)
class NameLimit:
    """A documented limit on a name the model's shape cannot state (it also admits an ARN)."""

    max: int
    pattern: str
    source: str


# (service, operation, member) -> the limit a plain name (not an ARN) has.
NAME_LIMITS: dict[tuple[str, str, str], NameLimit] = {
    ("lambda", "CreateFunction", "FunctionName"): NameLimit(
        64,
        "[a-zA-Z0-9-_]+",
        "Lambda API reference, CreateFunction: if you specify only the function name, it is limited to 64 characters",
    ),
    ("dynamodb", "CreateTable", "TableName"): NameLimit(
        255, "[a-zA-Z0-9_.-]{3,}", "DynamoDB API reference, CreateTable: TableName is 3-255 of [a-zA-Z0-9_.-]"
    ),
    ("sqs", "CreateQueue", "QueueName"): NameLimit(
        80,
        "[a-zA-Z0-9_-]+(\\.fifo)?",
        "SQS API reference, CreateQueue: up to 80 characters of alphanumerics, hyphens and underscores",
    ),
    ("sns", "CreateTopic", "Name"): NameLimit(
        256,
        "[a-zA-Z0-9_-]+(\\.fifo)?",
        "SNS API reference, CreateTopic: up to 256 alphanumerics, hyphens and underscores",
    ),
}


class Matcher(Protocol):
    """What both ``re`` and the `regex` package compile a pattern to, as used here."""

    def fullmatch(self, string: str) -> object | None: ...


class RequestConstraintError(ValueError):
    """A deploy call carries a value AWS would reject (the call is not sent)."""


# Java's shorthand classes, ASCII in Java; the `regex` package reads them as Unicode.
JAVA_ASCII_SHORTHAND = re.compile(r"(?<!\\)(?:\\\\)*\\[wWdDsSbB]")


@cache
def compiled(pattern: str) -> Matcher | None:
    """The model's pattern compiled to mean what it means in Java, or None when that is not possible.

    ``re`` in ASCII mode first (Java's ``\\w``, ``\\d``, ``\\s`` are ASCII). Unicode property
    classes (``\\p{L}``, ``\\p{Z}``, ``\\p{N}``: the tag patterns) only the `regex` package
    knows, and as Java does only without its ASCII flag, which would also make them ASCII; so
    a pattern mixing them with an ASCII shorthand is skipped, not misapplied.
    """
    try:
        with warnings.catch_warnings():
            # Java's set syntax ("[a-z&&[^b]]") compiles in Python with a FutureWarning and
            # another meaning: such a pattern is skipped, not misapplied.
            warnings.simplefilter("error", FutureWarning)
            return re.compile(pattern, re.ASCII)
    except FutureWarning:
        return None
    except re.error:
        pass
    if JAVA_ASCII_SHORTHAND.search(pattern):
        return None
    try:
        return cast(Matcher, regex.compile(pattern))
    except regex.error:
        return None


def quoted(value: Any, sensitive: bool = False) -> str:
    if sensitive:
        return "(a sensitive value)"
    text = str(value)
    return repr(text if len(text) <= QUOTED_CHARACTERS else text[:QUOTED_CHARACTERS] + "...")


def _size(value: Any, unit: str, shape: Shape, path: str) -> Iterator[str]:
    size = len(value)
    if "max" in shape.metadata and size > shape.metadata["max"]:
        yield f"{path}: {size} {unit}, the maximum is {shape.metadata['max']}"
    if "min" in shape.metadata and size < shape.metadata["min"]:
        yield f"{path}: {size} {unit}, the minimum is {shape.metadata['min']}"


@dataclass
class Walk:
    """One request's problems, and the patterns that could not be applied."""

    service: str
    problems: list[str] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)

    def value(self, value: Any, shape: Shape, path: str) -> None:
        kind = shape.type_name
        if isinstance(shape, StructureShape) and isinstance(value, Mapping):
            for name, member in value.items():
                if name in shape.members:
                    self.value(member, shape.members[name], f"{path}.{name}" if path else name)
        elif isinstance(shape, ListShape) and isinstance(value, list | tuple):
            self.problems += _size(value, "items", shape, path)
            for index, item in enumerate(value):
                self.value(item, shape.member, f"{path}[{index}]")
        elif isinstance(shape, MapShape) and isinstance(value, Mapping):
            self.problems += _size(value, "entries", shape, path)
            for key, item in value.items():
                self.value(key, shape.key, f"{path} key {key!r}")
                self.value(item, shape.value, f"{path}[{key!r}]")
        elif isinstance(shape, StringShape) and isinstance(value, str):
            self.string(value, shape, path)
        elif kind == "blob" and isinstance(value, bytes | bytearray | str):
            # botocore sends a str blob UTF-8 encoded.
            self.problems += _size(value.encode() if isinstance(value, str) else value, "bytes", shape, path)
        elif kind in NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
            if "max" in shape.metadata and value > shape.metadata["max"]:
                self.problems.append(f"{path}: {value} is above the maximum {shape.metadata['max']}")
            if "min" in shape.metadata and value < shape.metadata["min"]:
                self.problems.append(f"{path}: {value} is below the minimum {shape.metadata['min']}")
        # Anything else (booleans, timestamps, a value of the wrong type) is botocore's to judge.

    def string(self, value: str, shape: StringShape, path: str) -> None:
        text = quoted(value, bool(shape.metadata.get("sensitive")))
        length = f"{path}: {text} is {len(value)} characters"
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            self.problems.append(f"{length}, the maximum is {shape.metadata['max']}")
        if "min" in shape.metadata and len(value) < shape.metadata["min"]:
            self.problems.append(f"{length}, the minimum is {shape.metadata['min']}")
        enum = shape.enum
        if enum and value not in enum:
            self.problems.append(f"{path}: {text} is not one of {', '.join(map(repr, enum))}")
        pattern = shape.metadata.get("pattern")
        if pattern:
            regex = compiled(pattern)
            if regex is None:
                self.skipped.add(f"{self.service} {shape.name}")
            elif not regex.fullmatch(value):
                self.problems.append(f"{path}: {text} does not match the pattern {pattern!r}")

    def name_limit(self, value: Any, limit: NameLimit, path: str) -> None:
        """A plain name (an ARN is left to the model) against its documented limit."""
        if not isinstance(value, str) or value.startswith("arn:"):
            return
        if len(value) > limit.max:
            self.problems.append(
                f"{path}: {quoted(value)} is {len(value)} characters, the maximum is {limit.max} ({limit.source})"
            )
        elif not re.fullmatch(limit.pattern, value):
            self.problems.append(
                f"{path}: {quoted(value)} does not match the pattern {limit.pattern!r} ({limit.source})"
            )


def problems_of(service: str, operation: OperationModel, params: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """The constraints ``params`` break (each with its field path) and the patterns skipped."""
    walk = Walk(service)
    if operation.input_shape is not None:
        walk.value(params, operation.input_shape, "")
    for (limited_service, name, member), limit in NAME_LIMITS.items():
        if (limited_service, name) == (service, operation.name) and member in params:
            walk.name_limit(params[member], limit, member)
    return walk.problems, walk.skipped


@dataclass
class RequestConstraints:
    """Every deploy call checked, labelled with the Pulumi resource being created."""

    checked: int = 0
    violations: list[str] = field(default_factory=list)
    skipped_patterns: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # The runtime creates resources from several threads; each call is made in the
        # thread that is creating its resource.
        self._current = threading.local()

    def creating(self, resource: str) -> None:
        """Label the calls this thread makes from now on (``<type> "<pulumi name>"``)."""
        self._current.resource = resource

    def check(self, service: str, operation: OperationModel, params: Mapping[str, Any]) -> None:
        self.checked += 1
        problems, skipped = problems_of(service, operation, params)
        self.skipped_patterns |= skipped
        if problems:
            resource = getattr(self._current, "resource", "(no resource)")
            found = [f"request constraint: {resource} -> {service}.{operation.name} {p}" for p in problems]
            self.violations += found
            raise RequestConstraintError("\n".join(found))

    def watch(self, client: Any) -> Any:
        """Hook ``client`` so each call is checked before it is sent; a violation stops it as AWS would."""
        service = client.meta.service_model.service_name

        def before_parameter_build(params: Mapping[str, Any], model: OperationModel, **_: Any) -> None:
            self.check(service, model, params)

        client.meta.events.register(
            "before-parameter-build.*.*", before_parameter_build, unique_id="signal9-request-constraints"
        )
        return client

    def summary(self) -> str:
        skipped = (
            f"; {len(self.skipped_patterns)} patterns not applicable as Java applies them skipped: {', '.join(sorted(self.skipped_patterns))}"
            if self.skipped_patterns
            else ""
        )
        return (
            f"{self.checked} deploy calls checked against botocore's service models "
            f"(length, pattern, enum, numeric range, list and map sizes) and the documented name limits{skipped}"
        )
