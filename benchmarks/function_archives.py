"""Per-function deployment archive size and handler cold import time (printed, not asserted).

For each catalog function: the archive FunctionFleet deploys, zipped in memory exactly as
``components.packaging`` builds it, then unzipped alone into a fresh directory and imported
with ``python -X importtime -c "import functions.<package>.handler"`` (no byte-code cache for
the handler code, as in Lambda's read-only /var/task). The import time is the sum of the
cumulative times of the top-level imports the handler triggers (interpreter start-up imports
excluded), median of several runs. Dependencies (Powertools, pydantic, boto3) come from this
virtualenv, standing in for the layer and the runtime; this interpreter may be older than
Lambda's python3.13, so treat the figures as relative.

A handler that fails to import is reported with its error instead of a time.

    .venv/bin/python benchmarks/function_archives.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components import packaging  # noqa: E402
from signal9 import catalog  # noqa: E402

# What Lambda sets that the shared code may read while importing; never real credentials.
IMPORT_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "Signal9",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def _top_level_imports(stderr: str) -> dict[str, int]:
    """Top-level module -> cumulative µs from ``-X importtime`` output."""
    imports: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue  # the header line
        _self_us, cumulative, name = line.removeprefix("import time:").split("|")
        if name.startswith(" ") and not name.startswith("  "):  # one space: nesting depth 0
            imports[name.strip()] = int(cumulative)
    return imports


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **IMPORT_ENVIRONMENT},
        timeout=120,
        check=False,
    )


def startup_imports(cwd: Path) -> set[str]:
    return set(_top_level_imports(_run_python("pass", cwd).stderr))


def import_time_us(module: str, cwd: Path, baseline: set[str]) -> int:
    result = _run_python(f"import {module}", cwd)
    if result.returncode != 0:
        error = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise RuntimeError(error)
    return sum(us for name, us in _top_level_imports(result.stderr).items() if name not in baseline)


def unpack(archive: bytes, target: Path) -> zipfile.ZipFile:
    """``archive`` unzipped into ``target`` (as Lambda does into /var/task); returns its index."""
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        bundle.extractall(target)
        return bundle


def handler_module(function: catalog.Function) -> str:
    return packaging.handler(function).rsplit(".", 1)[0]


def measure(function: catalog.Function, runs: int, workdir: Path) -> str:
    try:
        archive = packaging.zip_bytes(function)
    except OSError as error:
        return f"{function.name:<28} archive unavailable: {error}"
    target = workdir / function.package
    bundle = unpack(archive, target)
    files = len(bundle.namelist())
    unpacked = sum(info.file_size for info in bundle.infolist())
    module = handler_module(function)
    baseline = startup_imports(target)
    try:
        times = [import_time_us(module, target, baseline) for _ in range(runs)]
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        timing = f"import failed: {error}"
    else:
        timing = f"{statistics.median(times):>9,.0f} µs (min {min(times):,}, max {max(times):,})"
    return f"{function.name:<28} {len(archive):>7,} B zip {unpacked:>8,} B unzipped {files:>3} files  {timing}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="import runs per handler (median reported)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.runs} import runs per handler")
    with tempfile.TemporaryDirectory(prefix="signal9-archives-") as workdir:
        for function in catalog.FUNCTIONS:
            print(measure(function, args.runs, Path(workdir)), flush=True)


if __name__ == "__main__":
    main()
