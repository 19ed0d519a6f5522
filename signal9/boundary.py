"""The permissions boundary every role of a stack is created under, derived from the role policies.

The deploy role may create roles only with this boundary attached (``iam:PermissionsBoundary``),
so even a role policy the deploy role writes can never grant more than the boundary. The
boundary is computed from the same functions that build the role policies, given the stack's
name patterns instead of concrete ARNs:

- every function role's grants: ``signal9.iam.access_statements`` for each catalog function;
- the scheduler role's grants: ``signal9.iam.scheduler_statements``.

A grant added there (a new action, a new ``Resource: "*"`` action) flows into the boundary on
the next bootstrap ``pulumi up``; a grant on a new kind of resource that needs a new argument
breaks ``boundary_document`` or the coverage test in tests/test_deploy_policy.py, which judges
every role policy of every stack's plan against the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from signal9 import catalog, iam
from signal9.deploy_policy import POLICY_VERSION, StackTarget


def role_resources(target: StackTarget) -> iam.FunctionResources:
    """Every resource a function role may be granted, as the stack's name patterns."""
    return iam.FunctionResources(
        dead_letter_queue=target.scope("queue"),
        log_group=target.scope("log-group"),
        tables=dict.fromkeys(catalog.TABLE_NAMES, target.scope("table")),
        secret=target.scope("secret"),
        event_bus=target.scope("event-bus"),
        # Any key of the account: the role policies themselves name the stack key exactly.
        key=target.scope("kms-key"),
        region=target.region,
    )


def _allowed(statements: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Action -> resources over Allow statements."""
    allowed: dict[str, set[str]] = {}
    for action, resource in iam.grants({"Statement": list(statements)}):
        allowed.setdefault(action, set()).add(resource)
    return allowed


def boundary_document(target: StackTarget) -> dict[str, Any]:
    """The boundary policy: the union of what the stack's role policies can grant, by action."""
    resources = role_resources(target)
    statements: list[Mapping[str, Any]] = []
    for function in catalog.FUNCTIONS:
        statements += iam.access_statements(function, resources)
    statements += iam.scheduler_statements(
        [target.scope("function")], [target.scope("queue")], target.scope("kms-key"), target.region
    )
    by_resources: dict[tuple[str, ...], list[str]] = {}
    for action, arns in sorted(_allowed(statements).items()):
        by_resources.setdefault(tuple(sorted(arns)), []).append(action)
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": f"RoleGrants{index}",
                "Effect": "Allow",
                "Action": actions,
                "Resource": list(arns) if len(arns) > 1 else arns[0],
            }
            for index, (arns, actions) in enumerate(sorted(by_resources.items()), start=1)
        ],
    }
