"""``Pulumi.<stack>.yaml`` read offline, as Pulumi hands its config to the program.

Part of the model (the config contract reads it): it imports neither Pulumi nor any tool,
so ``signal9.config`` and the AWS-facing commands can use it without loading the mock runtime.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
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


# The namespaces a stack file may use besides the project's own: the AWS provider's settings
# (checked against pulumi-aws's list) and Pulumi's own (https://www.pulumi.com/docs/iac/concepts/config/).
AWS_NAMESPACE = "aws"
PULUMI_NAMESPACE = "pulumi"
PULUMI_KEYS = frozenset({"tags", "disable-default-providers", "autonaming"})
# Project keys that hold credentials: the only ones a stack file may encrypt (``secure:``).
CREDENTIAL_KEYS = {PROJECT: frozenset({"secrets"}), BOOTSTRAP_PROJECT: frozenset[str]()}

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


def is_encrypted(value: Any) -> bool:
    """A ``secure:`` value (``pulumi config set --secret``), anywhere in a config value."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(is_encrypted(v) for v in value.values())
    return isinstance(value, list) and any(is_encrypted(v) for v in value)


def read_stack_config(stack: str, project: str = PROJECT) -> dict[str, str]:
    """A stack file's config as Pulumi hands it to the program: JSON text for objects.

    As the Pulumi CLI would: each key is checked against the namespaces the project reads and
    the types ``Pulumi.yaml`` declares, and a declared key the file leaves out gets its default.
    Encrypted (``secure:``) values cannot be decrypted offline; they read as ``"[secret]"``.
    """
    path, document = stack_document(stack, project)
    raw: dict[str, Any] = dict(document.get("config") or {})
    check_keys(raw, project, path.name)
    declared = project_config(project)
    for key, declaration in declared.items():
        if key in raw:
            declaration.check(raw[key], path.name)
        elif declaration.has_default:
            raw[key] = declaration.default

    def decode(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"secure"}:
            return SECRET_MASK
        if isinstance(value, dict):
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    config: dict[str, str] = {}
    for key, value in raw.items():
        value = decode(value)
        config[key] = value if isinstance(value, str) else json.dumps(value)
    # The region is checked by the tooling (config_region: botocore's region list) and, under
    # `pulumi up`, by the AWS provider: the deploy environment has no botocore.
    return config


def check_keys(config: Mapping[str, Any], project: str, source: str) -> None:
    """Every key is in a namespace the project reads, an AWS key is a provider setting, and only
    credentials are encrypted: a misspelt namespace (``signal0:``, ``aws:regoin``) would otherwise
    be ignored and the stack planned with the default."""
    namespaces = (project, AWS_NAMESPACE, PULUMI_NAMESPACE)
    for key, value in config.items():
        namespace, _, name = str(key).rpartition(":")
        if not namespace:
            raise StackFileError(f"{source}: {key}: a config key is namespace:name, e.g. {project}:{key}")
        if namespace not in namespaces:
            guess = difflib.get_close_matches(namespace, namespaces, n=1)
            hint = f"; did you mean {guess[0]}:{name}?" if guess else ""
            raise StackFileError(
                f"{source}: {key}: unknown namespace {namespace!r} (project {project} reads "
                f"{', '.join(f'{n}:*' for n in namespaces)}){hint}"
            )
        known = {AWS_NAMESPACE: aws_provider_keys(), PULUMI_NAMESPACE: PULUMI_KEYS}.get(namespace)
        if known is not None and name not in known:
            guess = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {namespace}:{guess[0]}?" if guess else ""
            what = "an AWS provider setting (pulumi-aws)" if namespace == AWS_NAMESPACE else "a Pulumi setting"
            raise StackFileError(f"{source}: {key}: not {what}{hint}")
        if namespace == project and name not in CREDENTIAL_KEYS.get(project, ()) and is_encrypted(value):
            where = (
                f" ({project}:{'/'.join(sorted(CREDENTIAL_KEYS[project]))} holds them)"
                if CREDENTIAL_KEYS.get(project)
                else ""
            )
            raise StackFileError(
                f"{source}: {key} is encrypted (secure:), but it is a setting, not a credential{where}: "
                f"set it in plain text with `pulumi config set {key} <value> -s {source.removeprefix('Pulumi.').removesuffix('.yaml')}`"
            )


@functools.cache
def aws_provider_keys() -> frozenset[str]:
    """The AWS provider's configuration keys (``aws:region``...), from the installed pulumi-aws.

    Read as a file (the names its ``config`` module asks Pulumi for), like the regions: the
    offline commands load neither Pulumi nor pulumi-aws to read a stack file.
    """
    spec = importlib.util.find_spec("pulumi_aws")
    locations = spec.submodule_search_locations if spec else None
    if not locations:
        raise RuntimeError("pulumi_aws is not installed: its config module lists the aws:* settings")
    source = (Path(next(iter(locations))) / "config" / "vars.py").read_text()
    return frozenset(re.findall(r"__config__\.get\w*\('(\w+)'\)", source))


# --- the project's config declarations (Pulumi.yaml ``config:``) ----------------------------------

# What a declaration may say (pulumi/pulumi sdk/go/common/workspace/project.json, configTypeDeclaration),
# and the types Pulumi checks a stack value against (``object`` since Pulumi 3.187; the CI pins 3.272).
DECLARATION_FIELDS = frozenset({"type", "items", "description", "secret", "default", "value"})
CONFIG_TYPES = ("string", "integer", "boolean", "array", "object")
INTEGER_TEXT = re.compile(r"[+-]?\d+")  # what Go's strconv.Atoi accepts


def _scalar_text(value: Any) -> str:
    """A YAML scalar as Pulumi keeps it in a stack's config (text)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _conforms(typ: str, items: Mapping[str, Any] | None, value: Any, scalar_as_text: bool) -> bool:
    """Pulumi's ``ValidateConfigValue``: a stack value is the declared type.

    A top-level scalar reaches Pulumi as text (so ``"14"`` is an integer); an element of an
    array is a JSON value.
    """
    if scalar_as_text and not isinstance(value, dict | list):
        value = _scalar_text(value)
    if typ == "string":
        return isinstance(value, str)
    if typ == "integer":
        if isinstance(value, str):
            return INTEGER_TEXT.fullmatch(value) is not None
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if typ == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if typ == "object":
        return isinstance(value, dict)
    return (
        isinstance(value, list)
        and items is not None
        and all(_conforms(items["type"], items.get("items"), item, False) for item in value)
    )


def _type_name(typ: str, items: Mapping[str, Any] | None) -> str:
    return f"array<{_type_name(items['type'], items.get('items'))}>" if items else typ


@dataclass(frozen=True)
class Declaration:
    """One key of ``Pulumi.yaml``'s ``config:``, checked as the Pulumi CLI checks it."""

    key: str
    type: str | None
    items: Mapping[str, Any] | None
    default: Any
    has_default: bool

    def check(self, value: Any, source: str) -> None:
        """A stack value of another type than declared is refused, as ``pulumi up`` refuses it."""
        if self.type is None or is_encrypted(value):  # Pulumi checks a secret once decrypted
            return
        if not _conforms(self.type, self.items, value, True):
            shown = json.dumps(value) if isinstance(value, dict | list) else repr(_scalar_text(value))
            raise StackFileError(
                f"{source}: {self.key} = {shown}: must be of type {_type_name(self.type, self.items)} "
                "(declared in Pulumi.yaml; `pulumi up` refuses it too)"
            )


def _declaration(project: str, key: str, spec: Any) -> Declaration:
    """A ``config:`` entry, held to what Pulumi's ``Project.Validate`` accepts."""
    where = f"Pulumi.yaml: config.{key}"
    full = key if ":" in key else f"{project}:{key}"
    ours = full.startswith(f"{project}:")
    if not isinstance(spec, dict):  # Pulumi's short form: a value (other namespace) or a default
        return Declaration(full, None, None, spec, True)
    unknown = sorted(set(spec) - DECLARATION_FIELDS)
    if unknown:
        raise StackFileError(
            f"{where}: unknown attribute {', '.join(unknown)} (one of {', '.join(sorted(DECLARATION_FIELDS))})"
        )
    if "default" in spec and "value" in spec:
        raise StackFileError(f"{where}: cannot have both a 'default' and 'value' attribute")
    typ, items = spec.get("type"), spec.get("items")
    if typ is not None and typ not in CONFIG_TYPES:
        raise StackFileError(f"{where}: type {typ!r} is not one of {', '.join(CONFIG_TYPES)}")
    if not ours:
        if typ is not None or "default" in spec or "value" not in spec:
            raise StackFileError(f"{where}: not namespaced by the project: give only a 'value', no type or default")
        return Declaration(full, None, None, spec["value"], True)
    if typ == "array" and not isinstance(items, dict):
        raise StackFileError(f"{where}: declares an array but not the type of its items ('items')")
    if typ is not None and "default" in spec and not _conforms(typ, items, spec["default"], False):
        raise StackFileError(f"{where}: the default is not of the declared type {_type_name(typ, items)}")
    has_default = "default" in spec or "value" in spec
    return Declaration(full, typ, items, spec.get("default", spec.get("value")), has_default)


@functools.cache
def project_config(project: str = PROJECT) -> dict[str, Declaration]:
    """The config keys ``Pulumi.yaml`` of ``project`` declares, by full key (``signal9:timezone``)."""
    document = yaml.safe_load((project_directory(project) / "Pulumi.yaml").read_text()) or {}
    entries = document.get("config") or {}
    if not isinstance(entries, dict):
        raise StackFileError("Pulumi.yaml: config: must be a mapping of key: declaration")
    declarations = [_declaration(project, str(key), spec) for key, spec in entries.items()]
    return {d.key: d for d in declarations}


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
