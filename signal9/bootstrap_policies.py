"""The bootstrap project's policy documents, as pure functions over plain strings.

The bootstrap (``bootstrap/``) deploys these; tests and ``signal9 check --project bootstrap``
judge them without Pulumi. What each identity may do:

- deploy role of stack S (GitHub environment S): ``deploy_policy.TYPE_GRANTS`` on S's names,
  S's own files in the state bucket, the state key (S3 SSE-KMS) and the secrets key;
- preview role (pull requests, every stack): the read calls of the same table on every
  stack's names, reads of the state prefix (plus lock files), decrypt with both keys;
- nobody else uses the keys' data actions (the key policies name these roles).

Pulumi's DIY backend layout under ``<backend URL>/.pulumi/``: ``meta.yaml``,
``stacks/<project>/<stack>.json``, ``history/<project>/<stack>/``,
``backups/<project>/<stack>/``, ``locks/<org>/<project>/<stack>/``
(https://www.pulumi.com/docs/iac/concepts/state-and-backends/).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from signal9 import catalog, dashboard, deploy_policy
from signal9.deploy_policy import (
    POLICY_VERSION,
    STATUS_LOG_GROUP_ACTIONS,
    STATUS_UNSCOPED_ACTIONS,
    TYPE_GRANTS,
    StackTarget,
    check_against_reference,
    deploy_policy_document,
    key_calls,
)

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
STATE_PREFIX = "pulumi"  # PULUMI_BACKEND_URL = s3://<bucket>/pulumi
# A customer managed policy holds at most 6,144 characters (whitespace not counted).
MANAGED_POLICY_LIMIT = 6144
# Read calls of the deploy table, by verb: what a preview (and a refresh) makes.
READ_VERBS = ("Get", "Describe", "List")
# What the key policies delegate to the account's IAM policies: every call the deploy makes on a
# key (``deploy_policy.key_calls``: its lifecycle and aliases; the administrator running the
# bootstrap makes them) and cancelling a scheduled deletion (undoing a mistaken destroy). Never a
# data action. AWS KMS: CreateAlias needs the permission on the key "in a key policy or in an IAM
# policy that is delegated from the key policy" (alias-access.html); without it here the
# bootstrap's first `pulumi up` stopped at creating the aliases.
KEY_ADMIN_ACTIONS = (
    *key_calls({"aws:kms/key:Key", "aws:kms/alias:Alias"}, service_use=False),
    "kms:CancelKeyDeletion",
)


def deploy_role_name(stack: str) -> str:
    return f"{catalog.PROJECT}-deploy-{stack}"


PREVIEW_ROLE_NAME = f"{catalog.PROJECT}-preview"


def github_trust_policy(provider_arn: str, repository: str, *subjects: str) -> dict[str, Any]:
    """Only GitHub Actions runs of ``repository`` with one of these OIDC subjects may assume the role
    (one statement per subject, each with one exact subject)."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "GitHubActionsOidc" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", subject)),
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:{subject}",
                    }
                },
            }
            for subject in subjects
        ],
    }


def deploy_subject(stack: str) -> str:
    """The OIDC subject of a job running in the stack's GitHub environment (deploy.yml)."""
    return f"environment:{stack}"


# Pull-request previews, and the daily drift check (drift.yml: jobs in the GitHub environment `drift`).
PREVIEW_SUBJECTS = ("pull_request", "environment:drift")


def _object(bucket: str, key: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}/{STATE_PREFIX}/.pulumi/{key}"


def state_statements(bucket: str, stack: str | None, partition: str = "aws") -> list[dict[str, Any]]:
    """State bucket access: a stack's deploy role (``stack``) or the preview role (``None``)."""
    listing = {
        "Sid": "ListStatePrefix",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:{partition}:s3:::{bucket}",
        "Condition": {"StringLike": {"s3:prefix": [STATE_PREFIX, f"{STATE_PREFIX}/*"]}},
    }
    if stack is None:
        return [
            listing,
            {
                "Sid": "ReadState",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:{partition}:s3:::{bucket}/{STATE_PREFIX}/*",
            },
            {
                # The DIY backend takes a lock file even for a preview.
                "Sid": "PreviewLocks",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": _object(bucket, "locks/*", partition),
            },
        ]
    project = catalog.PROJECT
    return [
        listing,
        {
            "Sid": "ReadBackendMeta",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": _object(bucket, "meta.yaml", partition),
        },
        {
            "Sid": "OwnStackState",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [
                _object(bucket, f"stacks/{project}/{stack}.json*", partition),
                _object(bucket, f"history/{project}/{stack}/*", partition),
                _object(bucket, f"backups/{project}/{stack}/*", partition),
                _object(bucket, f"locks/*/{project}/{stack}/*", partition),
            ],
        },
    ]


def read_only_document(target: StackTarget) -> dict[str, Any]:
    """The preview role's resource permissions: the table's read calls on ``target``'s names."""
    document = deploy_policy_document(target, TYPE_GRANTS)
    statements = []
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        reads = [a for a in actions if a.split(":", 1)[1].startswith(READ_VERBS)]
        if reads and not statement["Sid"].startswith(("CreateRoles", "Pass", "CreateKeys")):
            statements.append({**statement, "Action": reads})
    return {"Version": POLICY_VERSION, "Statement": statements + status_statements(target)}


def status_statements(target: StackTarget) -> list[dict[str, Any]]:
    """What `signal9 status` reads beyond the table's reads: the functions' run reports and metrics
    (signal9_tools/status.py). `signal9 verify` reads nothing else (its READ_CALLS are the table's)."""
    return [
        {
            "Sid": "StatusLogReads",
            "Effect": "Allow",
            "Action": list(STATUS_LOG_GROUP_ACTIONS),
            "Resource": target.scope("log-group"),
        },
        {"Sid": "StatusMetricReads", "Effect": "Allow", "Action": list(STATUS_UNSCOPED_ACTIONS), "Resource": "*"},
    ]


# What the preview workflow reads of the account before a first deploy (signal9_tools/account_check.py)
# and calls to validate the plan's policies (IAM Access Analyzer's ValidatePolicy: nothing is stored).
ACCOUNT_CHECK_UNSCOPED = (
    "lambda:GetAccountSettings",
    "iam:ListOpenIDConnectProviders",
    "access-analyzer:ValidatePolicy",
)


def account_check_statements(operator_arns: Sequence[str]) -> list[dict[str, Any]]:
    """The preview role's account reads: Lambda's limits, the OIDC providers, the operator roles (by ARN)."""
    for action in ACCOUNT_CHECK_UNSCOPED:
        check_against_reference(action, None)
    statements: list[dict[str, Any]] = [
        {"Sid": "PreflightAccountReads", "Effect": "Allow", "Action": list(ACCOUNT_CHECK_UNSCOPED), "Resource": "*"}
    ]
    if operator_arns:
        check_against_reference("iam:GetRole", "role")
        statements.append(
            {
                "Sid": "PreflightOperatorRoles",
                "Effect": "Allow",
                "Action": "iam:GetRole",
                "Resource": sorted(operator_arns),
            }
        )
    return statements


VERIFY_INVOKE_ACTION = "lambda:InvokeFunction"


# The deploy workflow marks each deploy before `pulumi up` (signal9.dashboard.DEPLOYMENTS_METRIC).
DEPLOY_MARK_ACTION = "cloudwatch:PutMetricData"


def verify_statements(target: StackTarget) -> list[dict[str, Any]]:
    """What the deploy role needs around `pulumi up` besides the deploy itself (deploy.yml): mark the
    deploy (a datapoint in the Signal9 namespace only), then `signal9 verify --invoke`: one run of each
    scheduled function (Invoke on those functions only) and `signal9 status`."""
    check_against_reference(VERIFY_INVOKE_ACTION, "function")
    check_against_reference(DEPLOY_MARK_ACTION, None)
    functions = [
        f"arn:{target.partition}:lambda:{target.region}:{target.account_id}:function:{target.naming.function(f.name)}"
        for f in catalog.scheduled_functions()
    ]
    invoke = {
        "Sid": "VerifyRunsScheduledFunctions",
        "Effect": "Allow",
        "Action": VERIFY_INVOKE_ACTION,
        "Resource": functions,
    }
    mark = {
        "Sid": "MarkDeploys",
        "Effect": "Allow",
        "Action": DEPLOY_MARK_ACTION,
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": dashboard.CUSTOM_NAMESPACE}},
    }
    return [*status_statements(target), invoke, mark]


def chunk_statements(
    statements: Sequence[Mapping[str, Any]], limit: int = MANAGED_POLICY_LIMIT
) -> list[dict[str, Any]]:
    """Statements packed into as few policy documents as fit AWS's managed policy size limit."""
    documents: list[list[Mapping[str, Any]]] = [[]]
    for statement in statements:
        candidate = [*documents[-1], statement]
        if documents[-1] and policy_size({"Version": POLICY_VERSION, "Statement": candidate}) > limit:
            documents.append([statement])
        else:
            documents[-1] = candidate
    for chunk in documents:
        if policy_size({"Version": POLICY_VERSION, "Statement": chunk}) > limit:
            raise ValueError(f"statement {chunk[0].get('Sid')} alone exceeds the {limit}-character policy limit")
    return [{"Version": POLICY_VERSION, "Statement": list(chunk)} for chunk in documents]


def policy_size(document: Mapping[str, Any]) -> int:
    """The size AWS counts: the JSON text without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def key_policy(
    account_id: str,
    users: Mapping[str, Iterable[str]],
    extra: Sequence[Mapping[str, Any]] = (),
    partition: str = "aws",
) -> str:
    """A key policy: the account administers the key (no data use), the named roles use it.

    ``users`` maps a statement id to the role ARNs allowed the actions in ``KEY_USES[sid]``.
    """
    statements: list[Mapping[str, Any]] = [
        {
            # Delegates administration (never decryption) to IAM, so the key cannot be orphaned.
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": list(KEY_ADMIN_ACTIONS),
            "Resource": "*",
        }
    ]
    for sid, roles in users.items():
        arns = sorted(roles)
        if arns:
            statements.append(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": arns},
                    "Action": list(KEY_USES[sid]),
                    "Resource": "*",
                }
            )
    statements.extend(extra)
    return json.dumps({"Version": POLICY_VERSION, "Statement": statements})


# Data actions per key-policy statement id. S3 SSE-KMS needs GenerateDataKey to write and
# Decrypt to read; Pulumi's awskms:// secrets provider Encrypts and Decrypts the stack's data key.
KEY_USES: dict[str, tuple[str, ...]] = {
    "DeployRolesUseStateKey": ("kms:Decrypt", "kms:GenerateDataKey"),
    "PreviewRoleUsesStateKey": ("kms:Decrypt", "kms:GenerateDataKey"),
    "DeployRolesUseSecretsKey": ("kms:Encrypt", "kms:Decrypt"),
    "PreviewRoleReadsSecrets": ("kms:Decrypt",),
    # People: stack init, config set --secret and break-glass deploys need both keys.
    "OperatorsUseStateKey": ("kms:Decrypt", "kms:GenerateDataKey"),
    "OperatorsUseSecretsKey": ("kms:Encrypt", "kms:Decrypt"),
}


CLOUDTRAIL_KEY_POLICY_PAGE = (
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html"
)
# The AWS page each service principal's key-policy statement follows (tests/test_preflight.py
# holds each statement against the page's actions and conditions).
AWS_PAGES: dict[str, str] = {
    "CloudTrailEncryptsStateAudit": CLOUDTRAIL_KEY_POLICY_PAGE,
    "CloudTrailDescribesStateKey": CLOUDTRAIL_KEY_POLICY_PAGE,
}


def cloudtrail_key_statements(account_id: str, trail_arn: str) -> list[dict[str, Any]]:
    """CloudTrail may encrypt this account's audit trail log files with the state key.

    AWS's "Configure AWS KMS key policies for CloudTrail" (``CLOUDTRAIL_KEY_POLICY_PAGE``): the
    encrypt statement (conditioned on the trail and the encryption context CloudTrail sends with
    GenerateDataKey) and, as its own statement, describing the key, conditioned on the trail
    only: a DescribeKey request carries no encryption context, so under the encrypt statement's
    condition it would always be refused and the trail could not use the key. The page's third
    element, decrypting log files, is the operators' statement (``OperatorsUseStateKey``); it also
    covers the page's note that creating or updating a trail whose bucket uses an S3 Bucket Key
    (the audit bucket does) needs kms:Decrypt: the bootstrap is run by an operator.
    """
    partition = trail_arn.split(":")[1]
    principal = {"Service": "cloudtrail.amazonaws.com"}
    this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return [
        {
            "Sid": "CloudTrailEncryptsStateAudit",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                **this_trail,
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{account_id}:trail/*"
                },
            },
        },
        {
            "Sid": "CloudTrailDescribesStateKey",
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["kms:DescribeKey"],
            "Resource": "*",
            "Condition": this_trail,
        },
    ]


def tls_only_statement(bucket_arn: str) -> dict[str, Any]:
    """Refuse every request to the bucket that is not over TLS (a Deny: wildcards only narrow)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def audit_bucket_policy(bucket_arn: str, trail_arn: str) -> str:
    """The audit bucket: TLS only; CloudTrail (for this trail only) checks the ACL and writes logs."""
    source = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return json.dumps(
        {
            "Version": POLICY_VERSION,
            "Statement": [
                tls_only_statement(bucket_arn),
                {
                    "Sid": "CloudTrailChecksAcl",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": bucket_arn,
                    "Condition": source,
                },
                {
                    "Sid": "CloudTrailWritesLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/*",
                    "Condition": source,
                },
            ],
        }
    )


def state_bucket_policy(bucket_arn: str) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": [tls_only_statement(bucket_arn)]})


def state_bucket_name(account_id: str) -> str:
    """Bucket names are global: the account id makes the state bucket's unique and predictable."""
    return f"{catalog.PROJECT}-pulumi-state-{account_id}"


def audit_bucket_name(account_id: str) -> str:
    return f"{catalog.PROJECT}-pulumi-audit-{account_id}"


def state_backend_url(account_id: str) -> str:
    """``PULUMI_BACKEND_URL`` for GitHub and ``pulumi login``."""
    return f"s3://{state_bucket_name(account_id)}/{STATE_PREFIX}"


def reference_needs() -> tuple[set[str], set[tuple[str, str]]]:
    """Every action and resource type the deploy and bootstrap policies are checked with (the committed slice)."""
    actions, resource_types = deploy_policy.referenced()
    extra = {*ACCOUNT_CHECK_UNSCOPED, "iam:GetRole", VERIFY_INVOKE_ACTION, DEPLOY_MARK_ACTION}
    return actions | extra, resource_types
