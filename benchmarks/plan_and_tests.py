"""Wall time of `signal9 plan --stack prod` and of the whole test suite (printed, not asserted)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    plans = [timed([str(BIN / "signal9"), "plan", "--stack", "prod", "--json"]) for _ in range(5)]
    print(
        f"signal9 plan --stack prod: median {statistics.median(plans):.2f} s (min {min(plans):.2f}, max {max(plans):.2f}, 5 runs)"
    )
    suite = timed([str(BIN / "pytest"), "-q", "-p", "no:randomly"])
    print(f"test suite (pytest -q): {suite:.1f} s")


if __name__ == "__main__":
    main()
