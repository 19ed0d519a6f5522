"""``signal9 diff``: two plan documents compared by type and name, stateful replacements first."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from signal9 import stackfile
from signal9.errors import OperatorError
from signal9.stackfile import ROOT
from signal9_tools import cli, diff
from signal9_tools.mockrun import ProgramRun

FUNCTION = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TABLE = "aws:dynamodb/table:Table"


def resource(document: dict[str, Any], typ: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in document["resources"] if (r["type"], r["name"]) == (typ, name)]
    assert len(found) == 1, (typ, name)
    return found[0]


@pytest.fixture
def base(dev: ProgramRun) -> dict[str, Any]:
    return dev.to_json()


def test_identical_plans_have_no_changes(base: dict[str, Any]) -> None:
    result = diff.compare(base, copy.deepcopy(base), "dev", "base")
    assert result.entries == []
    assert "no changes" in diff.render(result)


def test_a_memory_size_change_is_an_update_with_the_changed_input(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    resource(head, FUNCTION, "SyncAssets-function")["inputs"]["memorySize"] = 1024
    (entry,) = diff.compare(base, head).entries
    assert (entry.action, entry.type, entry.name, entry.stateful) == ("update", FUNCTION, "SyncAssets-function", False)
    assert entry.changes == [diff.Change("memorySize", 512, 1024)]
    text = diff.render(diff.compare(base, head, "dev", "base main"))
    assert f" ~ {FUNCTION} SyncAssets-function\n       memorySize: 512 => 1024\n" in text
    assert "resources: + 0 to create, ~ 1 to update, +- 0 to replace, - 0 to delete" in text


def test_a_new_alarm_is_a_create(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    alarm = copy.deepcopy(next(r for r in head["resources"] if r["type"] == ALARM))
    alarm["name"] = "SyncAssets-coldstarts-alarm"
    alarm["urn"] = alarm["urn"].rsplit("::", 1)[0] + "::SyncAssets-coldstarts-alarm"
    head["resources"].append(alarm)
    (entry,) = diff.compare(base, head).entries
    assert (entry.action, entry.name, entry.changes) == ("create", "SyncAssets-coldstarts-alarm", [])
    assert f" + {ALARM} SyncAssets-coldstarts-alarm" in diff.render(diff.compare(base, head))


def test_a_renamed_table_is_a_replacement_called_out_first(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    resource(head, FUNCTION, "SyncAssets-function")["inputs"]["memorySize"] = 1024  # sorts before the table
    table = resource(head, TABLE, "assets-table")
    table["name"] = "assetList-table"
    table["urn"] = table["urn"].replace("::assets-table", "::assetList-table")
    table["inputs"]["name"] = "signal9-dev-assetList"
    result = diff.compare(base, head, "dev", "base main")
    first, second = result.entries
    assert (first.action, first.name, first.renamed_from, first.data_at_risk) == (
        "replace",
        "assetList-table",
        "assets-table",
        True,
    )
    assert first.changes == [diff.Change("name", "signal9-dev-assets", "signal9-dev-assetList", replaces=True)]
    assert second.action == "update"
    lines = diff.render(result).splitlines()
    assert lines[2] == "!! DATA AT RISK: 1 stateful resource(s) would be replaced or deleted"
    assert lines[3].startswith(f"!!   +- {TABLE} assetList-table: renamed from assets-table; ")
    assert lines[5] == f"+- {TABLE} assetList-table (renamed from assets-table)  !! data"
    assert lines[6] == '       name: "signal9-dev-assets" => "signal9-dev-assetList"  (forces replacement)'


def move_table(document: dict[str, Any], component: str) -> str:
    """The assets table moved under another component (its inputs untouched); its old URN."""
    table = resource(document, TABLE, "assets-table")
    old = str(table["urn"])
    table["urn"] = old.replace("signal9:index:Tables$", f"signal9:index:{component}$")
    table["parent"] = component.lower()
    return old


def test_a_table_moved_to_another_component_is_a_replacement_called_out(base: dict[str, Any]) -> None:
    """Same type, name and inputs, another parent: a new URN, which Pulumi carries out as delete and create."""
    head = copy.deepcopy(base)
    old = move_table(head, "Storage")
    (entry,) = diff.compare(base, head, "dev", "base main").entries
    assert (entry.action, entry.name, entry.moved_from, entry.data_at_risk) == ("replace", "assets-table", old, True)
    text = diff.render(diff.compare(base, head, "dev", "base main"))
    assert f"+- {TABLE} assets-table (moved from {old})  !! data" in text
    assert f"aliases=[pulumi.Alias(...)] naming {old}" in text


def test_a_moved_table_that_aliases_its_old_urn_is_the_same_table(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    old = move_table(head, "Storage")
    resource(head, TABLE, "assets-table")["aliases"] = [old]
    assert diff.compare(base, head).entries == []


def test_plans_without_urns_still_compare_by_type_and_name(base: dict[str, Any]) -> None:
    """A base committed before plans carried URNs is matched the old way (type and logical name)."""
    old_style = copy.deepcopy(base)
    for item in old_style["resources"]:
        del item["urn"], item["aliases"]
    head = copy.deepcopy(base)
    resource(head, FUNCTION, "SyncAssets-function")["inputs"]["memorySize"] = 1024
    (entry,) = diff.compare(old_style, head).entries
    assert (entry.action, entry.name) == ("update", "SyncAssets-function")


def test_data_at_risk_is_said_at_the_top_with_what_to_do(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    head["resources"].remove(resource(head, "aws:sqs/queue:Queue", "SyncAssets-dlq"))
    move_table(head, "Storage")
    lines = diff.render(diff.compare(base, head, "dev", "base main")).splitlines()
    assert lines[2] == "!! DATA AT RISK: 2 stateful resource(s) would be replaced or deleted"
    assert lines[3].startswith(f"!!   +- {TABLE} assets-table: moved; add aliases=[pulumi.Alias(...)]")
    assert lines[4].startswith("!!   - aws:sqs/queue:Queue SyncAssets-dlq: deleted with what it holds")


def test_a_changed_key_schema_replaces_the_table_in_place_of_an_update(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    resource(head, TABLE, "assets-table")["inputs"]["rangeKey"] = "exchange"
    resource(head, TABLE, "earnings-table")["inputs"]["billingMode"] = "PROVISIONED"
    actions = {e.name: e.action for e in diff.compare(base, head).entries}
    assert actions == {"assets-table": "replace", "earnings-table": "update"}


def test_a_deleted_table_is_data_at_risk(base: dict[str, Any]) -> None:
    head = copy.deepcopy(base)
    head["resources"].remove(resource(head, TABLE, "assets-table"))
    (entry,) = diff.compare(base, head).entries
    assert (entry.action, entry.data_at_risk) == ("delete", True)


def test_json_inside_inputs_is_compared_field_by_field(base: dict[str, Any]) -> None:
    """IAM policies are JSON text in the plan: the change names the statement field, not the whole policy."""
    head = copy.deepcopy(base)
    policy = next(r for r in head["resources"] if r["type"] == "aws:iam/rolePolicy:RolePolicy")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"][0]["Sid"] = "Changed"
    policy["inputs"]["policy"] = json.dumps(document)
    (entry,) = diff.compare(base, head).entries
    assert [c.path for c in entry.changes] == ["policy.Statement[0].Sid"]


def test_secrets_stay_masked(base: dict[str, Any]) -> None:
    masked = [r for r in base["resources"] if "[secret]" in json.dumps(r["inputs"])]
    assert masked, "the dev plan has secret inputs, masked by plan --json"


def test_cli_end_to_end_against_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """HEAD is archived and planned in a subprocess; the working tree's stack file here raises one memory size."""
    edited = tmp_path / "Pulumi.dev.yaml"
    override = "  signal9:functions:\n    SyncAssets:\n      memoryMb: 1024\n"
    edited.write_text((ROOT / "Pulumi.dev.yaml").read_text() + override)
    monkeypatch.setattr(stackfile, "stack_file", lambda stack: edited)
    assert cli.main(["diff", "--stack", "dev", "--base", "HEAD", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["stack"], document["base"]) == ("dev", "base HEAD")
    entry = next(e for e in document["entries"] if e["name"] == "SyncAssets-function")
    assert entry["action"] == "update"
    # Uncommitted handler files also differ from HEAD's archive (the code asset); nothing else may.
    others = [c for c in entry["changes"] if not c["path"].startswith("code.")]
    assert others == [{"path": "memorySize", "old": 512, "new": 1024, "replaces": False}]


def test_an_unknown_base_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diff", "--stack", "dev", "--base", "no-such-ref-0000"]) == 2
    assert capsys.readouterr().err.startswith("signal9 diff: git rev-parse")


def old_base(tmp_path: Path, scripts: str) -> Path:
    """A repository whose one commit is a project of another layout (its command elsewhere)."""
    repo = tmp_path / "repo"
    (repo / "oldtool").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(f'[project]\nname = "signal9"\n{scripts}')
    (repo / "Pulumi.dev.yaml").write_text("config: {}\n")
    (repo / "oldtool" / "__init__.py").write_text("")
    (repo / "oldtool" / "main.py").write_text(
        "import importlib.util, json, sys\n"
        "def run():\n"
        "    assert sys.argv[1:] == ['plan', '--stack', 'dev', '--json'], sys.argv\n"
        "    leaked = importlib.util.find_spec('signal9_tools') is not None\n"
        "    print(json.dumps({'resources': [], 'leaked': leaked}))\n"
        "    return 0\n"
    )
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "old"],
    ):
        subprocess.run(["git", *command], cwd=repo, check=True)
    return repo


def test_an_old_base_is_planned_with_its_own_command_and_code_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base from before signal9_tools (its command was signal9.cli:main) runs its own entry point;
    the working tree's packages (installed editable) are not importable beside it."""
    monkeypatch.setattr(diff, "ROOT", old_base(tmp_path, '[project.scripts]\nsignal9 = "oldtool.main:run"\n'))
    assert diff.plan_at("HEAD", "dev") == {"resources": [], "leaked": False}


def test_a_base_without_a_signal9_command_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diff, "ROOT", old_base(tmp_path, ""))
    with pytest.raises(OperatorError, match=r"^the base HEAD \(\w{12}\) has no `signal9` command"):
        diff.plan_at("HEAD", "dev")
