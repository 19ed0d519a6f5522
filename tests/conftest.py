"""Shared fixtures: the program run once per stack under Pulumi mocks."""

from __future__ import annotations

import pytest

from signal9.catalog import STACKS
from signal9.mockrun import ProgramRun, run_program


@pytest.fixture(scope="session")
def plans() -> dict[str, ProgramRun]:
    """What the real program registers for each shipped stack."""
    return {stack: run_program(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def dev(plans: dict[str, ProgramRun]) -> ProgramRun:
    return plans["dev"]


@pytest.fixture(scope="session")
def prod(plans: dict[str, ProgramRun]) -> ProgramRun:
    return plans["prod"]
