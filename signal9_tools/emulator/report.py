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

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def run(self, name: str, body: Callable[[], str]) -> None:
        """Run one check: its detail on success, the error (one line) on failure."""
        try:
            self.add(name, True, body())
        except Exception as error:
            self.add(name, False, f"{type(error).__name__}: {error}".splitlines()[0])

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class SmokeCheckError(AssertionError):
    """A check's expectation was not met."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeCheckError(message)


def format_report(report: Report, timings: dict[str, float], notes: list[str]) -> str:
    width = max(len(c.name) for c in report.checks)
    lines = [f"{'check'.ljust(width)}  result  detail", f"{'-' * width}  ------  {'-' * 40}"]
    lines += [f"{c.name.ljust(width)}  {'PASS' if c.ok else 'FAIL':<6}  {c.detail}" for c in report.checks]
    passed = len(report.checks) - len(report.failed)
    lines.append("")
    lines.append(f"{passed} passed, {len(report.failed)} failed")
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
