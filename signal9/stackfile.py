"""``Pulumi.<stack>.yaml`` read offline, as Pulumi hands its config to the program.

Part of the model (the config contract reads it): it imports neither Pulumi nor any tool,
so ``signal9.config`` and the AWS-facing commands can use it without loading the mock runtime.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from signal9.catalog import PROJECT
from signal9.errors import OperatorError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "us-east-1"  # a stack file without aws:region
SECRET_MASK = "[secret]"
BOOTSTRAP = "bootstrap"
BOOTSTRAP_PROJECT = f"{PROJECT}-{BOOTSTRAP}"
# Pulumi project name -> its directory (Pulumi.yaml, __main__.py and the stack files).
PROJECT_DIRECTORIES = {PROJECT: ROOT, BOOTSTRAP_PROJECT: ROOT / BOOTSTRAP}


# The top-level keys of a Pulumi stack file (https://www.pulumi.com/docs/iac/concepts/projects/stack-settings-file/):
# anything else is a typo (``confg:``) that would otherwise plan with every default.
STACK_FILE_KEYS = frozenset({"config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"})


class StackFileError(OperatorError):
    """A stack file that is not valid YAML, not a stack file's shape, or names no AWS region."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise StackFileError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_stack_document(path: Path) -> dict[str, Any]:
    """A stack file's YAML document, checked for the shape Pulumi reads (one line per error, naming the file)."""
    try:
        document = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader subclass: safe
    except StackFileError as error:
        raise StackFileError(f"{path.name}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or error
        raise StackFileError(f"{path.name}: not valid YAML{where}: {problem}") from None
    if document is None:
        raise StackFileError(f"{path.name} is empty: a stack file holds a config: mapping (see docs/configuration.md)")
    if not isinstance(document, dict):
        raise StackFileError(
            f"{path.name}: must be a mapping with a config: key, not a {type(document).__name__} (see docs/configuration.md)"
        )
    unknown = sorted(set(document) - STACK_FILE_KEYS)
    if unknown:
        raise StackFileError(
            f"{path.name}: unknown top-level key {', '.join(map(repr, unknown))} "
            f"(a stack file may hold {', '.join(sorted(STACK_FILE_KEYS))})"
        )
    if not isinstance(document.get("config") or {}, dict):
        raise StackFileError(f"{path.name}: config: must be a mapping of key: value")
    return document


def project_directory(project: str) -> Path:
    try:
        return PROJECT_DIRECTORIES[project]
    except KeyError:
        raise FileNotFoundError(f"unknown project {project!r} (projects: {', '.join(PROJECT_DIRECTORIES)})") from None


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def stack_document(stack: str, project: str = PROJECT) -> tuple[Path, dict[str, Any]]:
    """Where ``Pulumi.<stack>.yaml`` of ``project`` is, and its checked YAML document."""
    if project == PROJECT:
        path = stack_file(stack)
        if not path.exists():
            raise FileNotFoundError(f"{path.name} not found (stacks: dev, staging, prod)")
    else:
        path = project_directory(project) / f"Pulumi.{stack}.yaml"
        if not path.exists():
            stacks = sorted(
                p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in path.parent.glob("Pulumi.*.yaml")
            )
            raise FileNotFoundError(f"{path.relative_to(ROOT)} not found (stacks: {', '.join(stacks)})")
    return path, read_stack_document(path)


def read_stack_config(stack: str, project: str = PROJECT) -> dict[str, str]:
    """A stack file's config as Pulumi hands it to the program: JSON text for objects.

    Encrypted (``secure:``) values cannot be decrypted offline; they read as ``"[secret]"``.
    """
    path, document = stack_document(stack, project)

    def decode(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"secure"}:
            return SECRET_MASK
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    config: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        value = decode(value)
        config[key] = value if isinstance(value, str) else json.dumps(value)
    config_region(config, path.name)  # an unknown region fails here, before anything is planned
    return config


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every AWS partition, from the endpoint data botocore ships (offline).

    Read as a file rather than through botocore, which ``signal9 plan`` does not load.
    """
    spec = importlib.util.find_spec("botocore")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise RuntimeError("botocore is not installed: its partitions.json lists the AWS regions")
    partitions = json.loads((Path(next(iter(locations))) / "data" / "partitions.json").read_text())["partitions"]
    # aws-global and the like are endpoint aliases, not regions a stack can deploy to.
    return frozenset(r for p in partitions for r in p["regions"] if not r.endswith("-global"))


def config_region(values: Mapping[str, str], source: str = "the stack config") -> str:
    """The ``aws:region`` of a flat Pulumi config map, which must name an AWS region."""
    region = values.get("aws:region", DEFAULT_REGION)
    if region not in aws_regions():
        raise StackFileError(
            f"{source}: aws:region = {region!r}: not an AWS region (e.g. {DEFAULT_REGION}; botocore lists "
            f"{len(aws_regions())})"
        )
    return region


def stack_region(stack: str) -> str:
    """The AWS region ``Pulumi.<stack>.yaml`` deploys to."""
    return config_region(read_stack_config(stack))
