"""``signal9 fakes serve``: both API fakes on 127.0.0.1, for trying collectors or ``local up --*-url``.

Prints each fake's URL and its (obviously fake) keys in the shape the Signal9 secrets and
``signal9 local up --alpaca-url ... --alphavantage-url ... --compressed-pacing`` take (these fakes
enforce no rate, so the run need not pace its requests in real time), then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, AlpacaFake
from signal9_tools.fakes.alphavantage import FAKE_API_KEY, AlphaVantageFake
from signal9_tools.fakes.server import serving

DEFAULT_ASSETS = 40


@dataclass(frozen=True)
class ServedFakes:
    """Where both fakes answer and the keys they accept (the values of both Signal9 secrets)."""

    alpaca_url: str
    alphavantage_url: str

    def secrets(self) -> dict[str, dict[str, str]]:
        """Secret name -> the value to store for the collectors to reach these fakes."""
        return {
            "alpaca": {
                "keyId": ALPACA_KEY_ID,
                "secretKey": ALPACA_SECRET_KEY,
                "baseUrl": self.alpaca_url,
                "dataUrl": self.alpaca_url,  # one fake answers trading and market-data paths
            },
            "alphavantage": {"apiKey": FAKE_API_KEY, "baseUrl": self.alphavantage_url},
        }


@contextlib.contextmanager
def served_fakes(
    assets: int = DEFAULT_ASSETS, alpaca: AlpacaFake | None = None, alphavantage: AlphaVantageFake | None = None
) -> Iterator[ServedFakes]:
    """Both fakes (over a universe of ``assets`` companies unless given) served until the block ends."""
    with (
        serving(alpaca or AlpacaFake(size=assets)) as alpaca_server,
        serving(alphavantage or AlphaVantageFake(assets)) as alphavantage_server,
    ):
        yield ServedFakes(alpaca_server.url, alphavantage_server.url)


def describe(fakes: ServedFakes) -> str:
    lines = ["signal9 fakes: serving on 127.0.0.1 (Ctrl-C stops)"]
    for name, value in fakes.secrets().items():
        lines.append(f"  {name}: " + ", ".join(f"{field}={text}" for field, text in value.items()))
    lines.append(
        f"  try: SIGNAL9_ALPACA_KEY_ID={ALPACA_KEY_ID} SIGNAL9_ALPACA_SECRET_KEY={ALPACA_SECRET_KEY} "
        f"SIGNAL9_ALPHAVANTAGE_API_KEY={FAKE_API_KEY} signal9 local up --alpaca-url {fakes.alpaca_url} "
        f"--alpaca-data-url {fakes.alpaca_url} --alphavantage-url {fakes.alphavantage_url} --compressed-pacing"
    )
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("fakes", help="serve the local Alpaca and AlphaVantage fakes on 127.0.0.1")
    actions = parser.add_subparsers(dest="action", required=True)
    serve = actions.add_parser("serve", help="serve both fakes and print their URLs and fake keys")
    serve.add_argument(
        "--assets", type=int, default=DEFAULT_ASSETS, help=f"companies in the universe (default {DEFAULT_ASSETS})"
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.assets < 1:
        print("signal9 fakes serve: --assets must be at least 1", file=sys.stderr)
        return 2
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    with served_fakes(args.assets) as fakes:
        print(describe(fakes), flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0
