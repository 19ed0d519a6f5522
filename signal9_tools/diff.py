"""``signal9 diff``: what a change does to a stack, from two offline plans.

Plans the stack at a base git ref (default: the merge base with main) and in the working
tree, matches resources by type and logical name, and prints what would be created (``+``),
deleted (``-``), updated in place (``~``) or replaced (``+-``), Pulumi's conventions, with each
changed input. Inputs come from ``signal9 plan --json``, so secrets are already masked.

Replacement is decided only for the stateful types (``STATEFUL``): a change to one of their
replace-triggering inputs (the ones the AWS provider cannot update in place, e.g. a table's
name or key schema), or a new logical name for the only removed resource of that type under
the same parent (a rename, which Pulumi carries out as delete and create). Those, and
deleted stateful resources, are listed first: they lose data unless it is retained or moved.
Other resources show as updates even where the provider would replace them (nothing is lost).

The base is planned in a subprocess with this virtualenv's Python from a ``git archive`` of the
ref in a temporary directory, so its own program, catalog and stack file are used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from signal9 import runtime
from signal9.errors import OperatorError
from signal9.stackfile import ROOT
from signal9_tools.cli import add_stack_argument
from signal9_tools.layer import find_uv

# Resources whose replacement or deletion loses data, and the inputs whose change replaces them
# (pulumi-aws marks these as forcing a new resource).
STATEFUL: Mapping[str, frozenset[str]] = {
    "aws:dynamodb/table:Table": frozenset({"name", "hashKey", "rangeKey", "localSecondaryIndexes"}),
    "aws:kms/key:Key": frozenset({"customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    "aws:sqs/queue:Queue": frozenset({"name", "namePrefix", "fifoQueue"}),  # a dead-letter queue's messages
}
MAIN_BRANCHES = ("main", "origin/main")
VALUE_CHARS = 100  # longer values are cut in the text output (the JSON has them whole)

Action = Literal["create", "delete", "update", "replace"]
SYMBOLS: Mapping[str, str] = {"create": "+", "delete": "-", "update": "~", "replace": "+-"}


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any
    replaces: bool = False


@dataclass
class Entry:
    action: Action
    type: str
    name: str
    stateful: bool
    changes: list[Change] = field(default_factory=list)
    renamed_from: str | None = None

    @property
    def data_at_risk(self) -> bool:
        return self.stateful and self.action in ("delete", "replace")


@dataclass
class StackDiff:
    stack: str
    base: str
    entries: list[Entry]

    def count(self, action: Action) -> int:
        return sum(1 for e in self.entries if e.action == action)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "base": self.base, "entries": [asdict(e) for e in self.entries]}


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf values by path (``a.b[0].c``); JSON text (policies, default tags) is read as the data it holds."""
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):  # text that only looks like JSON stays text
            value = json.loads(value)
    if isinstance(value, dict) and value:
        return {k: v for key in sorted(value) for k, v in flatten(value[key], f"{path}.{key}" if path else key).items()}
    if isinstance(value, list) and value:
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f"{path}[{i}]").items()}
    # Pulumi's wire format carries every number as a float: 512.0 is the memory size 512.
    return {path: int(value) if isinstance(value, float) and value.is_integer() else value}


def top_key(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def input_changes(typ: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    before, after = flatten(dict(old)), flatten(dict(new))
    forcing = STATEFUL.get(typ, frozenset())
    return [
        Change(path, before.get(path), after.get(path), top_key(path) in forcing)
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path) or (path in before) != (path in after)
    ]


Key = tuple[str, str]


def compare(base: Mapping[str, Any], head: Mapping[str, Any], stack: str = "", base_label: str = "") -> StackDiff:
    """The differences between two ``signal9 plan --json`` documents (resources matched by type and name)."""
    old: dict[Key, Mapping[str, Any]] = {(r["type"], r["name"]): r for r in base["resources"]}
    new: dict[Key, Mapping[str, Any]] = {(r["type"], r["name"]): r for r in head["resources"]}
    entries: list[Entry] = []
    for key in sorted(old.keys() & new.keys()):
        changes = input_changes(key[0], old[key]["inputs"], new[key]["inputs"])
        if changes:
            action: Action = "replace" if any(c.replaces for c in changes) else "update"
            entries.append(Entry(action, *key, key[0] in STATEFUL, changes))
    removed, added = sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
    for key in list(removed):
        renamed = rename_target(key, old, new, removed, added)
        if renamed:
            removed.remove(key)
            added.remove(renamed)
            changes = input_changes(key[0], old[key]["inputs"], new[renamed]["inputs"])
            entries.append(Entry("replace", *renamed, True, changes, renamed_from=key[1]))
    entries += [Entry("delete", *key, key[0] in STATEFUL) for key in removed]
    entries += [Entry("create", *key, key[0] in STATEFUL) for key in added]
    # Data at risk first, then by type and name (stable output a reviewer can scan).
    entries.sort(key=lambda e: (not e.data_at_risk, e.type, e.name))
    return StackDiff(stack, base_label, entries)


def rename_target(
    key: Key,
    old: Mapping[Key, Mapping[str, Any]],
    new: Mapping[Key, Mapping[str, Any]],
    removed: list[Key],
    added: list[Key],
) -> Key | None:
    """The added resource a removed stateful one was renamed to: the only one of each of its type under its parent."""
    typ, parent = key[0], old[key]["parent"]
    if typ not in STATEFUL:
        return None
    gone = [k for k in removed if k[0] == typ and old[k]["parent"] == parent]
    came = [k for k in added if k[0] == typ and new[k]["parent"] == parent]
    return came[0] if len(gone) == 1 and len(came) == 1 else None


def _show(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."


def render(diff: StackDiff) -> str:
    lines = [f"signal9 diff: stack {diff.stack!r}, {diff.base} -> working tree"]
    at_risk = [e for e in diff.entries if e.data_at_risk]
    if at_risk:
        lines += ["", f"!! {len(at_risk)} stateful resource(s) replaced or deleted: their data is lost unless retained"]
    for entry in diff.entries:
        renamed = f" (renamed from {entry.renamed_from})" if entry.renamed_from else ""
        risk = "  !! data" if entry.data_at_risk else ""
        lines.append(f"{SYMBOLS[entry.action]:>2} {entry.type} {entry.name}{renamed}{risk}")
        for change in entry.changes:
            why = "  (forces replacement)" if change.replaces else ""
            lines.append(f"       {change.path}: {_show(change.old)} => {_show(change.new)}{why}")
    if not diff.entries:
        lines.append("no changes")
    counts = ", ".join(f"{SYMBOLS[a]} {diff.count(a)} to {a}" for a in ("create", "update", "replace", "delete"))
    lines += ["", f"resources: {counts}"]
    return "\n".join(lines)


def git(*args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise OperatorError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout.strip()


def default_base() -> str:
    """The merge base of HEAD with main (or origin/main, as CI checks it out)."""
    for branch in MAIN_BRANCHES:
        try:
            return git("merge-base", "HEAD", branch)
        except OperatorError:
            continue
    raise OperatorError(f"no merge base with {' or '.join(MAIN_BRANCHES)}: give the base with --base GIT_REF")


def _provide_layer(tree: Path, env: dict[str, str]) -> None:
    """Build the base's handler layer from its own uv.lock, as its program requires (``make layer``).

    The working tree's layer is copied first: with the same lock the base's builder only checks it.
    """
    if not (tree / "signal9_tools" / "layer.py").is_file():
        return  # a base from before the project built its own layer
    if runtime.LAYER_DIRECTORY.is_dir() and (tree / "uv.lock").read_bytes() == runtime.LOCK.read_bytes():
        shutil.copytree(runtime.LAYER_DIRECTORY, tree / runtime.LAYER_DIRECTORY.relative_to(runtime.ROOT))
    command = [sys.executable, "-m", "signal9_tools.layer", "--uv", find_uv()]
    built = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if built.returncode:
        raise OperatorError((built.stderr.strip().splitlines() or ["the base's layer could not be built"])[-1])


def plan_at(ref: str, stack: str) -> dict[str, Any]:
    """``signal9 plan --json`` of ``stack`` as committed at ``ref`` (no resources when it had no such stack)."""
    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="signal9-diff-") as directory:
        tree = Path(directory)
        archive = tree / "base.tar"
        git("archive", "--format=tar", f"--output={archive}", commit)
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
        archive.unlink()
        if not (tree / f"Pulumi.{stack}.yaml").exists():
            return {"resources": []}
        # Its own code first on the path: the base's program, catalog and stack file, not the working tree's.
        env = {**os.environ, "PYTHONPATH": str(tree)}
        _provide_layer(tree, env)
        result = subprocess.run(
            [sys.executable, "-m", "signal9_tools.cli", "plan", "--stack", stack, "--json"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise OperatorError(f"the base {ref} ({commit[:12]}) does not plan stack {stack!r}: {reason}")
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "diff", help="what the working tree changes in a stack against a git ref (offline, two plans)"
    )
    add_stack_argument(parser)
    parser.add_argument("--base", help="git ref to compare with (default: the merge base with main)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--markdown", action="store_true", help="print a Markdown section (for a pull request)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from signal9_tools.mockrun import run_program  # the plan's runtime, only once the arguments are good

    base = args.base or default_base()
    label = f"base {args.base}" if args.base else f"merge base {base[:12]} with main"
    head = run_program(args.stack).to_json()
    diff = compare(plan_at(base, args.stack), head, args.stack, label)
    if args.json:
        print(json.dumps(diff.to_json(), indent=2, sort_keys=True))
    elif args.markdown:
        print(f"### `signal9 diff --stack {args.stack}`\n\n```diff\n{render(diff)}\n```")
    else:
        print(render(diff))
    return 0
