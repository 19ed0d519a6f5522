"""``signal9 preflight --access-analyzer``: every policy document of the plan through IAM Access Analyzer.

ValidatePolicy (https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_ValidatePolicy.html)
runs AWS's own policy checks on a document without storing it. Its findings are ERROR ("a part of
the policy is not functional"), SECURITY_WARNING ("allows access that we consider overly
permissive"), WARNING and SUGGESTION (API_ValidatePolicyFinding.html): the first two fail the
run, one line each; the others are counted. It needs credentials (the preview role holds
``access-analyzer:ValidatePolicy``), so the preview workflow runs it; the offline preflight judges
the same documents against the Service Authorization Reference.

Each document is sent as the account would receive it: the plan's mock account id replaced by the
caller's (so a principal of this account is not read as another account's). Identity policies
(role policies, managed policies, the permissions boundary) go as IDENTITY_POLICY; key, queue,
topic and bus policies as RESOURCE_POLICY; bucket policies with ``AWS::S3::Bucket``; role trust
policies with ``AWS::IAM::AssumeRolePolicyDocument``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signal9_tools.identifiers import ACCOUNT_ID

FAILING = frozenset({"ERROR", "SECURITY_WARNING"})
# Resource type -> (input holding the document, policyType, validatePolicyResourceType or None).
DOCUMENTS: dict[str, tuple[str, str, str | None]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy", "IDENTITY_POLICY", None),
    "aws:iam/policy:Policy": ("policy", "IDENTITY_POLICY", None),
    "aws:iam/role:Role": ("assumeRolePolicy", "RESOURCE_POLICY", "AWS::IAM::AssumeRolePolicyDocument"),
    "aws:kms/key:Key": ("policy", "RESOURCE_POLICY", None),
    "aws:s3/bucketPolicy:BucketPolicy": ("policy", "RESOURCE_POLICY", "AWS::S3::Bucket"),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy", "RESOURCE_POLICY", None),
    "aws:sns/topicPolicy:TopicPolicy": ("policy", "RESOURCE_POLICY", None),
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": ("policy", "RESOURCE_POLICY", None),
}


@dataclass(frozen=True)
class Document:
    name: str  # "<resource name> (<type>)"
    text: str
    policy_type: str
    resource_type: str | None


def plan_documents(resources: Iterable[Mapping[str, Any]], account_id: str) -> list[Document]:
    """Every policy document of a plan (``signal9 plan --json`` resources), in the caller's account."""
    documents = []
    for resource in resources:
        kind = DOCUMENTS.get(resource["type"])
        value = (resource.get("inputs") or {}).get(kind[0]) if kind else None
        if kind is None or value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        documents.append(
            Document(
                f"{resource['name']} ({resource['type']})",
                text.replace(f":{ACCOUNT_ID}:", f":{account_id}:"),
                kind[1],
                kind[2],
            )
        )
    return documents


@dataclass
class Validation:
    documents: int
    failing: list[str]
    other: int  # WARNING and SUGGESTION findings


def validate(client: Any, documents: list[Document]) -> Validation:
    """ValidatePolicy on each document: the failing findings, one line each."""
    failing: list[str] = []
    other = 0
    for document in documents:
        request: dict[str, Any] = {"policyDocument": document.text, "policyType": document.policy_type}
        if document.resource_type:
            request["validatePolicyResourceType"] = document.resource_type
        for page in client.get_paginator("validate_policy").paginate(**request):
            for finding in page["findings"]:
                if finding["findingType"] in FAILING:
                    failing.append(
                        f"{document.name}: {finding['findingType']} {finding['issueCode']}: "
                        f"{finding['findingDetails']} ({finding['learnMoreLink']})"
                    )
                else:
                    other += 1
    return Validation(len(documents), failing, other)
