"""`signal9 local down`: every resource `local up --keep` created, deleted in reverse order through the
same provisioner (each call judged by the deploy audit), and nothing of the stack left in the emulator."""

from __future__ import annotations

import pytest

from signal9.naming import Naming
from signal9.stackfile import ROOT
from signal9_tools.cli import main
from signal9_tools.emulator import provisioner
from signal9_tools.emulator.cli import MOTO_ACCOUNT_ID, LocalRun, deploy_and_smoke
from signal9_tools.emulator.provisioner import MotoProvisioner
from signal9_tools.emulator.teardown import (
    KeptStack,
    Teardown,
    read_record,
    record,
    record_path,
    recorded,
    remaining,
    tear_down,
)
from signal9_tools.mockrun import ProgramRun
from tests.local_support import DEV_AS_SHIPPED

pytestmark = pytest.mark.emulator  # deploys the stack into the emulator: scheduled first (conftest)


def kept_stack(run: LocalRun) -> KeptStack:
    assert run.endpoint is not None  # these runs serve HTTP, as a kept emulator does
    return KeptStack(
        run.plan.stack, run.plan.region, MOTO_ACCOUNT_ID, run.endpoint, None, recorded(run.plan, run.created)
    )


@pytest.fixture(scope="module")
def dev_down() -> tuple[LocalRun, list[str], Teardown]:
    seen: list[tuple[list[str], Teardown]] = []

    def down(run: LocalRun) -> None:
        before = [what for what, _ in remaining(MotoProvisioner(run.plan.region), Naming("dev"))]
        seen.append((before, tear_down(kept_stack(run))))

    run = deploy_and_smoke("dev", scope="none", on_smoked=down, transport="http", snapshot=DEV_AS_SHIPPED)
    ((before, result),) = seen
    return run, before, result


def test_every_resource_is_deleted_and_nothing_is_left(dev_down: tuple[LocalRun, list[str], Teardown]) -> None:
    run, before, result = dev_down
    assert len(before) > 60  # what `remaining` finds of a deployed stack: it can see what is left
    assert result.left == [] and result.refused == [] and result.retained == []
    assert len(result.deleted) == len(run.created) > 90
    # Reverse creation order: the schedules, alarms and functions go before the roles and tables they use.
    order = [what.split()[0] for what in result.deleted]
    assert order.index("scheduler/schedule:Schedule") < order.index("lambda/function:Function")
    assert max(i for i, kind in enumerate(order) if kind == "lambda/function:Function") < max(
        i for i, kind in enumerate(order) if kind == "iam/role:Role"
    )
    assert result.complete


def test_what_aws_keeps_is_said_not_hidden(dev_down: tuple[LocalRun, list[str], Teardown]) -> None:
    _, _, result = dev_down
    # dev: secrets deleted at once (recovery window 0); the stack key waits its 30 days.
    (key,) = result.kept_by_aws
    assert key.startswith("kms/key:Key ") and key.endswith("pending deletion for 30 days (CancelKeyDeletion undoes it)")


def test_each_delete_call_is_judged_by_the_deploy_and_key_policies(
    dev_down: tuple[LocalRun, list[str], Teardown],
) -> None:
    _, _, result = dev_down
    assert result.audit_passed, result.audit
    assert "kms:ScheduleKeyDeletion" in result.audit and "allowed by the generated dev deploy policy" in result.audit


def test_protection_is_refused_as_pulumi_destroy_and_aws_refuse_it() -> None:
    """prod: `protect` (refused before anything is deleted), then retain-on-delete (left in place);
    staging: no `protect`, but DynamoDB's deletion protection refuses each table's delete."""
    seen: dict[str, tuple[Teardown, Teardown]] = {}

    def down(run: LocalRun) -> None:
        kept = kept_stack(run)
        seen[run.plan.stack] = (tear_down(kept), tear_down(kept, unprotect=True))

    deploy_and_smoke("prod", scope="none", on_smoked=down, transport="http")
    refused, unprotected = seen["prod"]
    assert sorted(refused.refused) == sorted(f"dynamodb/table:Table signal9-prod-{t}" for t in TABLES)
    assert refused.deleted == [] and not refused.complete
    assert sorted(unprotected.retained) == sorted(refused.refused)
    assert unprotected.left == [] and unprotected.failed == [] and unprotected.audit_passed
    secrets = [what for what in unprotected.kept_by_aws if what.startswith("secretsmanager/secret:Secret")]
    assert len(secrets) == 2
    assert all(s.endswith("recoverable for 30 days (signal9:secretRecoveryWindowDays)") for s in secrets)


TABLES = (
    "assets",
    "earningsCalendar",
    "newsSentiment",
    "companyOverview",
    "earnings",
    "cashFlow",
    "balanceSheet",
    "incomeStatement",
)


def test_the_record_round_trips_without_secret_values(dev_down: tuple[LocalRun, list[str], Teardown]) -> None:
    run, _, _ = dev_down
    kept = kept_stack(run)
    path = record(kept)
    try:
        assert read_record("dev") == kept
        assert "PLACEHOLDER" not in path.read_text() and "secretString" not in path.read_text()
    finally:
        path.unlink()


def test_down_without_a_kept_emulator_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "down", "--stack", "prod"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("signal9 local: no kept emulator for stack 'prod'")
    assert "signal9 local up --stack prod --keep" in err


def test_local_down_names_what_is_left_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The listing of what is left reads the emulator, not the record: a delete that never happened shows."""
    monkeypatch.setitem(provisioner.DESTROYERS, "aws:dynamodb/table:Table", lambda p, resource: None)
    codes: list[int] = []

    def down(run: LocalRun) -> None:
        record(kept_stack(run))
        codes.append(main(["local", "down", "--stack", "dev"]))

    deploy_and_smoke("dev", scope="none", on_smoked=down, transport="http", snapshot=DEV_AS_SHIPPED)
    assert codes == [1]
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line for line in lines if line.startswith("LEFT: ")) == sorted(
        f"LEFT: table signal9-dev-{t}" for t in TABLES
    )
    assert lines[-2] == "8 resources of the stack are left (listed above)"
    assert lines[-1] == "no emulator process recorded"
    assert not record_path("dev").exists()


def teardown_table() -> dict[str, dict[str, str]]:
    """docs/deploy.md's teardown table: stack -> column -> cell."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text[text.index("## Teardown") : text.index("## Rolling back")]
    rows = [line.strip("|").split(" | ") for line in section.splitlines() if line.startswith("| ")]
    header, *body = rows
    return {
        row[0].strip(): dict(zip([h.strip() for h in header], [c.strip() for c in row], strict=True)) for row in body
    }


def test_the_teardown_doc_says_what_each_stacks_plan_does(plans: dict[str, ProgramRun]) -> None:
    table = teardown_table()
    assert list(table) == list(plans)
    for stack, run in plans.items():
        row = table[stack]
        tables = run.of_type("aws:dynamodb/table:Table")
        protect = {t.protect and t.retain_on_delete for t in tables}
        deletion = {bool(t.plain_inputs.get("deletionProtectionEnabled")) for t in tables}
        assert len(protect) == len(deletion) == 1, stack
        cell = row["tables (`signal9:protection`)"]
        if protect == {True}:
            assert cell.startswith("Pulumi refuses: protected (`protect`, then retained on delete)"), stack
        elif deletion == {True}:
            assert cell.startswith("AWS refuses: deletion protection on"), stack
        else:
            assert cell == "deleted (no protection)", stack
        assert ("deletion protection on" in cell) == (deletion == {True}), stack
        windows = {int(s.plain_inputs["recoveryWindowInDays"]) for s in run.of_type("aws:secretsmanager/secret:Secret")}
        (window,) = windows
        secrets = row["secrets (`signal9:secretRecoveryWindowDays`)"]
        assert secrets == ("deleted at once (window 0)" if window == 0 else f"recoverable {window} days"), stack
        (key,) = run.of_type("aws:kms/key:Key")
        assert row["stack key"] == f"pending deletion {int(key.plain_inputs['deletionWindowInDays'])} days"
        retention = {int(g.plain_inputs["retentionInDays"]) for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
        assert row["log groups"] == f"deleted (retention {retention.pop()} days)" and not retention
