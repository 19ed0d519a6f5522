"""The smoke's report: each check's name, result and detail, and how ``local up`` prints them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    # Called with each check as it is added: `local up` prints the report line by line as the run goes.
    on_check: Callable[[Check], None] | None = None

    def add(self, name: str, ok: bool, detail: str) -> None:
        check = Check(name, ok, detail)
        self.checks.append(check)
        if self.on_check is not None:
            self.on_check(check)

    def run(self, name: str, body: Callable[[], str]) -> None:
        """Run one check: its detail on success, the error (one line) on failure."""
        try:
            detail = body()
        except Exception as error:
            self.add(name, False, f"{type(error).__name__}: {error}".splitlines()[0])
        else:
            self.add(name, True, detail)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class SmokeCheckError(AssertionError):
    """A check's expectation was not met."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeCheckError(message)


# The name column's width, fixed so that each check's line can be printed as it completes: the
# longest check name ("role credentials cannot decrypt with an ungranted key") fits; a longer
# one pushes the rest of its own line.
NAME_WIDTH = 53


def table_head() -> str:
    return f"{'check'.ljust(NAME_WIDTH)}  result  detail\n{'-' * NAME_WIDTH}  ------  {'-' * 40}"


def format_check(check: Check) -> str:
    return f"{check.name.ljust(NAME_WIDTH)}  {'PASS' if check.ok else 'FAIL':<6}  {check.detail}"


def format_summary(report: Report, timings: dict[str, float], notes: list[str]) -> str:
    """What follows the checks: the counts, each phase's time and the notes (after an empty line)."""
    passed = len(report.checks) - len(report.failed)
    lines = ["", f"{passed} passed, {len(report.failed)} failed"]
    lines.append("time: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def timed(timings: dict[str, float], name: str) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def measure() -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            timings[name] = time.perf_counter() - start

    return measure()
