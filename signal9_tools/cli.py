"""The ``signal9`` command: tooling around the Pulumi program.

Every subcommand works offline (no AWS account needed) except those whose summary says
"(uses AWS)": ``signal9 dlq`` reads and replays the dead-letter queues of a deployed stack,
``signal9 status`` reads what it ran, ``signal9 verify`` reads the stack against its plan.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``run``. Only the module of the subcommand being run is imported (``plan``
must not pay for moto); ``signal9 --help`` and an unknown command import none (``SUMMARIES``).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Iterable, Sequence

from signal9.catalog import STACKS
from signal9_tools.operator_messages import operator_message

# subcommand -> the module that registers it
SUBCOMMANDS = {
    "plan": "signal9_tools.plan",
    "local": "signal9_tools.emulator.cli",
    "check": "signal9_tools.check",
    "preflight": "signal9_tools.preflight",
    "cost": "signal9_tools.cost",
    "dlq": "signal9_tools.dlq",
    "diff": "signal9_tools.diff",
    "status": "signal9_tools.status",
    "verify": "signal9_tools.verify",
    "fakes": "signal9_tools.fakes.cli",
}


# What `signal9 --help` says of each subcommand, without importing every module (~1.5 s with moto);
# tests/test_cli.py checks each line is the one its module registers.
SUMMARIES = {
    "plan": "list the resources a stack would create (offline, Pulumi mocks)",
    "local": "run the whole stack on an embedded local AWS emulator (moto)",
    "check": "run the policy rules over a stack's plan (offline); exit 1 on violations",
    "preflight": "judge a stack's policies against AWS's published rules (offline); exit 1 on any problem",
    "cost": "itemised monthly cost ESTIMATE of a stack (offline)",
    "dlq": "list or replay the functions' dead-letter queues (uses AWS)",
    "status": "is today's data in? collectors, DLQs and alarms (uses AWS)",
    "verify": "check the deployed stack against its plan, read-only (uses AWS); exit 1 on any difference",
    "diff": "what the working tree changes in a stack against a git ref (offline, two plans)",
    "fakes": "serve the local Alpaca and AlphaVantage fakes on 127.0.0.1",
}


# The subcommands that talk to AWS, named in `signal9 --help` (from their summaries, so the two agree).
AWS_COMMANDS = tuple(command for command, summary in SUMMARIES.items() if "(uses AWS)" in summary)


def add_stack_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack", "-s", required=True, help=f"stack name ({', '.join(STACKS)}), read from Pulumi.<stack>.yaml"
    )


def build_parser(modules: Iterable[str]) -> argparse.ArgumentParser:
    """The parser with ``modules``' subcommands in full (none: only the summaries, for top-level help)."""
    parser = argparse.ArgumentParser(
        prog="signal9",
        description="Signal9 infrastructure tooling. Offline (no AWS account needed), except "
        f"{', '.join(f'`{command}`' for command in AWS_COMMANDS)}, which use AWS.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    modules = list(modules)
    for module in modules:
        importlib.import_module(module).register(subparsers)
    if not modules:
        for command, summary in SUMMARIES.items():
            subparsers.add_parser(command, help=summary)
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The arguments, with only the chosen subcommand's module imported (none for help or a typo)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = SUBCOMMANDS.get(argv[0]) if argv else None
    return build_parser([chosen] if chosen else []).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return execute(parse(argv))


# What a shell reports for a command Ctrl-C stopped (128 + SIGINT).
INTERRUPTED = 130


def execute(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; what an operator can fix is one line on stderr and exit 2."""
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        # By now every context the command entered (emulator, fakes, temporary files) has exited.
        print(f"signal9 {args.command}: interrupted (Ctrl-C); what it started has been stopped", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:
        message = operator_message(
            error, getattr(args, "stack", None), getattr(args, "aws_permissions", None), getattr(args, "profile", None)
        )
        if message is None:
            raise
        print(f"signal9 {args.command}: {message}", file=sys.stderr)
        return 2


def collect_less_often() -> None:
    """Run the cyclic garbage collector less often (mypy's setting).

    The program allocates ~270k long-lived objects (pulumi_aws's classes, the resources; the
    emulator adds moto's backends): with the default thresholds the collector re-walks them
    dozens of times, ~0.2 s of `plan` and a third of the test suite's CPU time.
    """
    gc.set_threshold(200_000, 30, 30)


def console_main() -> int:
    """The ``signal9`` executable: ``main`` in a process of its own, with the collector tuned.

    Collect less often and never rescan what the subcommand imported (freezing it saves
    another ~0.2 s of `plan`). Only here, not in ``main``, which tests call in their own process.
    """
    collect_less_often()
    args = parse()
    gc.freeze()
    try:
        code = execute(args)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is seen inside the try
    except BrokenPipeError:
        # The reader stopped early (`signal9 plan --json | head -1`): what it read is what it wanted.
        # Point stdout at /dev/null so the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(console_main())
