"""The Alpaca fake's NYSE table, held to a maintained calendar (exchange_calendars' XNYS) as the oracle.

The fake types its closures in and never imports the oracle (it must not share a belief with
anything it checks); this test is where the two meet. A deploy made today runs for years, and
``make local`` asks the fake for the sessions around the current date and a week ahead, so the
table must reach past the last year a deploy is expected to run.
"""

from __future__ import annotations

import ast
import json
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from signal9_tools.fakes import alpaca
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, CALENDAR_PATH, AlpacaFake
from signal9_tools.fakes.server import FakeRequest

# The fake must answer for every date through this year, its week of look-ahead included.
RUNS_THROUGH = 2030
AUTH = {"apca-api-key-id": ALPACA_KEY_ID, "apca-api-secret-key": ALPACA_SECRET_KEY}  # lower-cased, as served


@pytest.fixture(scope="module")
def xnys() -> Any:
    # Imported here: with pandas it takes ~0.4 s, which every test process would pay at collection.
    import exchange_calendars
    import pandas as pd

    years = alpaca.CALENDAR_YEARS
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads Series.values, which pandas 3 deprecates for tz-aware data.
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        return exchange_calendars.get_calendar("XNYS", start=f"{years[0]}-01-01", end=f"{years[-1]}-12-31")


def weekdays(year: int) -> list[date]:
    first = date(year, 1, 1)
    days = (first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days))
    return [day for day in days if day.weekday() < 5]


def test_the_table_covers_every_year_a_deploy_made_today_runs() -> None:
    assert alpaca.CALENDAR_YEARS[0] <= date.today().year and alpaca.CALENDAR_YEARS[-1] > RUNS_THROUGH
    # The last day it must serve, with the week the settlement date looks ahead.
    status, days = calendar(start=f"{RUNS_THROUGH}-12-24", end=f"{RUNS_THROUGH}-12-31")
    assert status == 200 and days[-1]["date"] == f"{RUNS_THROUGH}-12-31"
    assert days[-1]["settlement_date"] == f"{RUNS_THROUGH + 1}-01-02"


@pytest.mark.parametrize("year", alpaca.CALENDAR_YEARS)
def test_the_fakes_closures_are_the_oracles(xnys: Any, year: int) -> None:
    sessions = {ts.date() for ts in xnys.sessions}
    closed = {day for day in weekdays(year) if day not in sessions}
    assert {day for day in alpaca.HOLIDAYS if day.year == year} == closed


@pytest.mark.parametrize("year", alpaca.CALENDAR_YEARS)
def test_the_fakes_early_closes_are_the_oracles_at_one_pm(xnys: Any, year: int) -> None:
    early = {ts.date(): xnys.session_close(ts) for ts in xnys.early_closes if ts.year == year}
    assert {day for day in alpaca.EARLY_CLOSES if day.year == year} == set(early)
    for day, close in early.items():
        assert close.tz_convert("America/New_York").strftime("%H:%M") == "13:00", day
        _, listed = calendar(start=day.isoformat(), end=day.isoformat())
        assert listed[0]["close"] == "13:00"


def test_outside_the_table_the_fake_refuses_rather_than_guesses() -> None:
    last = alpaca.CALENDAR_YEARS[-1]
    assert calendar(start=f"{last + 1}-01-05", end=f"{last + 1}-01-09")[0] == 400


def test_the_fake_does_not_import_the_oracle() -> None:
    """exchange_calendars checks the table; the fake serving `make local` must not lean on it."""
    tree = ast.parse(Path(alpaca.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in ("exchange_calendars", "pandas")}


def calendar(**query: str) -> tuple[int, Any]:
    response = AlpacaFake().handle(FakeRequest("GET", CALENDAR_PATH, query, AUTH))
    return response.status, json.loads(response.body)


def test_the_oracle_is_the_calendar_it_claims_to_be(xnys: Any) -> None:
    """A sanity check of the oracle itself on dates NYSE published (not the fake's table)."""
    assert not xnys.is_session("2026-11-26")  # Thanksgiving
    assert xnys.is_session("2026-11-27")
