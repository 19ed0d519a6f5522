"""Policy rules for the bootstrap project's plan (``signal9 check --project bootstrap --stack <account>``).

The state bucket is the audit record of every deploy, so each bucket the bootstrap makes
must be versioned, KMS-encrypted, private, owner-enforced, TLS-only and expire old versions
only after the configured retention; keys rotate; the deploy identities grant no wildcard
action and ``Resource: "*"`` only for the actions AWS cannot scope (``deploy_policy.UNSCOPABLE``);
GitHub trust names one repository and one subject.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from signal9.bootstrap_policies import GITHUB_OIDC_HOST
from signal9.deploy_policy import UNSCOPABLE
from signal9.policy_rules import (
    ACTIONS_WITHOUT_RESOURCE_LEVEL,
    POLICY,
    ROLE,
    ResourceRule,
    Rule,
    StackReport,
    StackRule,
    _as_list,
    _inputs,
    _json,
    check_iam_no_wildcards,
    is_known,
)

BUCKET = "aws:s3/bucket:Bucket"
KMS_KEY = "aws:kms/key:Key"
Resource = Mapping[str, Any]
Requirement = Callable[[Mapping[str, Any]], bool]


def _all_true(inputs: Mapping[str, Any], *keys: str) -> bool:
    return all(inputs.get(k) is True for k in keys)


def _tls_only(inputs: Mapping[str, Any]) -> bool:
    policy = _json(inputs.get("policy"))
    statements = _as_list(policy.get("Statement")) if isinstance(policy, Mapping) else []
    return any(
        s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
        if isinstance(s, Mapping)
    )


def _kms_default(inputs: Mapping[str, Any]) -> bool:
    for rule in _as_list(inputs.get("rules")):
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        if default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId"):
            return True
    return False


def _expires_old_versions(inputs: Mapping[str, Any]) -> bool:
    return any(
        r.get("status") == "Enabled" and (r.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
        for r in _as_list(inputs.get("rules"))
    )


# What each bucket needs, by the type of the companion resource that provides it.
BUCKET_REQUIREMENTS: dict[str, tuple[str, Requirement]] = {
    "aws:s3/bucketVersioning:BucketVersioning": (
        "versioning enabled",
        lambda i: (i.get("versioningConfiguration") or {}).get("status") == "Enabled",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "default encryption with a KMS key",
        _kms_default,
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "every public access block setting on",
        lambda i: _all_true(i, "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"),
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "object ownership BucketOwnerEnforced (no ACLs)",
        lambda i: (i.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced",
    ),
    "aws:s3/bucketPolicy:BucketPolicy": ("a policy denying requests without TLS", _tls_only),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "a lifecycle rule expiring noncurrent versions after the retention",
        _expires_old_versions,
    ),
}


def check_buckets_hardened(resources: Sequence[Resource], report: StackReport) -> None:
    """Each bucket has every companion setting of ``BUCKET_REQUIREMENTS``, satisfied."""
    for bucket in (r for r in resources if r.get("type") == BUCKET):
        name = _inputs(bucket).get("bucket")
        if not is_known(name):
            continue
        for companion, (what, satisfied) in BUCKET_REQUIREMENTS.items():
            found = [r for r in resources if r.get("type") == companion and _inputs(r).get("bucket") == name]
            if not any(satisfied(_inputs(r)) for r in found):
                report(f"bucket {name!r} lacks {what}", bucket.get("name"))


def check_key_rotation(resources: Sequence[Resource], report: StackReport) -> None:
    for key in (r for r in resources if r.get("type") == KMS_KEY):
        if _inputs(key).get("enableKeyRotation") is not True:
            report(f"KMS key {key.get('name')} must enable yearly rotation", key.get("name"))


def check_github_trust(resources: Sequence[Resource], report: StackReport) -> None:
    """A role GitHub may assume names the audience and one exact repository subject."""
    for role in (r for r in resources if r.get("type") == ROLE):
        trust = _json(_inputs(role).get("assumeRolePolicy"))
        for statement in _as_list(trust.get("Statement") if isinstance(trust, Mapping) else None):
            if "Federated" not in (statement.get("Principal") or {}):
                continue
            equals = (statement.get("Condition") or {}).get("StringEquals") or {}
            subject = equals.get(f"{GITHUB_OIDC_HOST}:sub")
            if not equals.get(f"{GITHUB_OIDC_HOST}:aud") or not isinstance(subject, str) or "*" in subject:
                report(
                    f"{role.get('name')}: GitHub trust must fix aud and one exact sub (got {subject!r})",
                    role.get("name"),
                )


UNSCOPABLE_ACTIONS = ACTIONS_WITHOUT_RESOURCE_LEVEL | {action.lower() for action in UNSCOPABLE}

BOOTSTRAP_RULES: tuple[Rule, ...] = (
    StackRule(
        "state-buckets-hardened",
        "Bootstrap buckets: versioned, KMS-encrypted, private, owner-enforced, TLS-only, old versions expire.",
        check_buckets_hardened,
    ),
    StackRule("kms-key-rotation", "Every bootstrap KMS key rotates yearly.", check_key_rotation),
    ResourceRule(
        "deploy-identities-no-wildcards",
        'Deploy, preview and boundary policies: no wildcard action; Resource "*" only for actions AWS cannot scope.',
        frozenset({ROLE, POLICY}),
        functools.partial(check_iam_no_wildcards, unscopable=frozenset(UNSCOPABLE_ACTIONS)),
    ),
    StackRule("github-trust-scoped", "GitHub OIDC roles trust one repository and one subject.", check_github_trust),
)
