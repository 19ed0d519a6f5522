"""A model of how long ``pulumi up`` takes: the critical path of the program's dependency graph.

Pulumi runs resource operations with unbounded parallelism by default, so a first deploy
lasts as long as its longest chain of resources that wait for one another. A resource waits
for every resource it depends on (explicit ``depends_on`` and the resources whose outputs
feed its inputs, as the mock runtime records them), for a custom-resource parent, and for
its provider. Each resource type's create time comes from ``signal9_tools/create_times.json``
(sourced there, see docs/deploy.md); a type without a figure gets the file's default and is
listed, so the model never silently calls something free.

A no-change update creates nothing: it is the engine's fixed cost (also in the data file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from signal9_tools.mockrun import ProgramRun, Resource

TIMES_FILE = Path(__file__).with_name("create_times.json")


@dataclass(frozen=True)
class CreateTime:
    seconds: float
    basis: str
    source: str


@dataclass(frozen=True)
class CreateTimes:
    types: Mapping[str, CreateTime]
    default: CreateTime
    no_change_seconds: float
    parallelism: str

    def of(self, resource: Resource) -> float:
        if not resource.custom:
            return 0.0  # a component is bookkeeping in the engine, no provider call
        return self.types.get(resource.type, self.default).seconds


def _create_time(entry: Mapping[str, Any]) -> CreateTime:
    return CreateTime(float(entry["seconds"]), entry["basis"], entry["source"])


@cache
def create_times(path: Path = TIMES_FILE) -> CreateTimes:
    data = json.loads(path.read_text())
    return CreateTimes(
        types={typ: _create_time(entry) for typ, entry in data["types"].items()},
        default=_create_time(data["default"]),
        no_change_seconds=float(data["engine"]["noChangeSeconds"]),
        parallelism=data["parallelism"]["value"],
    )


@dataclass(frozen=True)
class Step:
    name: str
    type: str
    start: float
    finish: float


@dataclass(frozen=True)
class DeployModel:
    stack: str
    steps: Mapping[str, Step]
    critical_path: tuple[Step, ...]
    unknown_types: frozenset[str]
    no_change_seconds: float

    @property
    def first_deploy_seconds(self) -> float:
        return self.critical_path[-1].finish if self.critical_path else 0.0


def _provider_name(reference: str | None) -> str | None:
    # A provider reference is "<provider URN>::<provider id>"; the URN ends in its logical name.
    return reference.split("::")[-2] if reference else None


def waits_for(resource: Resource, by_name: Mapping[str, Resource]) -> set[str]:
    """The resources ``resource``'s create waits for."""
    before = set(resource.dependencies)
    parent = by_name.get(resource.parent or "")
    if parent is not None and parent.custom:
        before.add(parent.name)  # a child registers only once its custom parent exists
    provider = _provider_name(resource.provider)
    if provider:
        before.add(provider)
    return before & by_name.keys()


def model(plan: ProgramRun, times: CreateTimes | None = None) -> DeployModel:
    """Earliest start and finish of every resource with unbounded parallelism, and the longest chain."""
    times = times or create_times()
    by_name = {r.name: r for r in plan.resources}
    if len(by_name) != len(plan.resources):
        raise ValueError("resource names are not unique: the dependency graph would be ambiguous")
    steps: dict[str, Step] = {}
    previous: dict[str, str | None] = {}

    def schedule(name: str, visiting: frozenset[str] = frozenset()) -> Step:
        if name in steps:
            return steps[name]
        if name in visiting:
            raise ValueError(f"dependency cycle through {name}")
        resource = by_name[name]
        waits = [schedule(other, visiting | {name}) for other in sorted(waits_for(resource, by_name))]
        latest = max(waits, key=lambda step: step.finish, default=None)
        start = latest.finish if latest else 0.0
        steps[name] = Step(name, resource.type, start, start + times.of(resource))
        previous[name] = latest.name if latest else None
        return steps[name]

    for resource in plan.resources:
        schedule(resource.name)
    last: str | None = max(steps.values(), key=lambda step: step.finish).name if steps else None
    chain: list[Step] = []
    while last is not None:
        if steps[last].finish > steps[last].start:  # components on the way take no time
            chain.append(steps[last])
        last = previous[last]
    unknown = frozenset(r.type for r in plan.resources if r.custom and r.type not in times.types)
    return DeployModel(plan.stack, steps, tuple(reversed(chain)), unknown, times.no_change_seconds)


def render(result: DeployModel) -> str:
    times = create_times()
    lines = [
        f"signal9 stack {result.stack!r}: modelled deploy time (Pulumi parallelism: {times.parallelism})",
        f"  first deploy:       {result.first_deploy_seconds:5.0f} s  (critical path below)",
        f"  no-change update:   {result.no_change_seconds:5.0f} s  (engine overhead only; nothing is created)",
        "",
        f"  {'START':>6}  {'END':>6}  RESOURCE",
    ]
    lines += [f"  {s.start:5.0f}s  {s.finish:5.0f}s  {s.name} ({s.type})" for s in result.critical_path]
    if result.unknown_types:
        lines.append(
            f"\n  no sourced figure (default {times.default.seconds:.0f} s): {', '.join(sorted(result.unknown_types))}"
        )
    lines.append("\n  figures and sources: signal9_tools/create_times.json, docs/deploy.md 'How long a deploy takes'")
    return "\n".join(lines)
