"""The ``signal9`` command: tooling around the Pulumi program.

Every subcommand works offline (no AWS account needed) except ``signal9 dlq``, which
reads and replays the real dead-letter queues of a deployed stack.

Each subcommand lives in its own module exposing ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from signal9.config import ConfigError

SUBCOMMAND_MODULES = (
    "signal9.plan",
    "signal9.emulator.cli",
    "signal9.check",
    "signal9.cost",
    "signal9.dlq",
    "signal9.fakes.cli",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="signal9",
        description="Signal9 infrastructure tooling. Offline (no AWS account needed), except `dlq`, which uses AWS.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ConfigError, FileNotFoundError) as error:
        print(f"signal9 {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
