"""GitHub Actions' AWS identities: the OIDC provider, the preview role, one deploy role per stack,
and each stack's permissions boundary.

- deploy role ``signal9-deploy-<stack>``: trusted only by jobs in the GitHub environment
  ``<stack>`` of the configured repository; may make the calls of ``signal9.deploy_policy``
  on that stack's names and touch that stack's state files (``bootstrap_policies``);
- preview role ``signal9-preview``: trusted only by pull-request jobs and the daily drift job
  (environment ``drift``); the read calls of the same table on every stack's names, reads of the
  state, and what ``signal9 preflight --account`` reads of the account;
- boundary ``signal9-<stack>-permissions-boundary`` (``signal9.boundary``): the ceiling of
  every role the program creates; the deploy role may create roles only with it.

KMS use is granted in the key policies (``bootstrap/__main__.py``), which name these roles.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from signal9 import bootstrap_policies as policies
from signal9.bootstrap_config import BootstrapConfig
from signal9.boundary import boundary_document
from signal9.deploy_policy import TYPE_GRANTS, StackTarget, deploy_policy_document
from signal9.stackfile import stack_region

GITHUB_OIDC_URL = f"https://{policies.GITHUB_OIDC_HOST}"
# A deploy of the whole stack takes minutes; an hour covers a slow one without lingering keys.
MAX_SESSION_SECONDS = 3600


def _attach(
    name: str, role: aws.iam.Role, documents: pulumi.Output[list[dict[str, Any]]], count: int, parent: pulumi.Resource
) -> list[aws.iam.Policy]:
    """Managed policies ``<role>-<n>`` holding ``documents`` (split to fit AWS's size limit), attached."""
    attached = []
    for index in range(count):
        policy = aws.iam.Policy(
            f"{name}-policy-{index + 1}",
            name=role.name.apply(functools.partial(_part_name, index)),
            description=f"Signal9 {name}: generated from the catalog and the program (part {index + 1})",
            policy=documents.apply(functools.partial(_part_json, index)),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-policy-{index + 1}-attachment",
            role=role.name,
            policy_arn=policy.arn,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        attached.append(policy)
    return attached


def _placeholder(stack: str) -> StackTarget:
    return _target(stack, "0" * 12)


def _target(stack: str, account_id: str) -> StackTarget:
    return StackTarget(stack, account_id, stack_region(stack))


def _part_name(index: int, role_name: str) -> str:
    return f"{role_name}-{index + 1}"


def _part_json(index: int, documents: list[dict[str, Any]]) -> str:
    return json.dumps(documents[index])


def _deploy_parts(stack: str, parts: list[Any]) -> list[dict[str, Any]]:
    return deploy_statements(parts[0], parts[1], stack)


class DeployIdentities(pulumi.ComponentResource):
    """The OIDC provider, the preview role, and per stack a deploy role and a permissions boundary."""

    preview_role: aws.iam.Role
    deploy_roles: dict[str, aws.iam.Role]
    boundaries: dict[str, aws.iam.Policy]

    def __init__(
        self,
        name: str,
        config: BootstrapConfig,
        *,
        account_id: pulumi.Output[str],
        state_bucket: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:bootstrap:DeployIdentities", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if config.oidcProviderArn:
            provider_arn: pulumi.Output[str] = pulumi.Output.from_input(config.oidcProviderArn)
        else:
            provider_arn = aws.iam.OpenIdConnectProvider(
                "github-oidc",
                url=GITHUB_OIDC_URL,
                client_id_lists=[policies.GITHUB_OIDC_AUDIENCE],
                opts=child,
            ).arn

        def trust(*subjects: str) -> pulumi.Output[str]:
            return provider_arn.apply(
                lambda arn: json.dumps(policies.github_trust_policy(arn, config.repository, *subjects))
            )

        self.preview_role = aws.iam.Role(
            "preview-role",
            name=policies.PREVIEW_ROLE_NAME,
            description=f"Signal9 pull-request previews of {config.repository} (read-only)",
            assume_role_policy=trust(*policies.PREVIEW_SUBJECTS),
            max_session_duration=MAX_SESSION_SECONDS,
            opts=child,
        )
        self.deploy_roles = {}
        self.boundaries = {}
        targets = {stack: account_id.apply(functools.partial(_target, stack)) for stack in config.stacks}
        for stack, target in targets.items():
            self.boundaries[stack] = aws.iam.Policy(
                f"{stack}-permissions-boundary",
                name=_placeholder(stack).naming.permissions_boundary,
                description=f"Signal9 {stack}: the ceiling of every role the program creates (signal9/boundary.py)",
                policy=target.apply(lambda t: json.dumps(boundary_document(t))),
                opts=child,
            )
            self.deploy_roles[stack] = aws.iam.Role(
                f"{stack}-deploy-role",
                name=policies.deploy_role_name(stack),
                description=f"Signal9 {stack}: pulumi up from the GitHub environment {stack} of {config.repository}",
                assume_role_policy=trust(policies.deploy_subject(stack)),
                max_session_duration=MAX_SESSION_SECONDS,
                opts=child,
            )
            statements = pulumi.Output.all(target, state_bucket).apply(functools.partial(_deploy_parts, stack))
            # The number of policies must be known before the values are: count with placeholders.
            count = len(policies.chunk_statements(deploy_statements(_placeholder(stack), "bucket", stack)))
            _attach(
                f"{stack}-deploy", self.deploy_roles[stack], statements.apply(policies.chunk_statements), count, self
            )
        regions = sorted({stack_region(s) for s in config.stacks})
        operators = config.operatorArns
        preview = pulumi.Output.all(account_id, state_bucket).apply(
            lambda parts: preview_statements(parts[0], regions, parts[1], operators)
        )
        count = len(policies.chunk_statements(preview_statements("0" * 12, regions, "bucket", operators)))
        _attach("preview", self.preview_role, preview.apply(policies.chunk_statements), count, self)
        self.register_outputs(
            {
                "previewRoleArn": self.preview_role.arn,
                "deployRoleArns": {s: r.arn for s, r in self.deploy_roles.items()},
                "permissionsBoundaryArns": {s: b.arn for s, b in self.boundaries.items()},
            }
        )

    @property
    def role_arns(self) -> Mapping[str, pulumi.Output[str]]:
        return {"preview": self.preview_role.arn, **{s: r.arn for s, r in self.deploy_roles.items()}}


def deploy_statements(target: StackTarget, bucket: str, stack: str) -> list[dict[str, Any]]:
    """Everything a stack's deploy role may do, as one list of statements."""
    resources: list[dict[str, Any]] = deploy_policy_document(target, TYPE_GRANTS)["Statement"]
    # `signal9 verify --invoke` and `signal9 status` run with this role after `pulumi up` (deploy.yml).
    verify = policies.verify_statements(target)
    return resources + verify + policies.state_statements(bucket, stack, target.partition)


def preview_statements(
    account_id: str, regions: list[str], bucket: str, operator_arns: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The preview role's reads: every stack's resources (any stack name), the whole state prefix, and
    what `signal9 preflight --account` reads of the account."""
    statements: list[dict[str, Any]] = []
    for region in regions:
        for statement in policies.read_only_document(StackTarget("*", account_id, region))["Statement"]:
            statements.append(
                {**statement, "Sid": statement["Sid"] + region.replace("-", "").capitalize()}
                if len(regions) > 1
                else statement
            )
    return statements + policies.account_check_statements(operator_arns) + policies.state_statements(bucket, None)
