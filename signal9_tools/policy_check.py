"""Policy documents judged against AWS's Service Authorization Reference (``signal9.aws_reference``).

moto's evaluator (the emulator, the tests) matches ARN strings; it does not know which resource
types and condition keys AWS authorises each action on, so a grant that AWS would never match
passes it. This check is a pure function over a policy document and the reference data. For
each Allow statement:

- every action exists (a wildcard action must match at least one);
- an action without resource types is granted only on ``"*"``; ``"*"`` only where the action
  has no resource type (in a key policy ``"*"`` means the key itself, so it is the key's ARN);
- every Resource matches the ARN format of a resource type of one of the statement's actions
  (a typo in the service or the type matches none), and every named action has a Resource that
  matches one of its own types;
- across the document, an action that needs two resource types (``kms:CreateAlias``: alias and
  key; ``events:CreateArchive``: archive and bus) gets a Resource of each;
- every condition key is global (``aws:*``) or supported by each action of the statement (its
  own keys or its resource types'), unless ``DOCUMENTED_EXCEPTIONS`` holds the pair.

Semantics for the rest: a Deny statement only narrows, so its resources and ``"*"`` are fine;
its actions must still exist and each condition key must be global or supported by one of
them. ``NotAction``/``NotResource`` in an Allow grant everything else and are refused; in a
Deny they are judged like Action/Resource names. Statements without a Resource (trust
policies) are not resource checked; trust policies are not passed to this check.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signal9 import aws_reference
from signal9.aws_reference import Action

# Patterns AWS documents that the reference data contradicts: (action, condition key) -> the
# AWS page that shows the pattern. Each entry is allowed; nothing else is.
DOCUMENTED_EXCEPTIONS: dict[tuple[str, str], str] = {
    # CloudWatch Logs' key-policy statement grants kms:Describe* under the log-group encryption
    # context condition; the reference lists no encryption-context key for DescribeKey.
    (
        "kms:DescribeKey",
        "kms:EncryptionContext:aws:logs:arn",
    ): "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
}
_EXCEPTIONS = {(action.lower(), key.lower()) for action, key in DOCUMENTED_EXCEPTIONS}
# Placeholders in the reference's condition keys: ${TagKey}, <key>.
_KEY_VARIABLE = re.compile(r"\$\{[^}]+\}|<[^>]+>")


@dataclass(frozen=True)
class Problem:
    """One statement AWS would refuse or ignore, named by document and statement (empty: the
    document as a whole, e.g. a key policy refusing a call)."""

    document: str
    statement: str
    message: str

    def __str__(self) -> str:
        where = f" statement {self.statement}:" if self.statement else ""
        return f"{self.document}:{where} {self.message}"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --- ARN patterns ------------------------------------------------------------------------------
# A Resource is a glob (* any run, ? one character); an ARN format has ${Name} placeholders, each
# standing for one or more characters. They match when some ARN fits both.
_ANY, _ONE = "\x00*", "\x00?"


def _resource_tokens(pattern: str) -> tuple[str, ...]:
    return tuple(_ANY if c == "*" else _ONE if c == "?" else c for c in pattern)


def _format_tokens(arn_format: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for part in re.split(r"(\$\{[^}]+\})", arn_format):
        if part.startswith("${"):
            tokens += [_ONE, _ANY]
        else:
            tokens += list(part)
    return tuple(tokens)


@functools.cache
def arn_matches_format(resource: str, arn_format: str) -> bool:
    """Whether some ARN is matched by the Resource pattern and has the reference's format."""
    left, right = _resource_tokens(resource), _format_tokens(arn_format)

    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(left) or j == len(right):
            return all(t == _ANY for t in left[i:]) and all(t == _ANY for t in right[j:])
        a, b = left[i], right[j]
        if a == _ANY or b == _ANY:
            options = []
            if a == _ANY:
                options += [meet(i + 1, j), meet(i, j + 1)]  # the run ends, or covers b
            if b == _ANY:
                options += [meet(i, j + 1), meet(i + 1, j)]
            return any(options)
        return (a == b or _ONE in (a, b)) and meet(i + 1, j + 1)

    return meet(0, 0)


def _types_matching(action: Action, resource: str) -> list[str]:
    return [
        name
        for name, _ in action.resource_types
        if arn_matches_format(resource, aws_reference.resource_type(action.service, name).arn)
    ]


# --- condition keys ----------------------------------------------------------------------------


@functools.cache
def _key_pattern(template: str) -> re.Pattern[str]:
    parts = _KEY_VARIABLE.split(template)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


def supports_condition_key(action: Action, key: str) -> bool:
    """Global keys (aws:*), the action's own keys and its resource types' keys."""
    if key.lower().startswith("aws:") or (action.full_name.lower(), key.lower()) in _EXCEPTIONS:
        return True
    keys = list(action.condition_keys)
    for name, _ in action.resource_types:
        keys += aws_reference.resource_type(action.service, name).condition_keys
    return any(_key_pattern(template).fullmatch(key) for template in keys)


def _condition_keys(statement: Mapping[str, Any]) -> list[str]:
    condition = statement.get("Condition") or {}
    return sorted({key for values in condition.values() if isinstance(values, Mapping) for key in values})


# --- the check ---------------------------------------------------------------------------------


@dataclass
class _Statement:
    label: str
    actions: list[Action]  # what the Action element stands for
    named: list[Action]  # the actions named without a wildcard
    resources: list[str]


def _is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _expand(patterns: Iterable[str], report: Any) -> list[tuple[str, list[Action]]]:
    """Each Action pattern with the actions it stands for (unknown ones reported)."""
    groups: list[tuple[str, list[Action]]] = []
    for pattern in patterns:
        if pattern == "*":
            report('Action "*" grants every action of every service')
            continue
        service = pattern.partition(":")[0]
        if not aws_reference.service_exists(service):
            report(f"{pattern}: no service {service!r} in the Service Authorization Reference")
            continue
        found = aws_reference.actions_matching(pattern)
        if not found:
            report(f"{pattern}: no such action in the Service Authorization Reference")
        groups.append((pattern, found))
    return groups


def _unsupported(groups: list[tuple[str, list[Action]]], key: str, effect: str) -> list[str]:
    """The Action entries a condition key cannot apply to.

    Allow: each named action must support it, and a wildcard must match at least one that does
    (else the statement grants nothing). Deny: one supporting action is enough (it only narrows).
    """
    if effect == "Deny":
        every = [a for _, found in groups for a in found]
        return [] if any(supports_condition_key(a, key) for a in every) else [p for p, _ in groups]
    return [
        pattern
        for pattern, found in groups
        if found
        and (
            not any(supports_condition_key(a, key) for a in found)
            if _is_wildcard(pattern)
            else not all(supports_condition_key(a, key) for a in found)
        )
    ]


def _check_allow(statement: _Statement, report: Any) -> None:
    for action in statement.named:
        types = [name for name, _ in action.resource_types]
        if not types:
            if "*" not in statement.resources:
                report(
                    f'{action.full_name} has no resource type: only Resource "*" can grant it '
                    f"(granted on {', '.join(statement.resources)})"
                )
            continue
        if "*" in statement.resources and not aws_reference.star_is_narrowest(action.full_name):
            report(f'"*" for {action.full_name}, which has resource types {types}: name them')
        arns = [r for r in statement.resources if r != "*"]
        if arns and not any(_types_matching(action, r) for r in arns):
            report(f"{action.full_name}: no Resource matches its resource types {types}")
    for resource in statement.resources:
        if resource == "*":
            continue
        if not any(_types_matching(action, resource) for action in statement.actions):
            names = sorted({a.full_name for a in statement.named} or {a.service for a in statement.actions})
            report(f"Resource {resource} matches no resource type of {', '.join(names)}")


def check_document(document: Mapping[str, Any], name: str, this_resource: str | None = None) -> list[Problem]:
    """Every problem of one policy document. ``this_resource``: what ``"*"`` means (key policies)."""
    problems: list[Problem] = []
    allowed: list[_Statement] = []
    for index, raw in enumerate(_as_list(document.get("Statement"))):
        label = str(raw.get("Sid") or index)

        def report(message: str, label: str = label) -> None:
            problems.append(Problem(name, label, message))

        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            report(f"Effect must be Allow or Deny (got {effect!r})")
            continue
        if effect == "Allow" and ("NotAction" in raw or "NotResource" in raw):
            report("NotAction/NotResource in an Allow grants everything else: not allowed")
            continue
        groups = _expand(_as_list(raw.get("Action") or raw.get("NotAction")), report)
        for key in _condition_keys(raw):
            unsupported = _unsupported(groups, key, effect)
            if unsupported:
                report(f"condition key {key} is not supported by {', '.join(unsupported)}")
        actions = [a for _, found in groups for a in found]
        named = [a for pattern, found in groups if not _is_wildcard(pattern) for a in found]
        if effect == "Allow" and "Resource" in raw:
            resources = [this_resource if r == "*" and this_resource else r for r in _as_list(raw["Resource"])]
            statement = _Statement(label, actions, named, resources)
            _check_allow(statement, report)
            allowed.append(statement)
    problems += _required_types(allowed, name)
    return problems


def _required_types(statements: list[_Statement], name: str) -> list[Problem]:
    """Actions authorised on two resource types at once get a Resource of each, across the document."""
    granted: dict[str, tuple[Action, list[str], list[str]]] = {}
    for statement in statements:
        for action in statement.named:
            _, labels, resources = granted.setdefault(action.full_name, (action, [], []))
            labels.append(statement.label)
            resources += statement.resources
    problems = []
    for action, labels, resources in granted.values():
        if len(action.required_types) < 2 or "*" in resources:
            continue
        for needed in action.required_types:
            arn_format = aws_reference.resource_type(action.service, needed).arn
            if not any(arn_matches_format(r, arn_format) for r in resources):
                problems.append(
                    Problem(
                        name,
                        ", ".join(labels),
                        f"{action.full_name} is authorised on {' and '.join(action.required_types)}: "
                        f"no Resource matches {needed} ({arn_format})",
                    )
                )
    return problems


# --- key policies: may the principal that deploys make the deploy's calls on the key? ------------
#
# A KMS key is authorised by its own policy first: "No AWS principal, including the account root
# user, has any permissions to a KMS key unless they are explicitly allowed in a key policy"; an
# IAM policy counts only where the key policy delegates to the account (the statement with the
# account as principal, "Allows access to the AWS account and enables IAM policies"). For an
# alias, "the principal needs kms:CreateAlias for both the alias and the associated KMS key ...
# [the key's permission] must be provided in a key policy or in an IAM policy that is delegated
# from the key policy". CreateKey itself refuses a policy that would not let the caller
# PutKeyPolicy afterwards (the policy lockout safety check), so that call is judged as PutKeyPolicy.
KEY_POLICY_PAGES = (
    "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html",
    "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html",
    "https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html",
    "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html",
)
# Condition keys a direct API call by the caller can be judged on here; any other key
# (kms:ViaService, aws:SourceArn, an encryption context) belongs to calls made through a
# service, so a statement that needs one does not allow the deploy's own calls.
_CALLER_KEYS = frozenset({"aws:principalarn", "aws:principalaccount", "kms:calleraccount"})
_CONDITION_OPERATORS: dict[str, Any] = {
    "StringEquals": lambda value, wanted: value == wanted,
    "ArnEquals": lambda value, wanted: value == wanted,
    "StringLike": lambda value, wanted: fnmatch.fnmatchcase(value, wanted),
    "ArnLike": lambda value, wanted: fnmatch.fnmatchcase(value, wanted),
}


@dataclass(frozen=True)
class KeyCaller:
    """Who makes a deploy's calls on a key: ``arn`` None is an identity of the account the key
    policy cannot name (the administrator who runs the bootstrap): only delegation reaches it."""

    name: str
    account_id: str
    arn: str | None = None

    def context(self) -> dict[str, str]:
        values = {"aws:principalaccount": self.account_id, "kms:calleraccount": self.account_id}
        if self.arn:
            values["aws:principalarn"] = self.arn
        return values


def _names_caller(principal: Any, caller: KeyCaller) -> str | None:
    """How a statement's Principal reaches the caller: "named", "delegated" (the account), or None."""
    if principal == "*":
        return "named"
    entries = _as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
    account = {caller.account_id, f"arn:aws:iam::{caller.account_id}:root"}
    if any(entry == "*" or (caller.arn and entry == caller.arn) for entry in entries):
        return "named"
    if any(
        entry in account or re.fullmatch(rf"arn:aws[\w-]*:iam::{caller.account_id}:root", entry) for entry in entries
    ):
        return "delegated"
    return None


def _condition_met(statement: Mapping[str, Any], caller: KeyCaller) -> bool:
    """Every condition of the statement holds for a direct call by ``caller`` (unknown keys never do)."""
    context = caller.context()
    for operator, values in (statement.get("Condition") or {}).items():
        test = _CONDITION_OPERATORS.get(operator)
        for key, wanted in values.items():
            value = context.get(key.lower())
            if test is None or key.lower() not in _CALLER_KEYS or value is None:
                return False
            if not any(test(value, str(w)) for w in _as_list(wanted)):
                return False
    return True


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    patterns = [str(p).lower() for p in _as_list(statement.get("Action"))]
    return any(fnmatch.fnmatchcase(action.lower(), p) for p in patterns)


def key_policy_refusal(policy: Mapping[str, Any], caller: KeyCaller, action: str) -> str | None:
    """Why the key's policy refuses ``action`` to ``caller`` (None: it allows it, directly or by
    delegating to the account's IAM policies, which must then grant it too)."""
    allowed_by: list[str] = []
    for index, statement in enumerate(_as_list(policy.get("Statement"))):
        reach = _names_caller(statement.get("Principal"), caller)
        if reach is None or not _grants(statement, action):
            continue
        sid = str(statement.get("Sid") or index)
        met = _condition_met(statement, caller)
        if statement.get("Effect") == "Deny" and (met or not statement.get("Condition")):
            return f"statement {sid} denies it"
        if statement.get("Effect") == "Allow" and met:
            allowed_by.append(sid)
    if allowed_by:
        return None
    return "no statement allows it to the caller, nor delegates it to the account's IAM policies"


def key_call_problems(
    document: Mapping[str, Any], name: str, caller: KeyCaller, actions: Iterable[str]
) -> list[Problem]:
    """One problem per call of ``actions`` the key policy ``document`` refuses ``caller``."""
    problems = []
    for action in sorted(set(actions)):
        why = key_policy_refusal(document, caller, action)
        if why is not None:
            problems.append(Problem(name, "", f"{caller.name} may not {action} on this key: {why}"))
    return problems
