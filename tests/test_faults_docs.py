"""docs/collectors.md's table of faults tried is the fault matrices of tests/test_faults_*.py, rendered.

Rewrite it with ``.venv/bin/python -m tests.test_faults_docs`` after changing a matrix.
"""

from __future__ import annotations

from signal9_tools import docgen
from tests import (
    test_faults_pollenate_asset,
    test_faults_sync_assets,
    test_faults_sync_earnings_calendar,
    test_faults_sync_news_sentiment,
    test_faults_triggers,
)
from tests.faults import Matrix, Recovery

COLLECTORS = docgen.ROOT / "docs" / "collectors.md"
BLOCK = "fault-matrix"
MATRICES: tuple[Matrix, ...] = (
    test_faults_sync_assets.MATRIX,
    test_faults_sync_earnings_calendar.MATRIX,
    test_faults_sync_news_sentiment.MATRIX,
    test_faults_pollenate_asset.MATRIX,
    *test_faults_triggers.MATRICES,
)


def render(matrices: tuple[Matrix, ...] = MATRICES) -> str:
    cases = [case for matrix in matrices for case in matrix.cases]
    survived = sum(1 for case in cases if case.leaves is None)
    lines = [
        f"{len(cases)} faults over the seven functions; {survived} end with every table as the fault-free run's, "
        f"{len(cases) - survived} leave what their row says.",
    ]
    for matrix in matrices:
        lines += ["", f"**{matrix.function}**: {matrix.scenario.description}.", ""]
        lines += ["| fault | recovered by | left behind |", "|---|---|---|"]
        for case in matrix.cases:
            fault = case.fault + (f" ({case.scenario.description})" if case.scenario else "")
            recovered = "—" if case.recovery is Recovery.NONE else case.recovery.value
            lines.append(f"| {fault.replace('|', '&#124;')} | {recovered} | {case.leaves or 'nothing'} |")
    return "\n".join(lines)


def test_the_docs_table_of_faults_is_the_matrix() -> None:
    text = COLLECTORS.read_text()
    assert docgen.current_block(text, BLOCK) == render(), "run `.venv/bin/python -m tests.test_faults_docs`"


if __name__ == "__main__":
    COLLECTORS.write_text(docgen.replace_block(COLLECTORS.read_text(), BLOCK, render()))
