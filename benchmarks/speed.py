"""The speed goals of issue 15, measured as whole processes and printed (never asserted).

- ``signal9 plan --stack prod --json`` with ``PYTHONDONTWRITEBYTECODE=1`` (goal <= 1.0 s);
- ``make test``, i.e. ``pytest -q -n auto`` (goal <= 40 s, issue 24; 30 s in issue 15);
- ``signal9 local up --stack dev``: deploy and smoke as it reports them (goal <= 5 s together);
- a handler's cold import against bare boto3 (see benchmarks/function_archives.py);
- the modelled deploy times of every stack (``signal9 plan --timing``).

Each figure is the median of whole-process runs, with wall time and the CPU time the
process and its children used: on a shared machine wall time includes waiting for other
processes' CPU, while CPU time barely moves with load, so compare CPU figures back to back.

    .venv/bin/python benchmarks/speed.py [--runs 5] [--suite-runs 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

from benchmarks.function_archives import handler_module, import_time_us, startup_imports, unpack  # noqa: E402
from components import packaging  # noqa: E402
from signal9 import catalog  # noqa: E402
from signal9_tools import deploytime  # noqa: E402
from signal9_tools.mockrun import run_program  # noqa: E402

ENVIRONMENT = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: Sequence[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, children included) and stdout of one run."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=ENVIRONMENT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return wall, children_cpu() - cpu, result.stdout


def median_line(label: str, walls: list[float], cpus: list[float], goal: str) -> str:
    return (
        f"{label:<40} wall median {statistics.median(walls):6.2f} s (min {min(walls):.2f}, max {max(walls):.2f}), "
        f"CPU median {statistics.median(cpus):6.2f} s, {len(walls)} runs   [goal {goal}]"
    )


def measure(label: str, command: Sequence[str], runs: int, goal: str) -> str:
    results = [run(command) for _ in range(runs)]
    return median_line(label, [r[0] for r in results], [r[1] for r in results], goal)


def local_up(runs: int) -> str:
    results = [run([str(BIN / "signal9"), "local", "up", "--stack", "dev"]) for _ in range(runs)]
    reported = []
    for _wall, _cpu, out in results:
        line = next(line for line in out.splitlines() if line.startswith("time: deploy"))
        deploy, smoke = (float(part.split()[-2]) for part in line.removeprefix("time: ").split(", "))
        reported.append((deploy, smoke))
    deploy = statistics.median(d for d, _ in reported)
    smoke = statistics.median(s for _, s in reported)
    return (
        median_line("signal9 local up --stack dev (process)", [r[0] for r in results], [r[1] for r in results], "-")
        + f"\n{'':<40} as reported: deploy median {deploy:.2f} s + smoke median {smoke:.2f} s = {deploy + smoke:.2f} s   [goal <= 5 s]"
    )


def cold_imports(runs: int) -> str:
    """Median over handlers and runs of one handler's cold import, against ``import boto3`` alone."""
    with tempfile.TemporaryDirectory(prefix="signal9-bench-") as workdir:
        handlers: list[int] = []
        for function in catalog.FUNCTIONS:
            target = Path(workdir) / function.package
            unpack(packaging.zip_bytes(function), target)
            baseline = startup_imports(target)
            handlers += [import_time_us(handler_module(function), target, baseline) for _ in range(runs)]
        boto3 = [import_time_us("boto3", Path(workdir), startup_imports(Path(workdir))) for _ in range(runs)]
    return (
        f"{'handler cold import (all 7, -X importtime)':<40} median {statistics.median(handlers) / 1e6:.3f} s "
        f"vs bare boto3 {statistics.median(boto3) / 1e6:.3f} s ({len(handlers)} and {len(boto3)} runs)"
    )


def modelled_deploys() -> list[str]:
    lines = []
    for stack in catalog.STACKS:
        result = deploytime.model(run_program(stack))
        path = " -> ".join(step.name for step in result.critical_path)
        lines.append(
            f"modelled deploy of {stack:<8} first deploy {result.first_deploy_seconds:4.0f} s, "
            f"no-change update {result.no_change_seconds:3.0f} s; critical path {path}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="whole-process runs per figure (median reported)")
    parser.add_argument("--suite-runs", type=int, default=1, help="runs of the whole test suite (0: skip)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start, python {sys.version.split()[0]}")
    plan = [str(BIN / "signal9"), "plan", "--stack", "prod", "--json"]
    print(measure("signal9 plan --stack prod --json", plan, args.runs, "<= 1.0 s"), flush=True)
    suite = [str(BIN / "pytest"), "-q", "-n", "auto"]
    if args.suite_runs:  # 0 skips the suite (it is the slowest figure)
        print(measure("make test (pytest -q -n auto)", suite, args.suite_runs, "<= 40 s"), flush=True)
    print(local_up(args.runs), flush=True)
    print(cold_imports(args.runs), flush=True)
    print("\n".join(modelled_deploys()))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
