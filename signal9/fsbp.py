"""AWS Security Hub controls for the services Signal9 deploys, and where the stack stands on each.

The FSBP (AWS Foundational Security Best Practices) controls for DynamoDB, Lambda, SQS, SNS,
Secrets Manager, EventBridge, KMS and IAM, as the standard lists them (checked December
2025; FSBP has no CloudWatch, CloudWatch Logs or EventBridge Scheduler controls). Then the
controls of Security Hub's other standards (NIST SP 800-53 r5, CIS) and the common IaC-scanner
checks (checkov, cdk-nag's AwsSolutions pack) an auditor brings for the same services.

Each entry is met (by the named ``signal9.policy_rules`` rules, which ``signal9 check`` and
the CrossGuard pack enforce on every stack), not applicable (why), or waived (the reason, the
risk, and what would change the decision). ``docs/security-review.md`` renders this table
(``signal9_tools.docgen``) and ``tests/test_fsbp.py`` holds every "met" to a rule that exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["met", "not applicable", "waived"]
FSBP = "FSBP"
NIST = "NIST 800-53"
CIS = "CIS"
SCANNER = "checkov"
CDK_NAG = "cdk-nag"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    standard: str
    status: Status
    # met: the rules enforcing it; the resource inputs that satisfy it.
    rules: tuple[str, ...] = ()
    how: str = ""
    # not applicable / waived: why; waived also: the risk and what would change the decision.
    reason: str = ""
    risk: str = ""
    revisit: str = ""


def met(id: str, title: str, rules: tuple[str, ...], how: str, standard: str = FSBP) -> Control:
    return Control(id, title, standard, "met", rules=rules, how=how)


def not_applicable(id: str, title: str, reason: str, standard: str = FSBP) -> Control:
    return Control(id, title, standard, "not applicable", reason=reason)


def waived(id: str, title: str, reason: str, risk: str, revisit: str, standard: str = FSBP) -> Control:
    return Control(id, title, standard, "waived", reason=reason, risk=risk, revisit=revisit)


NO_DAX = "Signal9 runs no DynamoDB Accelerator (DAX) cluster."
NO_VPC = "Signal9's functions run outside a VPC (see Lambda.3)."
NO_USERS = (
    "Signal9 creates no IAM users, passwords or access keys (roles only; CI uses GitHub OIDC). "
    "Account-level credentials belong to the account baseline, not this stack."
)
ROTATION_REASON = (
    "The Alpaca and AlphaVantage keys are issued by those vendors' consoles; no AWS rotation Lambda "
    "can mint a new one, and the seed puts automated rotation out of scope. Rotation is a manual "
    "runbook (docs/runbooks/rotating-credentials.md)."
)
ROTATION_RISK = "A leaked key stays valid until an operator rotates it by hand."
ROTATION_REVISIT = "A vendor API to issue and revoke keys, or a compliance rule requiring a rotation period."

CONTROLS: tuple[Control, ...] = (
    # --- DynamoDB ---
    met(
        "DynamoDB.1",
        "DynamoDB tables should automatically scale capacity with demand",
        ("table-on-demand-pitr",),
        "`billing_mode=PAY_PER_REQUEST` (on demand) on every table",
    ),
    met(
        "DynamoDB.2",
        "DynamoDB tables should have point-in-time recovery enabled",
        ("table-on-demand-pitr",),
        "`point_in_time_recovery.enabled=True` on every table",
    ),
    not_applicable("DynamoDB.3", "DynamoDB Accelerator (DAX) clusters should be encrypted at rest", NO_DAX),
    met(
        "DynamoDB.6",
        "DynamoDB tables should have deletion protection enabled",
        ("table-deletion-protection",),
        "`deletion_protection_enabled` from `signal9:protection` (required on staging and prod; "
        "dev stacks are disposable by design)",
    ),
    not_applicable("DynamoDB.7", "DynamoDB Accelerator clusters should be encrypted in transit", NO_DAX),
    waived(
        "DynamoDB.4",
        "DynamoDB tables should be present in a backup plan",
        "Point-in-time recovery (35 days, any second) already restores every table; an AWS Backup "
        "plan would add a vault, a role and storage for a second copy.",
        "Data older than 35 days cannot be restored to an earlier state (tables keep history rows, "
        "and prod tables are protected from deletion).",
        "A retention requirement beyond 35 days or a cross-account/cross-region copy mandate.",
        standard=NIST,
    ),
    # --- Lambda ---
    met(
        "Lambda.1",
        "Lambda function policies should prohibit public access",
        ("resource-policies-scoped",),
        "the only `lambda.Permission`s name `events.amazonaws.com` with the rule's `source_arn`",
    ),
    met(
        "Lambda.2",
        "Lambda functions should use supported runtimes",
        ("function-tracing-runtime",),
        "`runtime=python3.13` on every function",
    ),
    not_applicable("Lambda.5", "VPC Lambda functions should operate in multiple Availability Zones", NO_VPC),
    waived(
        "Lambda.3",
        "Lambda functions should be in a VPC",
        "Nothing private to reach: every dependency is a regional AWS API or a public HTTPS vendor API. "
        "A VPC would need NAT gateways (about $33/month each, per AZ) or VPC endpoints for six services.",
        "Traffic to AWS APIs leaves over the public AWS endpoints (TLS, SigV4); no egress filtering "
        "limits where a compromised function could send data.",
        "A private resource (RDS, ElastiCache) or an egress-allow-list requirement.",
        standard=NIST,
    ),
    met(
        "Lambda.7",
        "Lambda functions should have AWS X-Ray active tracing enabled",
        ("function-tracing-runtime", "iam-no-wildcards"),
        '`tracing_config={"mode": "Active"}`; roles may `xray:PutTraceSegments`/`PutTelemetryRecords` '
        'on `"*"` only (X-Ray offers no narrower resource)',
        standard=NIST,
    ),
    met(
        "CKV_AWS_116",
        "Lambda function is configured with a dead-letter queue",
        ("function-dead-letter-queue",),
        "`dead_letter_config.target_arn` = the function's own DLQ",
        standard=SCANNER,
    ),
    met(
        "CKV_AWS_173",
        "Lambda environment variables are encrypted with a customer managed key",
        ("encryption-at-rest",),
        "`kms_key_arn` = the stack key on staging and prod (dev: Lambda's AWS owned key)",
        standard=SCANNER,
    ),
    waived(
        "CKV_AWS_115",
        "Lambda function has a function-level concurrency limit",
        "PollenateAsset gets `reserved_concurrent_executions` from `signal9:alphaVantage.pollenationConcurrency` "
        "(it protects the AlphaVantage plan). The other six run once per schedule tick; reserving for "
        "them would take from the account pool, and a new account's quota can be as low as 10 "
        "concurrent executions while Lambda keeps at least 100 unreserved.",
        "A runaway schedule could use the account's concurrency; the throttle and error alarms fire.",
        "A raised account quota with other workloads competing for it.",
        standard=SCANNER,
    ),
    waived(
        "CKV_AWS_272",
        "Lambda function is configured to validate code signing",
        "Pulumi uploads the archive it builds from functions/ directly. Code signing would need an "
        "AWS Signer profile, the archive put to a versioned S3 bucket, a signing job per build, "
        "functions deployed from the signed S3 object and a `lambda.CodeSigningConfig` "
        "(`untrusted_artifact_on_deployment=Enforce`) on each function.",
        "Someone with deploy rights could ship unreviewed code; mitigated by the protected prod "
        "environment (required reviewers) and CI being the only deployer.",
        "Deploys from more than one pipeline, or a supply-chain requirement for signed artifacts.",
        standard=SCANNER,
    ),
    # --- SQS ---
    met(
        "SQS.1",
        "Amazon SQS queues should be encrypted at rest",
        ("encryption-at-rest",),
        "DLQs: `kms_master_key_id` = the stack key on staging and prod, `sqs_managed_sse_enabled` on dev",
    ),
    met(
        "SQS.3",
        "SQS queue access policies should not allow public access",
        ("resource-policies-scoped",),
        "the DLQ policies name `events.amazonaws.com` with `aws:SourceArn` = the rule",
    ),
    met(
        "AwsSolutions-SQS4",
        "The SQS queue does not require requests to use SSL",
        ("tls-only",),
        "every DLQ's policy denies `sqs:*` to `*` when `aws:SecureTransport` is false (FunctionFleet, "
        "or EventRoutes next to the rule's grant)",
        standard=CDK_NAG,
    ),
    # --- SNS ---
    met(
        "SNS.1",
        "SNS topics should be encrypted at rest using AWS KMS",
        ("encryption-at-rest",),
        "alarm topic `kms_master_key_id` = the stack key (CloudWatch may use it for this stack's alarms)",
    ),
    waived(
        "SNS.2",
        "Logging of delivery status should be enabled for notification messages sent to a topic",
        "The alarm topic's subscribers are email addresses; SNS writes delivery status logs only for "
        "HTTP(S), SQS, Lambda, Firehose, platform and SMS endpoints, so the feedback role would log nothing.",
        "A bouncing alarm email goes unnoticed by AWS.",
        "A pager, chat or HTTPS subscriber on the topic.",
    ),
    met(
        "SNS.4",
        "SNS topic access policies should not allow public access",
        ("resource-policies-scoped",),
        "the topic policy grants `sns:Publish` only to `cloudwatch.amazonaws.com` for this stack's alarms "
        "(`aws:SourceArn`, `aws:SourceAccount`)",
    ),
    met(
        "AwsSolutions-SNS3",
        "The SNS Topic does not require publishers to use SSL",
        ("tls-only",),
        "the topic policy denies `sns:Publish` to `*` when `aws:SecureTransport` is false",
        standard=CDK_NAG,
    ),
    # --- Secrets Manager ---
    waived(
        "SecretsManager.1",
        "Secrets Manager secrets should have automatic rotation enabled",
        ROTATION_REASON,
        ROTATION_RISK,
        ROTATION_REVISIT,
    ),
    not_applicable(
        "SecretsManager.2",
        "Secrets Manager secrets configured with automatic rotation should rotate successfully",
        "No secret has automatic rotation (SecretsManager.1).",
    ),
    waived(
        "SecretsManager.3",
        "Remove unused Secrets Manager secrets",
        "It judges last access in AWS, which no deploy-time rule can see; every catalog secret is read "
        "by at least one function on each run (signal9/catalog.py).",
        "None while the collectors run; Security Hub reports a secret unused for 90 days.",
        "A secret no function reads any more: remove it from the catalog.",
    ),
    waived(
        "SecretsManager.4",
        "Secrets Manager secrets should be rotated within a specified number of days",
        ROTATION_REASON,
        ROTATION_RISK,
        ROTATION_REVISIT,
    ),
    met(
        "CKV_AWS_149",
        "Secrets Manager secret is encrypted with a customer managed key",
        ("encryption-at-rest",),
        "`kms_key_id` = the stack key on staging and prod (dev: `aws/secretsmanager`)",
        standard=SCANNER,
    ),
    # --- EventBridge and Scheduler ---
    met(
        "EventBridge.3",
        "EventBridge custom event buses should have a resource-based policy attached",
        ("event-bus-policy", "resource-policies-scoped"),
        "`cloudwatch.EventBusPolicy`: the producer roles may `events:PutEvents`; every other non-service "
        "principal is denied",
    ),
    not_applicable(
        "EventBridge.4",
        "EventBridge global endpoints should have event replication enabled",
        "Signal9 uses no global endpoint (one region per stack).",
        standard=NIST,
    ),
    met(
        "CKV_AWS_297",
        "EventBridge Scheduler schedule uses a customer managed key",
        ("encryption-at-rest",),
        "`kms_key_arn` = the stack key on staging and prod (dev: Scheduler's AWS owned key)",
        standard=SCANNER,
    ),
    # --- KMS ---
    met(
        "KMS.1",
        "IAM customer managed policies should not allow decryption actions on all KMS keys",
        ("iam-no-wildcards", "iam-no-aws-managed-policies"),
        "no managed policies at all; `kms:Decrypt` only on the stack key's ARN",
    ),
    met(
        "KMS.2",
        "IAM principals should not have IAM inline policies that allow decryption actions on all KMS keys",
        ("iam-no-wildcards",),
        "inline role policies grant `kms:Decrypt` on the stack key's ARN, through named services only",
    ),
    met(
        "KMS.3",
        "AWS KMS keys should not be unintentionally deleted",
        ("kms-key-rotation-deletion-window",),
        "`deletion_window_in_days=30` (the longest: a mistaken destroy can be cancelled for a month)",
    ),
    met(
        "KMS.4",
        "AWS KMS key rotation should be enabled",
        ("kms-key-rotation-deletion-window",),
        "`enable_key_rotation=True`",
        standard=CIS,
    ),
    met(
        "KMS.5",
        "KMS keys should not be publicly accessible",
        ("resource-policies-scoped",),
        "the key policy names the account, the stack's roles and three services, each scoped to this stack",
    ),
    # --- IAM ---
    met(
        "IAM.1",
        'IAM policies should not allow full "*" administrative privileges',
        ("iam-no-wildcards",),
        'every action named; `Resource: "*"` only for the two X-Ray actions',
    ),
    *(
        not_applicable(id, title, NO_USERS)
        for id, title in (
            ("IAM.2", "IAM users should not have IAM policies attached"),
            ("IAM.3", "IAM users' access keys should be rotated every 90 days or less"),
            ("IAM.4", "IAM root user access key should not exist"),
            ("IAM.5", "MFA should be enabled for all IAM users that have a console password"),
            ("IAM.6", "Hardware MFA should be enabled for the root user"),
            ("IAM.7", "Password policies for IAM users should have strong configurations"),
            ("IAM.8", "Unused IAM user credentials should be removed"),
        )
    ),
    met(
        "IAM.21",
        "IAM customer managed policies that you create should not allow wildcard actions for services",
        ("iam-no-wildcards",),
        "no `service:*` actions in any role policy",
    ),
    # --- CloudWatch and CloudWatch Logs ---
    met(
        "CloudWatch.15",
        "CloudWatch alarms should have specified actions configured",
        ("alarm-actions",),
        "every alarm's `alarm_actions` and `ok_actions` = the alarm topic",
        standard=NIST,
    ),
    waived(
        "CloudWatch.16",
        "CloudWatch log groups should be retained for a specified time period",
        "Every log group has a retention (`signal9:logRetentionDays`, rule log-group-retention) but "
        "below the control's default of 365 days (dev 14, staging 30, prod 90): logs are operational; "
        "the data itself is kept forever in the tables.",
        "Investigating an incident older than the retention has no function logs.",
        "An audit requirement for a year of logs: set `signal9:logRetentionDays: 365` on prod.",
        standard=NIST,
    ),
    met(
        "CloudWatch.17",
        "CloudWatch alarm actions should be activated",
        ("alarm-actions",),
        "`actions_enabled` left at its default (true) on every alarm",
        standard=NIST,
    ),
    met(
        "CKV_AWS_158",
        "CloudWatch log group is encrypted with a customer managed key",
        ("encryption-at-rest",),
        "`kms_key_id` = the stack key on staging and prod (the key policy lets CloudWatch Logs use it for "
        "`/aws/lambda/signal9-<stack>-*` only)",
        standard=SCANNER,
    ),
    met(
        "CKV_AWS_119",
        "DynamoDB table is encrypted with a customer managed key",
        ("encryption-at-rest",),
        "`server_side_encryption={enabled: True, kms_key_arn: <stack key>}` on staging and prod "
        "(dev: DynamoDB's AWS owned key)",
        standard=SCANNER,
    ),
)


def control(id: str) -> Control:
    return next(c for c in CONTROLS if c.id == id)
