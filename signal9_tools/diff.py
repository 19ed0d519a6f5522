"""``signal9 diff``: what a change does to a stack, from two offline plans.

Plans the stack at a base git ref (default: the merge base with main) and in the working
tree, matches resources as Pulumi does (by URN, a resource also answering to the old URNs it
names as aliases; by type and logical name when a plan predates URNs in ``plan --json``), and
prints what would be created (``+``),
deleted (``-``), updated in place (``~``) or replaced (``+-``), Pulumi's conventions, with each
changed input. Inputs come from ``signal9 plan --json``, so secrets are already masked.

Replacement is decided only for the stateful types (``STATEFUL``): a change to one of their
replace-triggering inputs (the ones the AWS provider cannot update in place, e.g. a table's
name or key schema), a new parent for the same logical name (a move: a new URN) or a new
logical name for the only removed resource of that type under the same parent (a rename);
Pulumi carries out the last two as delete and create. Those, and deleted stateful resources,
are announced at the top with what keeps the data (an alias, retain on delete) and listed
first; the count also goes to stderr.
Other resources show as updates even where the provider would replace them (nothing is lost).

The base is planned in a subprocess with this virtualenv's Python from a ``git archive`` of the
ref in a temporary directory, by the base's own ``signal9`` command (its pyproject.toml) with
only its own code importable, so its own program, catalog, tooling and stack file are used.
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
import tomllib
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
    # Not data itself: what finds the key by name (a new alias is a window in which it finds nothing).
    "aws:kms/alias:Alias": frozenset({"name", "namePrefix"}),
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    "aws:sqs/queue:Queue": frozenset({"name", "namePrefix", "fifoQueue"}),  # a dead-letter queue's messages
    "aws:cloudwatch/logGroup:LogGroup": frozenset({"name", "namePrefix", "logGroupClass"}),  # the functions' logs
    "aws:cloudwatch/eventArchive:EventArchive": frozenset({"name", "eventSourceArn"}),  # the events kept for replay
    "aws:sns/topic:Topic": frozenset({"name", "namePrefix", "fifoTopic"}),  # its confirmed subscriptions
}
MAIN_BRANCHES = ("main", "origin/main")
# Where this code is imported from (the working tree, installed editable into the virtualenv).
INSTALLED = Path(__file__).resolve().parent.parent
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
    moved_from: str | None = None  # the old URN of a resource now under another parent

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


def identity(resource: Mapping[str, Any], by_urn: bool) -> str:
    """How Pulumi knows a resource: its URN, or type and name for a plan made before plans had URNs."""
    return str(resource["urn"]) if by_urn else f"{resource['type']}::{resource['name']}"


def compare(base: Mapping[str, Any], head: Mapping[str, Any], stack: str = "", base_label: str = "") -> StackDiff:
    """The differences between two ``signal9 plan --json`` documents, resources matched as Pulumi does.

    By URN, and a resource answers to the old URNs it names as aliases; by type and logical name
    when either plan predates URNs in the plan document.
    """
    by_urn = all("urn" in r for r in [*base["resources"], *head["resources"]])
    old = {identity(r, by_urn): r for r in base["resources"]}
    new = {identity(r, by_urn): r for r in head["resources"]}
    answers = {alias: key for key, r in new.items() for alias in (r.get("aliases") or [])} if by_urn else {}
    # Old identity -> new: the same one, or the new resource naming it as an alias (kept, not replaced).
    pairs: dict[str, str] = {}
    for key in old:
        if key in new:
            pairs[key] = key
        elif answers.get(key) in new.keys() - old.keys():
            pairs[key] = answers[key]
    entries: list[Entry] = []
    for before, after in sorted(pairs.items()):
        typ, name = new[after]["type"], new[after]["name"]
        changes = input_changes(typ, old[before]["inputs"], new[after]["inputs"])
        if changes:
            action: Action = "replace" if any(c.replaces for c in changes) else "update"
            entries.append(Entry(action, typ, name, typ in STATEFUL, changes))
    removed = sorted(old.keys() - pairs.keys())
    added = sorted(new.keys() - set(pairs.values()))
    for key in list(removed):
        successor = successor_of(key, old, new, removed, added)
        if successor:
            removed.remove(key)
            added.remove(successor)
            before, after = old[key], new[successor]
            moved = before["name"] == after["name"]
            entries.append(
                Entry(
                    "replace",
                    after["type"],
                    after["name"],
                    True,
                    input_changes(after["type"], before["inputs"], after["inputs"]),
                    renamed_from=None if moved else before["name"],
                    moved_from=key if moved else None,
                )
            )
    entries += [Entry("delete", old[k]["type"], old[k]["name"], old[k]["type"] in STATEFUL) for k in removed]
    entries += [Entry("create", new[k]["type"], new[k]["name"], new[k]["type"] in STATEFUL) for k in added]
    # Data at risk first, then by type and name (stable output a reviewer can scan).
    entries.sort(key=lambda e: (not e.data_at_risk, e.type, e.name))
    return StackDiff(stack, base_label, entries)


def successor_of(
    key: str,
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
    removed: list[str],
    added: list[str],
) -> str | None:
    """The added resource a removed stateful one became: Pulumi replaces it (delete, then create empty).

    Moved: the same type and logical name under another parent (a new URN). Renamed: the only
    removed and the only added one of its type under its parent.
    """
    typ, name, parent = old[key]["type"], old[key]["name"], old[key]["parent"]
    if typ not in STATEFUL:
        return None
    moved = [k for k in added if (new[k]["type"], new[k]["name"]) == (typ, name)]
    if len(moved) == 1:
        return moved[0]
    gone = [k for k in removed if old[k]["type"] == typ and old[k]["parent"] == parent]
    came = [k for k in added if new[k]["type"] == typ and new[k]["parent"] == parent]
    return came[0] if len(gone) == 1 and len(came) == 1 else None


def at_risk_line(entry: Entry) -> str:
    """What happens to a stateful resource's data, and what keeps it."""
    what = f"!!   {SYMBOLS[entry.action]} {entry.type} {entry.name}: "
    if entry.moved_from:
        return what + (
            f"moved; add aliases=[pulumi.Alias(...)] naming {entry.moved_from} to its options, "
            "or it is deleted and created empty"
        )
    if entry.renamed_from:
        return what + (
            f'renamed from {entry.renamed_from}; add aliases=[pulumi.Alias(name="{entry.renamed_from}")] '
            "to keep it, or it is deleted and created empty"
        )
    if entry.action == "delete":
        return what + "deleted with what it holds, unless retain_on_delete is set or it is copied first"
    forcing = ", ".join(c.path for c in entry.changes if c.replaces)
    return what + f"{forcing} cannot change in place: replaced, its data lost unless copied first"


def _show(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 3] + "..."


def render(diff: StackDiff) -> str:
    lines = [f"signal9 diff: stack {diff.stack!r}, {diff.base} -> working tree"]
    at_risk = [e for e in diff.entries if e.data_at_risk]
    if at_risk:
        lines += ["", f"!! DATA AT RISK: {len(at_risk)} stateful resource(s) would be replaced or deleted"]
        lines += [at_risk_line(e) for e in at_risk]
        lines.append("")
    for entry in diff.entries:
        renamed = f" (renamed from {entry.renamed_from})" if entry.renamed_from else ""
        renamed += f" (moved from {entry.moved_from})" if entry.moved_from else ""
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


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
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


# Runs a base's own `signal9` command with only the base's code importable: the working tree is
# installed editable, so without this a package the base lacks (signal9_tools before it existed)
# would come from the working tree and plan today's program with the base's half of the code.
RUN_BASE_COMMAND = """
import importlib, pathlib, sys
tree, working_tree, entry, *arguments = sys.argv[1:]
sys.path[:] = [tree] + [p for p in sys.path if p and pathlib.Path(p).resolve() != pathlib.Path(working_tree)]
module, _, function = entry.partition(":")
sys.argv = ["signal9", *arguments]
sys.exit(getattr(importlib.import_module(module), function)())
"""


def base_command(tree: Path, label: str) -> str:
    """The base's `signal9` entry point (``module:function``), from its own pyproject.toml."""
    project = tomllib.loads((tree / "pyproject.toml").read_text()) if (tree / "pyproject.toml").exists() else {}
    entry = project.get("project", {}).get("scripts", {}).get("signal9")
    if not isinstance(entry, str) or ":" not in entry:
        raise OperatorError(
            f"the base {label} has no `signal9` command ([project.scripts] in its pyproject.toml), so it cannot "
            "plan itself; choose a later base"
        )
    return entry


def _provide_layer(tree: Path, env: dict[str, str]) -> None:
    """Build the base's handler layer from its own uv.lock with its own builder, as its program requires.

    The working tree's layer is copied first: with the same lock the base's builder only checks it.
    """
    if not (tree / "signal9_tools" / "layer.py").is_file():
        return  # a base from before the project built its own layer
    if runtime.LAYER_DIRECTORY.is_dir() and (tree / "uv.lock").read_bytes() == runtime.LOCK.read_bytes():
        shutil.copytree(runtime.LAYER_DIRECTORY, tree / runtime.LAYER_DIRECTORY.relative_to(runtime.ROOT))
    builder = "signal9_tools.layer:main"
    command = [sys.executable, "-c", RUN_BASE_COMMAND, str(tree), str(INSTALLED), builder, "--uv", find_uv()]
    built = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if built.returncode:
        raise OperatorError((built.stderr.strip().splitlines() or ["the base's layer could not be built"])[-1])


def plan_at(ref: str, stack: str) -> dict[str, Any]:
    """``signal9 plan --json`` of ``stack`` as committed at ``ref``, by the base's own command and code.

    No resources when it had no such stack.
    """
    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    label = f"{ref} ({commit[:12]})"
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
        command = [sys.executable, "-c", RUN_BASE_COMMAND, str(tree), str(INSTALLED), base_command(tree, label)]
        _provide_layer(tree, env)
        result = subprocess.run(
            [*command, "plan", "--stack", stack, "--json"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise OperatorError(
            f"the base {label} does not plan stack {stack!r} with its own code and this virtualenv's packages: {reason}"
        )
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
    base_plan = plan_at(base, args.stack)  # first: a base git cannot resolve fails before any plan runs
    diff = compare(base_plan, run_program(args.stack).to_json(), args.stack, label)
    at_risk = sum(1 for e in diff.entries if e.data_at_risk)
    if at_risk:
        # Also on stderr: seen even when the report goes to a file or a job summary.
        print(f"signal9 diff: !! {at_risk} stateful resource(s) would be replaced or deleted", file=sys.stderr)
    if args.json:
        print(json.dumps(diff.to_json(), indent=2, sort_keys=True))
    elif args.markdown:
        print(f"### `signal9 diff --stack {args.stack}`\n\n```diff\n{render(diff)}\n```")
    else:
        print(render(diff))
    return 0
