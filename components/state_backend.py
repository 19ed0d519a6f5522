"""The audited Pulumi state backend: a hardened S3 bucket, its KMS key and a CloudTrail audit trail.

Audit choice: CloudTrail data events on the state prefix, not S3 server access logs. Access
logs are best-effort (AWS documents that records can be lost or late) and name the requester
but cannot be integrity-checked; a trail records every GetObject/PutObject/DeleteObject with
the role session (``signal9-deploy-prod``), delivers reliably, and signs digest files
(log file validation). Pulumi writes a few hundred state objects per deploy, so the data
events cost cents a month.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from signal9 import bootstrap_policies as policies

# Multipart uploads that never finished are invisible garbage; a week is plenty to retry.
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
KEY_DELETION_WINDOW_DAYS = 30


class HardenedBucket(pulumi.ComponentResource):
    """A bucket with versioning, default KMS encryption, no public access, owner-enforced objects,
    a TLS-only policy (plus ``statements``) and noncurrent versions expired after ``retention_days``."""

    bucket: aws.s3.Bucket

    def __init__(
        self,
        name: str,
        *,
        bucket_name: pulumi.Input[str],
        key_arn: pulumi.Input[str],
        retention_days: int,
        policy: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:bootstrap:HardenedBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Protected: the state bucket is the audit record; deleting it must be deliberate.
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=bucket_name, opts=pulumi.ResourceOptions(parent=self, protect=True)
        )
        bucket = self.bucket.id
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key_arn
                    ),
                    # One KMS call per bucket per period instead of per object.
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS
                    ),
                )
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket,
            policy=policy if policy is not None else self.bucket.arn.apply(policies.state_bucket_policy),
            # The public access block must exist first, so the policy is judged with it in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.register_outputs({"bucket": self.bucket.id, "arn": self.bucket.arn})


def customer_key(
    name: str, description: str, policy: pulumi.Input[str], alias: str, opts: pulumi.ResourceOptions
) -> aws.kms.Key:
    """A customer managed key with yearly rotation and an alias (protected: state is unreadable without it)."""
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=policy,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)),
    )
    aws.kms.Alias(f"{name}-alias", name=alias, target_key_id=key.key_id, opts=opts)
    return key
