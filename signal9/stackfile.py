"""``Pulumi.<stack>.yaml`` read offline, as Pulumi hands its config to the program.

Part of the model (the config contract reads it): it imports neither Pulumi nor any tool,
so ``signal9.config`` and the AWS-facing commands can use it without loading the mock runtime.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from signal9.catalog import PROJECT

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "us-east-1"  # a stack file without aws:region
SECRET_MASK = "[secret]"
BOOTSTRAP = "bootstrap"
BOOTSTRAP_PROJECT = f"{PROJECT}-{BOOTSTRAP}"
# Pulumi project name -> its directory (Pulumi.yaml, __main__.py and the stack files).
PROJECT_DIRECTORIES = {PROJECT: ROOT, BOOTSTRAP_PROJECT: ROOT / BOOTSTRAP}


def project_directory(project: str) -> Path:
    try:
        return PROJECT_DIRECTORIES[project]
    except KeyError:
        raise FileNotFoundError(f"unknown project {project!r} (projects: {', '.join(PROJECT_DIRECTORIES)})") from None


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project: str = PROJECT) -> dict[str, str]:
    """A stack file's config as Pulumi hands it to the program: JSON text for objects.

    Encrypted (``secure:``) values cannot be decrypted offline; they read as ``"[secret]"``.
    """
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
    document = yaml.safe_load(path.read_text()) or {}

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
    return config


def config_region(values: Mapping[str, str]) -> str:
    """The ``aws:region`` of a flat Pulumi config map."""
    return values.get("aws:region", DEFAULT_REGION)


def stack_region(stack: str) -> str:
    """The AWS region ``Pulumi.<stack>.yaml`` deploys to."""
    return config_region(read_stack_config(stack))
