"""What the functions run on, declared once: the Lambda runtime, its architecture and the handlers' packages.

``pyproject.toml`` states it: ``[tool.signal9.lambda]`` names the runtime, the architecture and the
platform the layer's wheels are installed for; the ``lambda`` dependency group names the packages
the handlers import from outside ``functions/`` (Powertools, pydantic, the AWS SDK), pinned
exactly. ``uv.lock`` resolves them, with everything they need, once for the whole project, so the
layer that ``pulumi up`` deploys (``signal9_tools.layer`` builds it from the lock), the tests and
the local emulator all see the same versions. Nothing else names a runtime or a version: the
program, ``signal9 plan`` and the tests read them here. Standard library only, so the Makefile can
ask before any dependency is installed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "uv.lock"
LAYER_GROUP = "lambda"
# Where `make layer` (signal9_tools.layer) writes the layer and its manifest; not committed.
LAYER_DIRECTORY = ROOT / "build" / "lambda-layer"
# The packages `signal9 plan --json` reports per function, by role.
POWERTOOLS_PACKAGE = "aws-lambda-powertools"
SDK_PACKAGE = "boto3"


class RuntimeDeclarationError(ValueError):
    """pyproject.toml or uv.lock does not declare the handlers' runtime as this module expects."""


class LayerNotBuiltError(RuntimeError):
    """The layer archive is missing, or was built from another uv.lock or runtime."""


@dataclass(frozen=True)
class LambdaRuntime:
    runtime: str  # AWS's identifier, e.g. python3.13
    architecture: str  # arm64 or x86_64
    platform: str  # uv's --python-platform for the layer's wheels

    @property
    def python_version(self) -> str:
        """``3.13`` for ``python3.13``: the interpreter the handlers must be tested on."""
        return self.runtime.removeprefix("python")

    @property
    def layer_stem(self) -> str:
        return f"{self.runtime}-{self.architecture}"


def normalise_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


@functools.cache
def declared() -> LambdaRuntime:
    """The runtime ``[tool.signal9.lambda]`` declares."""
    try:
        table = _pyproject()["tool"]["signal9"]["lambda"]
        return LambdaRuntime(str(table["runtime"]), str(table["architecture"]), str(table["platform"]))
    except KeyError as missing:
        raise RuntimeDeclarationError(f"pyproject.toml: [tool.signal9.lambda] lacks {missing}") from None


def layer_requirements() -> dict[str, str]:
    """The ``lambda`` group as declared: normalised package name -> exact version (``==`` only)."""
    pinned: dict[str, str] = {}
    for requirement in _pyproject()["dependency-groups"][LAYER_GROUP]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^,;\s]+)", requirement.strip())
        if not match:
            raise RuntimeDeclarationError(
                f"pyproject.toml: dependency-groups.{LAYER_GROUP} entry {requirement!r} is not pinned with =="
            )
        pinned[normalise_name(match.group(1))] = match.group(3)
    return pinned


@functools.cache
def locked_versions() -> dict[str, tuple[str, ...]]:
    """Every package uv.lock pins: normalised name -> its versions (more than one where markers fork)."""
    versions: dict[str, tuple[str, ...]] = {}
    for package in tomllib.loads(LOCK.read_text()).get("package", []):
        if "version" in package:  # the project itself has none
            name = normalise_name(package["name"])
            versions[name] = (*versions.get(name, ()), package["version"])
    return versions


def handler_versions() -> dict[str, str]:
    """The ``lambda`` group's packages, each at the one version uv.lock pins (an error if they disagree)."""
    locked = locked_versions()
    for name, version in layer_requirements().items():
        if locked.get(name) != (version,):
            raise RuntimeDeclarationError(
                f"pyproject.toml pins {name}=={version} for the handlers but uv.lock has {locked.get(name)}: run uv lock"
            )
    return layer_requirements()


def lock_digest() -> str:
    """SHA-256 of uv.lock: the layer manifest records the lock it was built from."""
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


@dataclass(frozen=True)
class LayerBuild:
    """A built layer: its archive and what its manifest says it holds."""

    archive: Path
    packages: dict[str, str]  # normalised name -> version, every distribution in the archive
    archive_sha256: str
    bytecode: bool  # compiled for the runtime's Python (faster cold starts)


def layer_paths(runtime: LambdaRuntime | None = None) -> tuple[Path, Path]:
    """The layer archive and its manifest for ``runtime`` (default: the declared one)."""
    stem = (runtime or declared()).layer_stem
    return LAYER_DIRECTORY / f"{stem}.zip", LAYER_DIRECTORY / f"{stem}.json"


def layer_packages(archive: Path) -> dict[str, str]:
    """The distributions the manifest beside ``archive`` lists ({} when there is none)."""
    manifest = archive.with_suffix(".json")
    return dict(json.loads(manifest.read_text())["packages"]) if manifest.is_file() else {}


def built_layer() -> LayerBuild:
    """The layer ``make layer`` built, checked against the declared runtime and the current uv.lock."""
    runtime = declared()
    archive, manifest_path = layer_paths(runtime)
    remedy = "run `make layer` (it builds the handlers' layer from uv.lock)"
    shown = archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive
    if not archive.is_file() or not manifest_path.is_file():
        raise LayerNotBuiltError(f"{shown} is not built: {remedy}")
    manifest = json.loads(manifest_path.read_text())
    expected = {"runtime": runtime.runtime, "architecture": runtime.architecture, "lock": lock_digest()}
    found = {key: manifest.get(key) for key in expected}
    if found != expected:
        stale = ", ".join(k for k in expected if found[k] != expected[k])
        raise LayerNotBuiltError(f"{shown} was built for another {stale}: {remedy}")
    return LayerBuild(archive, dict(manifest["packages"]), str(manifest["archiveSha256"]), bool(manifest["bytecode"]))


def installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def running_summary() -> str:
    """One line: the Python and handler packages this process runs, against what Lambda runs."""
    declared_runtime = declared()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    packages = ", ".join(
        f"{name} {installed_version(name) or 'missing'}"
        + ("" if installed_version(name) == version else f" (layer: {version})")
        for name, version in handler_versions().items()
    )
    python = f"Python {platform.python_version()}"
    if here != declared_runtime.python_version:
        python += (
            f", NOT Lambda's {declared_runtime.runtime} (no Python {declared_runtime.python_version} interpreter "
            "was found for .venv)"
        )
    else:
        python += f" (Lambda: {declared_runtime.runtime} {declared_runtime.architecture})"
    return f"handlers run on {python} with {packages}"
