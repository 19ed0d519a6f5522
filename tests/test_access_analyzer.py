"""`signal9 preflight --access-analyzer`: every policy document of the plan through IAM Access Analyzer's
ValidatePolicy; errors and security warnings fail naming the document. The service is a stand-in here
(moto has none) that answers each document with the findings a test gives it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from signal9_tools import access_analyzer, preflight
from signal9_tools.identifiers import ACCOUNT_ID
from signal9_tools.mockrun import ProgramRun

ACCOUNT = "210987654321"
Findings = Callable[[dict[str, Any]], list[dict[str, str]]]


def finding(kind: str, code: str) -> dict[str, str]:
    return {"findingType": kind, "issueCode": code, "findingDetails": f"{code} details", "learnMoreLink": "https://l"}


@dataclass
class Analyzer:
    """Access Analyzer's ValidatePolicy: records each request, answers ``findings(request)`` in one page."""

    findings: Findings
    requests: list[dict[str, Any]] = field(default_factory=list)

    def get_paginator(self, operation: str) -> Analyzer:
        assert operation == "validate_policy"
        return self

    def paginate(self, **request: Any) -> Iterator[dict[str, Any]]:
        self.requests.append(request)
        yield {"findings": self.findings(request)}


@dataclass
class Session:
    analyzer: Analyzer

    def client(self, service: str) -> Any:
        if service == "sts":
            return argparse.Namespace(get_caller_identity=lambda: {"Account": ACCOUNT})
        assert service == "accessanalyzer"
        return self.analyzer


def test_every_document_goes_with_its_policy_type_in_the_callers_account(dev: ProgramRun) -> None:
    documents = access_analyzer.plan_documents(dev.to_json()["resources"], ACCOUNT)
    kinds = {(d.policy_type, d.resource_type) for d in documents}
    assert kinds == {
        ("IDENTITY_POLICY", None),  # the function and scheduler roles' policies
        ("RESOURCE_POLICY", "AWS::IAM::AssumeRolePolicyDocument"),  # their trust policies
        ("RESOURCE_POLICY", None),  # the key, the DLQs' and the bus policy
    }
    roles = len(dev.of_type("aws:iam/role:Role"))
    assert sum(d.resource_type == "AWS::IAM::AssumeRolePolicyDocument" for d in documents) == roles
    assert all(f":{ACCOUNT_ID}:" not in d.text for d in documents)
    assert any(f":{ACCOUNT}:" in d.text for d in documents)
    assert all(json.loads(d.text)["Statement"] for d in documents)


def test_errors_and_security_warnings_fail_naming_the_document(
    dev: ProgramRun, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def findings(request: dict[str, Any]) -> list[dict[str, str]]:
        if "events:PutEvents" in request["policyDocument"]:
            return [finding("SECURITY_WARNING", "PASS_ROLE_WITH_STAR_IN_RESOURCE"), finding("SUGGESTION", "EMPTY")]
        return [finding("WARNING", "REDUNDANT_ACTION")] if request["policyType"] == "IDENTITY_POLICY" else []

    analyzer = Analyzer(findings)
    monkeypatch.setattr(preflight, "run_program", lambda stack, project="signal9": dev)
    args = argparse.Namespace(stack="dev", project="signal9", account=False, access_analyzer=True)
    assert preflight.run(args, session=Session(analyzer)) == 1
    lines = capsys.readouterr().out.splitlines()
    failing = [line for line in lines if line.startswith("access analyzer: ")]
    # The bus policy, and each producer role's policy (it may put events on the bus).
    assert (
        "access analyzer: event-bus-policy (aws:cloudwatch/eventBusPolicy:EventBusPolicy): SECURITY_WARNING "
        "PASS_ROLE_WITH_STAR_IN_RESOURCE: PASS_ROLE_WITH_STAR_IN_RESOURCE details (https://l)" in failing
    )
    assert len(failing) == sum("events:PutEvents" in r["policyDocument"] for r in analyzer.requests)
    assert "validated by IAM Access Analyzer" in lines[-1] and lines[-1].endswith(f"{len(failing)} problem(s)")


def test_warnings_and_suggestions_alone_pass(dev: ProgramRun, monkeypatch: pytest.MonkeyPatch) -> None:
    analyzer = Analyzer(lambda request: [finding("WARNING", "REDUNDANT_ACTION"), finding("SUGGESTION", "EMPTY")])
    monkeypatch.setattr(preflight, "run_program", lambda stack, project="signal9": dev)
    args = argparse.Namespace(stack="dev", project="signal9", account=False, access_analyzer=True)
    assert preflight.run(args, session=Session(analyzer)) == 0
    assert {r["policyType"] for r in analyzer.requests} == {"IDENTITY_POLICY", "RESOURCE_POLICY"}
