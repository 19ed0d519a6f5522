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

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "us-east-1"  # a stack file without aws:region
SECRET_MASK = "[secret]"


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str) -> dict[str, str]:
    """A stack file's config as Pulumi hands it to the program: JSON text for objects.

    Encrypted (``secure:``) values cannot be decrypted offline; they read as ``"[secret]"``.
    """
    path = stack_file(stack)
    if not path.exists():
        raise FileNotFoundError(f"{path.name} not found (stacks: dev, staging, prod)")
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
