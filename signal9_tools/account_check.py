"""``signal9 preflight --account``: what the plans need from the AWS account, read before the first deploy.

Offline preflight can only warn about these; the preview workflow has credentials (the preview
role), so it reads them and fails early, each problem naming the setting that fixes it:

- **Lambda concurrency.** Every stack the bootstrap deploys to this account reserves concurrency
  (``reservedConcurrentExecutions``); Lambda refuses a reservation that leaves fewer than 100
  executions unreserved (PutFunctionConcurrency), and new accounts can start far below the usual
  1,000. The account's quota and what is unreserved now come from GetAccountSettings; what the
  Signal9 functions already hold (a redeploy) from GetFunctionConcurrency.
- **GitHub's OIDC provider.** An account holds one provider per URL: when one for
  ``token.actions.githubusercontent.com`` exists, the bootstrap's create fails unless
  ``signal9-bootstrap:oidcProviderArn`` adopts it; when that setting names one, it must exist.
- **The operator roles.** The bootstrap's key policies name ``signal9-bootstrap:operatorArns``;
  KMS refuses a key policy whose principals do not exist (CreateKey/PutKeyPolicy: "The principals
  in the key policy must exist and be visible to KMS").

The reads are granted to the preview role (``signal9.bootstrap_policies.account_check_statements``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from signal9.bootstrap_config import BootstrapConfig
from signal9.bootstrap_policies import GITHUB_OIDC_HOST
from signal9_tools.mockrun import ProgramRun

FUNCTION = "aws:lambda/function:Function"
# Lambda keeps this much of the account's concurrency unreserved (PutFunctionConcurrency fails below it).
UNRESERVED_MINIMUM = 100
CONCURRENCY_QUOTA = "Service Quotas: AWS Lambda 'Concurrent executions' (L-B99A9384)"
CONCURRENCY_SETTING = "signal9:alphaVantage.pollenationConcurrency"
OIDC_SETTING = "signal9-bootstrap:oidcProviderArn"
OPERATORS_SETTING = "signal9-bootstrap:operatorArns"


def reserved_concurrency(run: ProgramRun) -> dict[str, int]:
    """Function name -> the concurrency the plan reserves for it."""
    return {
        r.plain_inputs["name"]: int(float(r.plain_inputs["reservedConcurrentExecutions"]))
        for r in run.of_type(FUNCTION)
        if r.plain_inputs.get("reservedConcurrentExecutions") is not None
    }


def _not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "NoSuchEntity")


def concurrency_problems(lambda_: Any, reserved: Mapping[str, int]) -> list[str]:
    """The stacks' reservations against the account's unreserved concurrency (less Lambda's 100)."""
    if not reserved:
        return []
    settings = lambda_.get_account_settings()["AccountLimit"]
    limit, unreserved = int(settings["ConcurrentExecutions"]), int(settings["UnreservedConcurrentExecutions"])
    held = 0
    for name in reserved:
        try:
            held += int(lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0)
        except ClientError as error:
            if not _not_found(error):
                raise
    needed = sum(reserved.values())
    left = unreserved + held - needed
    if left >= UNRESERVED_MINIMUM:
        return []
    wanted = limit - left + UNRESERVED_MINIMUM
    return [
        f"Lambda concurrency: the stacks reserve {needed} ({', '.join(f'{n}: {c}' for n, c in sorted(reserved.items()))}) "
        f"but the account has {unreserved + held} to reserve from (quota {limit}, {unreserved} unreserved now, "
        f"{held} held by these functions) and Lambda keeps {UNRESERVED_MINIMUM} unreserved: raise {CONCURRENCY_QUOTA} "
        f"to at least {wanted}, or set {CONCURRENCY_SETTING} to null in the stack files"
    ]


def oidc_problems(iam: Any, bootstrap: BootstrapConfig, stack_file: str) -> list[str]:
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    github = [arn for arn in providers if arn.endswith(f"/{GITHUB_OIDC_HOST}")]
    if bootstrap.oidcProviderArn is None and github:
        return [
            f"GitHub's OIDC provider already exists in this account ({github[0]}): the bootstrap would fail creating "
            f"a second one; set {OIDC_SETTING}: {github[0]} in {stack_file}"
        ]
    if bootstrap.oidcProviderArn is not None and bootstrap.oidcProviderArn not in providers:
        return [
            f"{OIDC_SETTING} in {stack_file} names {bootstrap.oidcProviderArn}, which does not exist in this account: "
            f"remove the setting (the bootstrap creates the provider) or name {github[0] if github else 'the existing one'}"
        ]
    return []


def operator_problems(iam: Any, bootstrap: BootstrapConfig, stack_file: str) -> list[str]:
    problems = []
    for arn in bootstrap.operatorArns:
        try:
            iam.get_role(RoleName=arn.rsplit("/", 1)[-1])
        except ClientError as error:
            if not _not_found(error):
                raise
            problems.append(
                f"{OPERATORS_SETTING} in {stack_file} names {arn}, which does not exist: the key policies name it and "
                "KMS refuses a key policy whose principals do not exist; create the role or remove it"
            )
    return problems


def account_problems(
    session: Any, plans: list[ProgramRun], bootstrap: BootstrapConfig, bootstrap_stack: str
) -> list[str]:
    """Every precondition of the account the plans (its stacks) and the bootstrap depend on that does not hold."""
    stack_file = f"bootstrap/Pulumi.{bootstrap_stack}.yaml"
    reserved = {name: count for run in plans for name, count in reserved_concurrency(run).items()}
    iam = session.client("iam")
    return (
        concurrency_problems(session.client("lambda"), reserved)
        + oidc_problems(iam, bootstrap, stack_file)
        + operator_problems(iam, bootstrap, stack_file)
    )
