"""``signal9 plan``: what a stack would create, from the real program under mocks."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from signal9 import stackfile
from signal9.catalog import PROJECT
from signal9.errors import OperatorError
from signal9.policy_rules import check_stack_file_secrets
from signal9.stackfile import BOOTSTRAP, BOOTSTRAP_PROJECT
from signal9_tools import deploytime
from signal9_tools.cli import add_stack_argument
from signal9_tools.mockrun import ProgramRun, run_program

# ``--project`` values: the main program (default) or the bootstrap project in bootstrap/.
PROJECTS = {"signal9": PROJECT, BOOTSTRAP: BOOTSTRAP_PROJECT}


def add_project_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        choices=sorted(PROJECTS),
        default="signal9",
        help="the main program (default) or the bootstrap project (bootstrap/, stacks per AWS account, e.g. main)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("plan", help="list the resources a stack would create (offline, Pulumi mocks)")
    add_stack_argument(parser)
    add_project_argument(parser)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document (secrets masked)")
    output.add_argument(
        "--timing", action="store_true", help="print the modelled first-deploy and no-change-update times instead"
    )
    parser.set_defaults(run=run)


def summary(plan: ProgramRun) -> str:
    """Resources grouped by their top-level component, with counts per type."""
    parents = {r.name: r.parent for r in plan.resources}

    def component(name: str) -> str:
        while parents.get(name):
            name = parents[name]  # type: ignore[assignment]
        return name

    groups: dict[str, Counter[str]] = {}
    for resource in plan.resources:
        if resource.custom or resource.parent:
            groups.setdefault(component(resource.name), Counter())[resource.type] += 1
    lines = [f"{plan.project} stack {plan.stack!r} in {plan.region}: {len(plan.resources)} resources"]
    for group, counts in sorted(groups.items()):  # registration order varies from run to run
        lines.append(f"\n{group} ({sum(counts.values())})")
        lines.extend(f"  {count:>3}  {typ}" for typ, count in sorted(counts.items()))
    lines.append(f"\noutputs: {', '.join(plan.outputs) or '(none)'}")
    return "\n".join(lines)


def plaintext_secrets(stack: str) -> list[str]:
    """Credential values written in plain text in ``Pulumi.<stack>.yaml`` (the policy rule; values never shown)."""
    path, document = stackfile.stack_document(stack)
    found: list[str] = []
    check_stack_file_secrets(document.get("config") or {}, lambda message: found.append(f"{path.name}: {message}"))
    return found


def run(args: argparse.Namespace) -> int:
    if PROJECTS[args.project] == PROJECT and (found := plaintext_secrets(args.stack)):
        # An error, not a warning: the value is already in a file meant for git.
        raise OperatorError("\n".join(found))
    plan = run_program(args.stack, project=PROJECTS[args.project])
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.timing:
        print(deploytime.render(deploytime.model(plan)))
    else:
        print(json.dumps(plan.to_json(), indent=2, sort_keys=True) if args.json else summary(plan))
    return 0
