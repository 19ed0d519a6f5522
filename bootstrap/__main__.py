"""Signal9 bootstrap: what an administrator deploys once per AWS account, before any stack.

    roles (OIDC provider, preview, deploy per stack, boundaries) ──► key policies name them
    state key ──► state bucket (versioned, KMS, private, TLS-only, lifecycle)
              └─► audit bucket ◄── CloudTrail data events on the state prefix
    secrets key (awskms:// for every stack's Pulumi secrets)

`signal9 plan --project bootstrap --stack main` shows it offline; docs/deploy.md has the steps.
"""

import pulumi
import pulumi_aws as aws

from components.deploy_identities import DeployIdentities
from components.state_backend import HardenedBucket, customer_key
from signal9 import bootstrap_config
from signal9 import bootstrap_policies as policies
from signal9.catalog import PROJECT

config = bootstrap_config.load()
provider = aws.Provider(
    "aws",
    region=aws.config.region,
    default_tags=aws.ProviderDefaultTagsArgs(
        tags={"Project": PROJECT, "ManagedBy": "pulumi", "Component": "bootstrap"}
    ),
)
defaults = pulumi.ResourceOptions(providers=[provider])
account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id
region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(provider=provider)).region

identities = DeployIdentities(
    "github", config, account_id=account_id, state_bucket=account_id.apply(policies.state_bucket_name), opts=defaults
)
deploy_arns = pulumi.Output.all(*(role.arn for role in identities.deploy_roles.values()))
trail_name = f"{PROJECT}-state-audit"
trail_arn = pulumi.Output.concat("arn:aws:cloudtrail:", region, ":", account_id, ":trail/", trail_name)

state_key = customer_key(
    "state-key",
    "Signal9 Pulumi state bucket and its audit trail",
    pulumi.Output.all(account_id, deploy_arns, identities.preview_role.arn, trail_arn).apply(
        lambda parts: policies.key_policy(
            parts[0],
            {
                "DeployRolesUseStateKey": parts[1],
                "PreviewRoleUsesStateKey": [parts[2]],
                "OperatorsUseStateKey": config.operatorArns,
            },
            policies.cloudtrail_key_statements(parts[0], parts[3]),
        )
    ),
    f"alias/{PROJECT}-pulumi-state",
    defaults,
)
secrets_key = customer_key(
    "secrets-key",
    "Signal9 Pulumi secrets (awskms:// secrets provider of every stack)",
    pulumi.Output.all(account_id, deploy_arns, identities.preview_role.arn).apply(
        lambda parts: policies.key_policy(
            parts[0],
            {
                "DeployRolesUseSecretsKey": parts[1],
                "PreviewRoleReadsSecrets": [parts[2]],
                "OperatorsUseSecretsKey": config.operatorArns,
            },
        )
    ),
    f"alias/{PROJECT}-pulumi",
    defaults,
)

state = HardenedBucket(
    "state",
    bucket_name=account_id.apply(policies.state_bucket_name),
    key_arn=state_key.arn,
    retention_days=config.stateVersionRetentionDays,
    opts=defaults,
)
audit = HardenedBucket(
    "audit",
    bucket_name=account_id.apply(policies.audit_bucket_name),
    key_arn=state_key.arn,
    retention_days=config.auditLogRetentionDays,
    policy=pulumi.Output.all(account_id.apply(policies.audit_bucket_name), trail_arn).apply(
        lambda parts: policies.audit_bucket_policy(f"arn:aws:s3:::{parts[0]}", parts[1])
    ),
    opts=defaults,
)
aws.cloudtrail.Trail(
    "state-audit",
    name=trail_name,
    s3_bucket_name=audit.bucket.id,
    kms_key_id=state_key.arn,
    enable_log_file_validation=True,
    include_global_service_events=False,
    advanced_event_selectors=[
        aws.cloudtrail.TrailAdvancedEventSelectorArgs(
            name="Pulumi state object reads and writes",
            field_selectors=[
                aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(field="eventCategory", equals=["Data"]),
                aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                    field="resources.type", equals=["AWS::S3::Object"]
                ),
                aws.cloudtrail.TrailAdvancedEventSelectorFieldSelectorArgs(
                    field="resources.ARN",
                    starts_withs=[state.bucket.arn.apply(lambda arn: f"{arn}/{policies.STATE_PREFIX}/")],
                ),
            ],
        )
    ],
    opts=pulumi.ResourceOptions(providers=[provider], depends_on=[audit]),
)

pulumi.export("stateBackendUrl", account_id.apply(policies.state_backend_url))
pulumi.export("secretsProvider", pulumi.Output.concat("awskms://alias/", PROJECT, "-pulumi?region=", region))
pulumi.export("previewRoleArn", identities.preview_role.arn)
pulumi.export("deployRoleArns", {stack: role.arn for stack, role in identities.deploy_roles.items()})
pulumi.export("permissionsBoundaryArns", {stack: policy.arn for stack, policy in identities.boundaries.items()})
pulumi.export("stateKeyArn", state_key.arn)
pulumi.export("secretsKeyArn", secrets_key.arn)
