"""Time of `signal9 local up` (deploy and smoke separately) and the resource count (printed, not asserted)."""

from __future__ import annotations

import statistics

from signal9.emulator.cli import deploy_and_smoke

RUNS = 3


def main() -> None:
    runs = [deploy_and_smoke("dev") for _ in range(RUNS)]
    deploy = [run.timings["deploy"] for run in runs]
    smoke = [run.timings["smoke"] for run in runs]
    resources = len(runs[0].plan.resources)
    created = len([r for r in runs[0].plan.resources if r.custom and not r.type.startswith("pulumi:providers:")])
    print(f"signal9 local up --stack dev ({RUNS} runs, in one process):")
    print(
        f"  deploy into moto: median {statistics.median(deploy):.2f} s (min {min(deploy):.2f}, max {max(deploy):.2f})"
    )
    print(f"  smoke:            median {statistics.median(smoke):.2f} s (min {min(smoke):.2f}, max {max(smoke):.2f})")
    print(f"  resources: {resources} registered, {created} created in the emulator")
    print(f"  checks: {len(runs[0].report.checks)} ({len(runs[0].report.failed)} failed)")


if __name__ == "__main__":
    main()
