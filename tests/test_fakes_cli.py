"""`signal9 fakes serve`: both fakes on 127.0.0.1, their URLs and fake keys printed for `local up --*-url`."""

from __future__ import annotations

import json
import urllib.request

import pytest

from signal9_tools.cli import main
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
