"""Cold import of each handler against bare ``import boto3`` (issue 11: within +300 ms). Printed, not asserted.

Each handler's deployment archive (as FunctionFleet builds it) is unzipped alone into a fresh
directory and imported in a new interpreter (no byte-code cache for the handler code, as in
Lambda's read-only /var/task); ``import boto3`` is timed the same way. Per module: the
median over ``--runs`` of the import's CPU time (``time.process_time``, which a busy machine
inflates far less than wall time) and of its wall time. The verdict compares CPU times.
Dependencies come from this virtualenv, standing in for the Lambda runtime and the
Powertools layer; this interpreter may be older than Lambda's python3.13, so the
differences are the meaningful part.

    .venv/bin/python benchmarks/cold_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.function_archives import _run_python, handler_module, unpack  # noqa: E402
from components import packaging  # noqa: E402
from signal9 import catalog  # noqa: E402

BUDGET_MS = 300.0
PROBE = (
    "import time; wall, cpu = time.perf_counter(), time.process_time(); import {module}; "
    "print(time.process_time() - cpu, time.perf_counter() - wall)"
)


def import_ms(module: str, directory: Path, runs: int) -> tuple[float, float]:
    """Median (CPU ms, wall ms) of importing ``module`` from ``directory`` in a fresh interpreter."""
    samples = []
    for _ in range(runs):
        # function_archives' runner (it adds -X importtime, whose report on stderr is ignored here).
        result = _run_python(PROBE.format(module=module), directory)
        if result.returncode != 0:
            raise RuntimeError(f"import {module} failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
        cpu, wall = (float(value) * 1000 for value in result.stdout.split())
        samples.append((cpu, wall))
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="import runs per module (median reported)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}, median of {args.runs} cold imports each")
    with tempfile.TemporaryDirectory(prefix="signal9-cold-import-") as workdir:
        boto3_cpu, boto3_wall = import_ms("boto3", Path(workdir), args.runs)
        print(f"{'import boto3':<28} CPU {boto3_cpu:7.1f} ms  wall {boto3_wall:7.1f} ms")
        for function in catalog.FUNCTIONS:
            target = Path(workdir) / function.package
            unpack(packaging.zip_bytes(function), target)
            cpu, wall = import_ms(handler_module(function), target, args.runs)
            extra = cpu - boto3_cpu
            verdict = "within" if extra <= BUDGET_MS else "OVER"
            print(
                f"{function.name:<28} CPU {cpu:7.1f} ms  wall {wall:7.1f} ms  "
                f"CPU vs boto3 {extra:+7.1f} ms  {verdict} +{BUDGET_MS:.0f} ms"
            )


if __name__ == "__main__":
    main()
