"""Operations docs: generated blocks current, catalog fully covered, workflows and links consistent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signal9 import catalog, check, docgen
from signal9.mockrun import ProgramRun

DOCS = docgen.ROOT / "docs"
RUNBOOKS = {
    "failed-scheduled-run.md",
    "dlq-not-empty.md",
    "throttling.md",
    "rotating-credentials.md",
    "sunday-maintenance.md",
    "alphavantage-throttling.md",
}
OWNED = [
    DOCS / "architecture.md",
    DOCS / "deploy.md",
    DOCS / "security-review.md",
    DOCS / "cost.md",
    *(DOCS / "runbooks" / name for name in sorted(RUNBOOKS)),
]


def test_generated_blocks_are_current(plans: dict[str, ProgramRun], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check, "run_program", lambda stack: plans[stack])
    for path, blocks in docgen.generated_blocks().items():
        text = path.read_text()
        for name, content in blocks.items():
            assert docgen.current_block(text, name) == content, f"{path.name}: run `python -m signal9.docgen`"


def test_architecture_covers_the_whole_catalog() -> None:
    text = (DOCS / "architecture.md").read_text()
    assert "```mermaid" in text
    names = [*catalog.FUNCTION_NAMES, *catalog.TABLE_NAMES, *catalog.SCHEDULE_NAMES, *catalog.SECRET_NAMES]
    names += [event.detail_type for event in catalog.EVENTS]
    for name in names:
        assert name in text, name
    diagram = docgen.architecture_diagram()
    for function in catalog.FUNCTIONS:
        for table in function.writes:
            assert f"fn_{function.name} " in diagram and f"tbl_{table}" in diagram
    for event in catalog.EVENTS:
        assert f"bus -- {event.detail_type} --> fn_{event.consumer}" in diagram


def test_iam_matrix_states_exactly_the_catalog_grants() -> None:
    rows = docgen.iam_matrix().splitlines()[2:]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(catalog.FUNCTION_NAMES)
    for function, row in zip(catalog.FUNCTIONS, rows, strict=True):
        cells = row.strip("| ").split(" | ")
        assert cells[1].count("`signal9-<stack>-") == len(function.reads)
        assert cells[2].count("`signal9-<stack>-") == len(function.writes)
        assert (cells[3] == "-") == (function.secret is None)
        assert (cells[4] == "-") == (not function.emits)
        assert cells[5] == f"`signal9-<stack>-{function.name}-dlq`"


def test_runbooks_exist_and_name_their_signals() -> None:
    assert {p.name for p in (DOCS / "runbooks").glob("*.md")} >= RUNBOOKS
    text = {name: (DOCS / "runbooks" / name).read_text() for name in RUNBOOKS}
    assert "signal9 dlq replay" in text["dlq-not-empty.md"] and "-dlq-depth" in text["dlq-not-empty.md"]
    assert "-errors" in text["failed-scheduled-run.md"]
    assert "-throttles" in text["throttling.md"]
    assert "pulumi config set --secret" in text["rotating-credentials.md"]
    assert catalog.DEFAULT_TIMEZONE in text["sunday-maintenance.md"]
    for alarm in ("-alphavantage-throttling", "-PollenateAsset-event-age", "signal9:alphaVantage.requestsPerMinute"):
        assert alarm in text["alphavantage-throttling.md"], alarm
    for name in catalog.scheduled_functions():
        assert name.name in text["failed-scheduled-run.md"]


def test_deploy_doc_matches_the_workflows() -> None:
    deploy = (DOCS / "deploy.md").read_text()
    workflows = sorted((docgen.ROOT / ".github" / "workflows").glob("*.yml"))
    variables = {v for path in workflows for v in re.findall(r"vars\.([A-Z_]+)", path.read_text())}
    assert variables == {"PULUMI_BACKEND_URL", "AWS_PREVIEW_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN"}
    for name in [*variables, *(p.name for p in workflows), "awskms://", "pulumi login s3://", "passphrase"]:
        assert name in deploy, name


@pytest.mark.parametrize("path", OWNED, ids=lambda p: str(p.relative_to(DOCS)))
def test_relative_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{path.name}: broken link {target}"
