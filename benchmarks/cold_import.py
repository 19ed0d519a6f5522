"""Cold import of each handler against bare ``import boto3`` (issue 11: within +300 ms). Printed, not asserted.

Each handler's deployment archive (as FunctionFleet builds it) is unzipped alone into a fresh
directory and imported with ``python -X importtime`` (no byte-code cache for the handler
code), as benchmarks/function_archives.py does; ``import boto3`` is timed the same way. The
figure per handler is the median over ``--runs`` of the summed top-level import times, and
the difference from boto3's median. Dependencies come from this virtualenv, standing in for
the Lambda runtime and the Powertools layer; this interpreter may be older than Lambda's
python3.13, so the differences are the meaningful part.

    .venv/bin/python benchmarks/cold_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.function_archives import import_time_us, startup_imports  # noqa: E402
from components import packaging  # noqa: E402
from signal9 import catalog  # noqa: E402

BUDGET_MS = 300.0


def median_ms(module: str, directory: Path, runs: int) -> float:
    baseline = startup_imports(directory)
    return statistics.median(import_time_us(module, directory, baseline) for _ in range(runs)) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="import runs per module (median reported)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, median of {args.runs} cold imports each")
    with tempfile.TemporaryDirectory(prefix="signal9-cold-import-") as workdir:
        boto3_ms = median_ms("boto3", Path(workdir), args.runs)
        print(f"{'import boto3':<28} {boto3_ms:8.1f} ms")
        for function in catalog.FUNCTIONS:
            target = Path(workdir) / function.package
            with zipfile.ZipFile(io.BytesIO(packaging.zip_bytes(function))) as bundle:
                bundle.extractall(target)
            module = packaging.handler(function).rsplit(".", 1)[0]
            handler_ms = median_ms(module, target, args.runs)
            extra = handler_ms - boto3_ms
            verdict = "within" if extra <= BUDGET_MS else "OVER"
            print(f"{function.name:<28} {handler_ms:8.1f} ms  boto3 {extra:+7.1f} ms  {verdict} +{BUDGET_MS:.0f} ms")


if __name__ == "__main__":
    main()
