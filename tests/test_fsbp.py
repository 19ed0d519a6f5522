"""The Security Hub control table: complete for our services, every "met" enforced, every waiver argued."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from signal9 import fsbp
from signal9_tools import check, docgen
from signal9_tools.mockrun import ProgramRun
from tests.fixtures import reuse_planned_runs

# The FSBP controls for DynamoDB, Lambda, SQS, SNS, Secrets Manager, EventBridge, KMS and IAM
# (the standard as published, checked December 2025). A control AWS adds must be judged here.
FSBP_CONTROLS = {
    "DynamoDB": (1, 2, 3, 6, 7),
    "Lambda": (1, 2, 5),
    "SQS": (1, 3),
    "SNS": (1, 2, 4),
    "SecretsManager": (1, 2, 3, 4),
    "EventBridge": (3,),
    "KMS": (1, 2, 3, 5),
    "IAM": (1, 2, 3, 4, 5, 6, 7, 8, 21),
}
# What the review promised beyond FSBP (issue 13): each must be judged too.
ALSO_JUDGED = {"Lambda.3", "Lambda.7", "KMS.4", "CloudWatch.16", "CKV_AWS_115", "CKV_AWS_272"}


def test_every_fsbp_control_for_our_services_is_judged_once() -> None:
    ids = [c.id for c in fsbp.CONTROLS]
    assert not [id for id, n in Counter(ids).items() if n > 1]
    expected = {f"{service}.{n}" for service, numbers in FSBP_CONTROLS.items() for n in numbers}
    assert {c.id for c in fsbp.CONTROLS if c.standard == fsbp.FSBP} == expected
    assert set(ids) >= ALSO_JUDGED


@pytest.mark.parametrize("control", fsbp.CONTROLS, ids=[c.id for c in fsbp.CONTROLS])
def test_each_control_says_how_or_why(control: fsbp.Control) -> None:
    if control.status == "met":
        assert control.rules and control.how and not control.reason
    elif control.status == "waived":
        assert control.reason and control.risk and control.revisit and not control.rules
    else:
        assert control.reason and not control.rules


def test_every_met_control_names_a_rule_the_pack_enforces() -> None:
    enforced = set(check.rule_names())
    for control in fsbp.CONTROLS:
        unknown = set(control.rules) - enforced
        assert not unknown, f"{control.id} names rules that do not exist: {unknown}"


def test_the_pack_enforces_every_met_control_on_every_stack(
    plans: dict[str, ProgramRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    reuse_planned_runs(monkeypatch, check)
    rules = {rule for control in fsbp.CONTROLS if control.status == "met" for rule in control.rules}
    for stack in plans:
        result = check.check_stack(stack)
        assert {rule: result.failed(rule) for rule in rules} == dict.fromkeys(rules, 0), stack


def test_review_table_lists_every_control() -> None:
    rows = docgen.fsbp_table().splitlines()[2:]
    assert [re.match(r"\| ([\w.-]+) \|", row)[1] for row in rows] == [c.id for c in fsbp.CONTROLS]  # type: ignore[index]
