"""Run the real Pulumi program under Pulumi's mock runtime and record what it registers.

This is what ``signal9 plan`` and the test suite use: no Pulumi CLI, no provider plugin,
no AWS account. Each registered resource is recorded with its type, logical name, parent,
inputs exactly as the provider would receive them (camelCase keys) and the resource
options that matter for review (protect, retain-on-delete, dependencies).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import runpy
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.rpc import deserialize_properties
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from signal9 import runtime
from signal9.catalog import PROJECT
from signal9.stackfile import (
    ROOT,
    SECRET_MASK,
    config_region,
    project_directory,
    read_stack_config,
)
from signal9_tools.identifiers import ACCOUNT_ID, mock_state

PROGRAM = ROOT / "__main__.py"
FUNCTION = "aws:lambda/function:Function"
LAYER_VERSION = "aws:lambda/layerVersion:LayerVersion"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIGNATURE) == "1b47061264138c4ac30d75fd1eb44270"


def reveal(value: Any) -> Any:
    """Inputs with Pulumi's secret wrappers removed (for code that must use the value)."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def describe_asset(value: pulumi.Asset | pulumi.Archive) -> dict[str, Any]:
    """An asset or archive as JSON data, in Pulumi's own wire shape (``path``/``text``/``uri``/``assets``).

    File paths are given relative to the project, so the plan reads the same from any directory.
    """
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {name: describe_asset(value.assets[name]) for name in sorted(value.assets)}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        path = Path(value.path).resolve()
        return {"path": path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"uri": value.uri}
    raise TypeError(f"unsupported asset {value!r}")


def mask(value: Any) -> Any:
    """Inputs with every secret replaced by ``"[secret]"`` (for anything printed)."""
    if is_secret(value):
        return SECRET_MASK
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return describe_asset(value)
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def _name_of(urn: str) -> str | None:
    return urn.rsplit("::", 1)[-1] if urn else None


def _parent_name(urn: str) -> str | None:
    """The parent's logical name; None for the implicit stack resource."""
    if not urn or urn.split("::")[2] == ROOT_STACK_TYPE:
        return None
    return _name_of(urn)


@dataclass
class Resource:
    """One resource the program registered."""

    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: tuple[str, ...]
    provider: str | None
    # Pulumi's identity for the resource, as the engine forms it, and the old ones it answers to.
    urn: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def plain_inputs(self) -> dict[str, Any]:
        plain: dict[str, Any] = reveal(self.inputs)
        return plain


@dataclass
class ProgramRun:
    """Everything one run of the program registered and exported."""

    stack: str
    region: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    project: str = PROJECT

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children(self, parent: str) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent]

    def to_json(self) -> dict[str, Any]:
        """The stable ``signal9 plan --json`` document (secrets masked).

        Resources are sorted by type and name: the program registers them from several threads,
        so registration order differs from run to run, and two plans must compare line by line.
        """
        ordered = sorted(self.resources, key=lambda r: (r.type, r.name))
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [
                {
                    "type": r.type,
                    "name": r.name,
                    "parent": r.parent,
                    "urn": r.urn,
                    "aliases": list(r.aliases),
                    "inputs": mask(r.inputs),
                }
                for r in ordered
            ],
            "outputs": mask(self.outputs),
            "functions": self.function_runtimes(),
        }

    def function_runtimes(self) -> dict[str, dict[str, Any]]:
        """Per Lambda function as deployed: runtime, architecture, layers and the layer's Powertools and SDK.

        A layer the plan publishes itself is read from the manifest beside its archive (``make layer``);
        the versions of any other layer are unknown offline (None).
        """
        packages = {
            mock_state(r.type, r.name, r.plain_inputs, self.region)[1]["arn"]: runtime.layer_packages(
                ROOT / r.plain_inputs["code"].path
            )
            for r in self.of_type(LAYER_VERSION)
        }
        described = {}
        for function in self.of_type(FUNCTION):
            inputs = function.plain_inputs
            layers = list(inputs.get("layers") or [])
            found = [packages.get(arn, {}) for arn in layers]
            described[inputs["name"]] = {
                "runtime": inputs["runtime"],
                "architecture": (inputs.get("architectures") or ["x86_64"])[0],
                "layers": layers,
                "powertoolsVersion": next((p[runtime.POWERTOOLS_PACKAGE] for p in found if p), None),
                "sdkVersion": next((p[runtime.SDK_PACKAGE] for p in found if p), None),
            }
        return dict(sorted(described.items()))


class AwsLikeMocks(pulumi.runtime.Mocks):
    """Hands back the ids and ARNs AWS would assign (see ``signal9_tools.identifiers``)."""

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if args.typ.startswith("pulumi:providers:") or not args.custom:
            return f"{args.name}-id", dict(args.inputs)
        return mock_state(args.typ, args.name, reveal(args.inputs), self.region)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/signal9", "userId": "AIDA"}, []
        if args.token in ("aws:index/getRegion:getRegion", "aws:index/region:Region"):
            return {"name": self.region, "region": self.region, "id": self.region}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        raise NotImplementedError(f"the mock runtime has no answer for invoke {args.token}")


def engine_urn(stack: str, project: str, parent_urn: str, typ: str, name: str) -> str:
    """The URN the Pulumi engine gives a resource: its parent's whole type chain, the root stack left out.

    (pulumi/pulumi sdk/go/common/resource/urn/urn.go ``New``; the mock monitor keeps only the
    parent's last type and writes the stack's.)
    """
    parent_type = parent_urn.split("::")[2] if parent_urn else ""
    qualified = typ if parent_type in ("", ROOT_STACK_TYPE) else f"{parent_type}${typ}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock resource monitor that also records parents, URNs, aliases and resource options."""

    def __init__(self, mocks: pulumi.runtime.Mocks, run: ProgramRun) -> None:
        super().__init__(mocks)
        self.run = run
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return engine_urn(self.run.stack, self.run.project, parent, type_, name)

    def alias_urns(self, request: Any) -> tuple[str, ...]:
        """Each alias as the URN the engine resolves it to (a spec's unset parts are the resource's own)."""
        urns = []
        for alias in request.aliases:
            if alias.urn:
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(
                engine_urn(
                    spec.stack or self.run.stack,
                    spec.project or self.run.project,
                    parent,
                    spec.type or request.type,
                    spec.name or request.name,
                )
            )
        return tuple(urns)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type != ROOT_STACK_TYPE:
            resource = Resource(
                type=request.type,
                name=request.name,
                parent=_parent_name(request.parent),
                inputs=deserialize_properties(request.object),
                custom=bool(request.custom),
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                dependencies=tuple(filter(None, map(_name_of, request.dependencies))),
                provider=request.provider or None,
                urn=self.make_urn(request.parent, request.type, request.name),
                aliases=self.alias_urns(request),
            )
            with self._lock:
                self.run.resources.append(resource)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


# What the program logs through pulumi.log (e.g. deploy-time warnings) under the mock runtime.
PROGRAM_LOG = logging.getLogger("signal9.program")


class _WarningCollector(logging.Handler):
    def __init__(self, run: ProgramRun) -> None:
        super().__init__(logging.WARNING)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.warnings.append(record.getMessage())


def run_program(
    stack: str,
    config: Mapping[str, str] | None = None,
    mocks_factory: Any = None,
    secret_keys: list[str] | None = None,
    project: str = PROJECT,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under mocks and return what it registered.

    ``config`` replaces the stack file's values (tests use it to try bad or secret values);
    ``mocks_factory(region)`` swaps the identifier source (the local emulator uses moto).
    """
    values = dict(read_stack_config(stack, project) if config is None else config)
    region = config_region(values, f"Pulumi.{stack}.yaml" if config is None else "the stack config")
    run = ProgramRun(stack=stack, region=region, project=project)
    mocks = (mocks_factory or AwsLikeMocks)(region)

    pulumi.runtime.set_all_config(values, secret_keys or [])
    settings.set_root_resource(None)  # type: ignore[arg-type]
    collector = _WarningCollector(run)
    PROGRAM_LOG.addHandler(collector)

    def program() -> None:
        runpy.run_path(str(project_directory(project) / PROGRAM.name), run_name="__main__")

    try:
        with _no_source_positions():  # set_mocks registers the root stack resource, the program the rest
            pulumi.runtime.set_mocks(
                mocks,
                project=project,
                stack=stack,
                preview=False,
                monitor=RecordingMonitor(mocks, run),
                logger=PROGRAM_LOG,
            )
            settings.SETTINGS.rpc_manager.clear()
            # A failed run leaves its finished registrations, errors included, here (set_mocks does not
            # reset it): the next run would await them and raise the failed run's errors as its own.
            settings.SETTINGS.outputs.clear()
            _sync_await(run_pulumi_func(program))
    except Exception:
        _quiet_leftover_futures()
        raise
    finally:
        PROGRAM_LOG.removeHandler(collector)
    root = settings.get_root_resource()
    exported = getattr(root, "outputs", {}) or {}
    run.outputs = {name: _resolve(value) for name, value in exported.items()}
    return run


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """The SDK sends the engine each resource's source position and stack trace; no mock monitor reads them.

    Finding them is two ``traceback.extract_stack()`` calls per resource (a stat and a source line
    per frame of the caller's stack): six runs of the three stacks from a test took 2.92 s with
    them, 2.56 s without. They are left out while the program registers; what is registered is
    otherwise the same, and ``pulumi up`` (the real SDK, a real engine) is untouched.
    """
    found = pulumi_resource._get_stack_trace
    pulumi_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = found


def _quiet_leftover_futures() -> None:
    """A failed run's error is raised once, by ``run_program``; its other registrations fail too.

    Each of those futures holds the same error and asyncio logs it again when the future is
    collected ("Future exception was never retrieved", dozens of tracebacks per failed run, long
    after the run). Those repeats are dropped on the run's loop; every other loop message stays.
    """
    loop = asyncio.get_event_loop()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != "Future exception was never retrieved":
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = _sync_await(output.future())
    return (
        {SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270", "value": resolved}
        if _sync_await(output.is_secret())
        else resolved
    )
