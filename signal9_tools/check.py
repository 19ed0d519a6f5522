"""``signal9 check``: the policy rules over a stack's plan, offline (the CI gate before preview).

Runs every rule in ``signal9.policy_rules`` over what the program would register (Pulumi
mocks, no AWS account) plus the stack file's credential check and the policy check against
AWS's Service Authorization Reference (``signal9_tools.policy_check``, the one ``signal9
preflight`` runs), prints one line per rule and one per violation, and exits 1 when anything
is violated.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from signal9.bootstrap_rules import BOOTSTRAP_RULES
from signal9.catalog import PROJECT
from signal9.policy_rules import RULES, Violation, evaluate
from signal9.stackfile import BOOTSTRAP_PROJECT, stack_file
from signal9_tools.cli import add_stack_argument
from signal9_tools.mockrun import run_program
from signal9_tools.plan import PROJECTS, add_project_argument, plaintext_secrets
from signal9_tools.preflight import policy_problems

STACK_FILE_RULE = "stack-file-secrets-encrypted"
REFERENCE_RULE = "policies-match-aws-reference"


@dataclass(frozen=True)
class CheckResult:
    stack: str
    resources: int
    violations: list[Violation]
    project: str = PROJECT
    warnings: tuple[str, ...] = ()  # the plan's own warnings: advisory, they do not fail the check

    def failed(self, rule: str) -> int:
        return sum(1 for v in self.violations if v.rule == rule)


def rule_names(project: str = PROJECT) -> list[str]:
    if project == BOOTSTRAP_PROJECT:
        return [*(rule.name for rule in BOOTSTRAP_RULES), REFERENCE_RULE]
    return [*(rule.name for rule in RULES), STACK_FILE_RULE, REFERENCE_RULE]


def reference_violations(resources: list[dict[str, Any]]) -> list[Violation]:
    """Every policy document of the plan judged against AWS's Service Authorization Reference."""
    problems = policy_problems(resources)
    return [Violation(REFERENCE_RULE, p.document, f"statement {p.statement}: {p.message}") for p in problems]


def stack_file_violations(stack: str) -> list[Violation]:
    """Plaintext credential values in ``Pulumi.<stack>.yaml`` (the plan only ever sees them masked)."""
    return [Violation(STACK_FILE_RULE, stack_file(stack).name, message) for message in plaintext_secrets(stack)]


def check_stack(stack: str, project: str = PROJECT) -> CheckResult:
    """Every rule over the stack's plan JSON (the documented ``signal9 plan --json`` shape)."""
    if project == BOOTSTRAP_PROJECT:
        plan = run_program(stack, project=project)
        resources = plan.to_json()["resources"]
        violations = [*evaluate(resources, BOOTSTRAP_RULES), *reference_violations(resources)]
        return CheckResult(stack, len(resources), violations, project, tuple(plan.warnings))
    plan = run_program(stack)
    resources = plan.to_json()["resources"]
    violations = [*evaluate(resources), *stack_file_violations(stack), *reference_violations(resources)]
    return CheckResult(stack, len(resources), violations, project, tuple(plan.warnings))


def render(result: CheckResult) -> str:
    """A readable table: each rule with its status, then each violation."""
    names = rule_names(result.project)
    width = max(map(len, names))
    lines = [
        f"signal9 check: {result.project} stack {result.stack!r}, {result.resources} resources, {len(names)} rules",
        "",
    ]
    lines.append(f"{'RULE':<{width}}  RESULT")
    for name in names:
        failed = result.failed(name)
        lines.append(f"{name:<{width}}  {'FAIL (' + str(failed) + ')' if failed else 'pass'}")
    if result.violations:
        lines += ["", f"{'RULE':<{width}}  {'RESOURCE':<32}  VIOLATION"]
        lines += [f"{v.rule:<{width}}  {v.resource or '(stack)':<32}  {v.message}" for v in result.violations]
    if result.warnings:
        lines += ["", "advisory (the plan's warnings; every rule above is mandatory, these do not fail the check):"]
        lines += [f"  warning: {warning}" for warning in result.warnings]
    lines += ["", f"{len(result.violations)} violation(s)" if result.violations else "all rules pass"]
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "check", help="run the policy rules over a stack's plan (offline); exit 1 on violations"
    )
    add_stack_argument(parser)
    add_project_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = check_stack(args.stack, PROJECTS[args.project])
    print(render(result))
    return 1 if result.violations else 0
