"""`signal9 fakes serve`: both fakes on 127.0.0.1, their URLs and fake keys printed for `local up --*-url`."""

from __future__ import annotations

import json
import shlex
import urllib.request

import pytest

from signal9_tools.cli import main, parse
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY
from signal9_tools.fakes.alphavantage import FAKE_API_KEY
from signal9_tools.fakes.cli import describe, served_fakes


def test_both_fakes_answer_with_the_keys_and_urls_described() -> None:
    with served_fakes(assets=5) as fakes:
        text = describe(fakes)
        request = urllib.request.Request(
            f"{fakes.alpaca_url}/v2/assets?status=active",
            headers={"APCA-API-KEY-ID": ALPACA_KEY_ID, "APCA-API-SECRET-KEY": ALPACA_SECRET_KEY},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assets = json.loads(response.read())
        query = f"{fakes.alphavantage_url}/query?function=EARNINGS_CALENDAR&horizon=3month&apikey={FAKE_API_KEY}"
        with urllib.request.urlopen(query, timeout=10) as response:
            calendar = response.read().decode()
    assert 0 < len(assets) <= 5
    assert calendar.startswith("symbol,name,reportDate")
    for value in (fakes.alpaca_url, fakes.alphavantage_url, ALPACA_KEY_ID, ALPACA_SECRET_KEY, FAKE_API_KEY):
        assert value in text
    assert f"--alpaca-url {fakes.alpaca_url} --alpaca-data-url {fakes.alpaca_url}" in text
    # The secret values printed send market data to the same Alpaca fake (it answers both APIs).
    assert f"baseUrl={fakes.alpaca_url}, dataUrl={fakes.alpaca_url}" in text
    assert fakes.alpaca_url.startswith("http://127.0.0.1:") and fakes.alphavantage_url.startswith("http://127.0.0.1:")


def test_serve_refuses_an_empty_universe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fakes", "serve", "--assets", "0"]) == 2
    assert "--assets must be at least 1" in capsys.readouterr().err


def test_the_suggested_local_up_command_parses_and_asks_for_compressed_pacing() -> None:
    """The fakes enforce no rate: the command `fakes serve` suggests runs in seconds, not ~16 minutes."""
    with served_fakes(assets=2) as fakes:
        text = describe(fakes)
    (line,) = [line for line in text.splitlines() if line.lstrip().startswith("try:")]
    words = shlex.split(line.split("try:", 1)[1])
    command = words.index("signal9")
    environment = dict(word.split("=", 1) for word in words[:command])
    assert set(environment) == {"SIGNAL9_ALPACA_KEY_ID", "SIGNAL9_ALPACA_SECRET_KEY", "SIGNAL9_ALPHAVANTAGE_API_KEY"}
    args = parse(words[command + 1 :])
    assert (args.command, args.action) == ("local", "up")
    assert args.compressed_pacing is True
    assert (args.alpaca_url, args.alphavantage_url) == (fakes.alpaca_url, fakes.alphavantage_url)
