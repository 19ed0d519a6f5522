"""The suite's hooks; its shared fixtures live in tests/fixtures.py, loaded where tests run."""

from __future__ import annotations

import gc

import pytest

from signal9 import runtime


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Load the shared fixtures in every process that runs tests, but not in xdist's controller.

    The controller hands files to its workers and runs none itself; importing what the fixtures
    need (moto, boto3, pulumi, the project: ~1.4 s without byte code) would only delay starting
    them. It distributes when given a distribution mode and workers (as xdist decides).
    """
    controller = (
        not hasattr(config, "workerinput")
        and config.getoption("dist", "no") != "no"
        and bool(config.getoption("tx", None))
        and not config.getoption("collectonly")
    )
    if not controller:
        config.pluginmanager.import_plugin("tests.fixtures")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The interpreter and handler packages the suite runs on, against what Lambda runs (signal9.runtime).

    Written by the controlling process (not xdist's workers), quiet mode included (`make test`, CI's log).
    """
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not hasattr(session.config, "workerinput"):
        reporter.write_line(runtime.running_summary())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that deploy the stack into the emulator (``pytest.mark.emulator``) go first.

    Each worker takes a whole file at a time (``--dist loadfile``), in this order. The emulator files
    take 3 to 20 s each and everything else under 15 s: longest first, the workers finish together
    instead of one running a late 20 s file while the other has nothing left.
    """
    items.sort(key=lambda item: item.get_closest_marker("emulator") is None)  # stable: files stay whole


def pytest_collection_finish() -> None:
    """What collecting made (the test modules, what they import, the items) lives as long as the process:
    frozen, the garbage collector never walks it again (tests/fixtures.py freezes what it imports)."""
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure() -> None:
    """End the process without walking its whole heap for garbage, once or twice.

    pytest's unraisable-exception plugin collects garbage as the session ends (its per-test checks
    run without), and at exit Python collects every generation: each walks a worker's heap (moto's
    accounts, the program's runs), about a second that xdist's controller waits out before it
    reports. Frozen first, nothing is walked; the process's memory goes back to the system as it exits.
    """
    gc.freeze()
