"""The Alpaca client against the local Alpaca fake over real HTTP on 127.0.0.1 (never the real API)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from functions.shared import alpaca
from functions.shared.alpaca import (
    ASSETS_PATH,
    BARS_PATH,
    CALENDAR_PATH,
    MAX_RESET_WAIT_SECONDS,
    AlpacaAuthError,
    AlpacaRequestError,
    AlpacaUnavailableError,
    average_volume,
    symbol_batches,
)
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, IEX_SHARE, AlpacaFake, sessions
from signal9_tools.fakes.server import FakeRequest
from tests.alpaca_support import Served, served_fake
from tests.av_support import captured_logs

KEYS = (ALPACA_KEY_ID, ALPACA_SECRET_KEY)
WINDOW = (date(2026, 10, 1), date(2026, 10, 30))
AUTH = {"apca-api-key-id": ALPACA_KEY_ID, "apca-api-secret-key": ALPACA_SECRET_KEY}
# Monday 7 December 2026, 05:30 in New York: Thanksgiving (26 November) is among the last 20 sessions.
AFTER_THANKSGIVING = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


@pytest.fixture
def served() -> Any:
    with served_fake() as served:
        yield served


def assert_no_keys(*texts: str) -> None:
    for text in texts:
        for key in KEYS:
            assert key not in text


# --- the asset list ----------------------------------------------------------------------


def test_lists_the_active_catalog_in_one_request(served: Served) -> None:
    assets = served.client().list_active_assets()
    assert {a.symbol for a in assets} == served.fake.active_symbols()
    assert len(assets) < len(served.fake.assets())  # the fake also has inactive rows, filtered by the query
    assert served.server.count(ASSETS_PATH, status="active", asset_class="us_equity") == 1
    assert served.server.count() == 1
    apple = next(a for a in assets if a.symbol == "AAPL")
    assert (apple.asset_class, apple.exchange, apple.tradable) == ("us_equity", "NASDAQ", True)


def test_tolerates_deprecated_new_and_unknown_fields(served: Served) -> None:
    served.fake.deprecated_fields = False
    served.fake.extra_fields = True
    served.fake.numeric_margins = True
    served.fake.change("AAPL", exchange="", cusip=None, brand_new_field={"nested": [1]})
    served.fake.change("MSFT", exchange="NEWEX", margin_requirement_long="30.5", name=None)
    assets = {a.symbol: a for a in served.client().list_active_assets()}
    assert assets["AAPL"].exchange == "" and assets["AAPL"].cusip is None
    assert assets["AAPL"].easy_to_borrow is None and assets["AAPL"].maintenance_margin_requirement is None
    assert assets["MSFT"].exchange == "NEWEX" and assets["MSFT"].name is None
    assert str(assets["MSFT"].margin_requirement_long) == "30.5"
    ibm = next(a for a in served.fake.assets() if a["symbol"] == "IBM")
    assert isinstance(ibm["margin_requirement_long"], int)  # the knob sent a JSON number
    assert assets["IBM"].margin_requirement_long == ibm["margin_requirement_long"]


def test_string_margins_parse_as_numbers(served: Served) -> None:
    row = next(a for a in served.fake.assets() if a["symbol"] == "IBM")
    assert isinstance(row["margin_requirement_long"], str)  # the documented encoding
    ibm = next(a for a in served.client().list_active_assets() if a.symbol == "IBM")
    assert ibm.margin_requirement_long == int(row["margin_requirement_long"])


def test_a_malformed_asset_fails_validation_naming_the_field_not_the_value(served: Served) -> None:
    served.fake.change("TSLA", tradable="sometimes")
    with pytest.raises(AlpacaRequestError, match=r"failed validation .*tradable") as raised:
        served.client().list_active_assets()
    assert "sometimes" not in str(raised.value)


def test_a_body_that_is_not_a_list_fails_validation(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.fake, "_list_assets", lambda query: {"assets": []})
    with pytest.raises(AlpacaRequestError, match="failed validation"):
        served.client().list_active_assets()


# --- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "message"), [("code", "request is not authorized"), ("message", "unauthorized.")])
def test_401_fails_at_once_naming_host_and_status_never_a_key(served: Served, shape: str, message: str) -> None:
    served.fake.auth_error_shape = shape  # type: ignore[assignment]
    with captured_logs() as logs, pytest.raises(AlpacaAuthError) as raised:
        served.client(served.credentials(key_id="test-wrong-key-0000")).list_active_assets()
    text = str(raised.value)
    host = served.server.url.removeprefix("http://")
    assert f"alpaca GET /v2/assets at {host} answered 401 ({message})" in text
    assert "secret 'alpaca'" in text
    assert served.server.count() == 1 and served.sleeps == []
    assert_no_keys(text, logs.getvalue(), "test-wrong-key-0000")
    assert "test-wrong-key-0000" not in text


def test_client_sends_both_auth_headers(served: Served) -> None:
    served.fake.secret_key = "test-other-secret-0000"
    with pytest.raises(AlpacaAuthError):
        served.client().list_active_assets()  # right key id, wrong secret: refused


def test_403_on_the_data_api_is_an_auth_failure(served: Served) -> None:
    served.fake.fail_next(403, path=BARS_PATH)
    with pytest.raises(AlpacaAuthError, match=r"GET /v2/stocks/bars at .* answered 403 \(forbidden.\)"):
        served.client().daily_volumes(["AAPL"], *WINDOW)


# --- throttling and server errors ---------------------------------------------------------


def test_429_waits_until_the_rate_limit_resets_then_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    with served_fake(requests_per_minute=1) as served:
        client = served.client()
        client.list_active_assets()  # uses the minute's only request
        reset = (served.clock.now // 60 + 1) * 60
        wait = reset - served.clock.now
        assert wait > 1.0  # longer than the first backoff ceiling, so the header decides
        with captured_logs() as logs:
            assert client.list_active_assets()
        assert served.sleeps == [wait]
        assert [r.status for r in served.server.requests] == [200, 429, 200]
        assert (client.throttled, client.retries, client.calls) == (1, 1, 3)
        assert "retrying" in logs.getvalue()
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    throttled = [m for m in emf if "ExternalThrottled" in m]
    retries = [m for m in emf if "ExternalRetries" in m]
    assert len(throttled) == 1 and throttled[0]["api"] == "alpaca"
    assert len(retries) == 1 and retries[0]["api"] == "alpaca"


def test_the_fake_puts_rate_limit_headers_on_every_response(served: Served) -> None:
    request = FakeRequest("GET", ASSETS_PATH, {}, {})
    for response in (served.fake.handle(request), served.fake.handle(FakeRequest("GET", "/nowhere", {}, {}))):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(response.headers)


def test_a_reset_far_away_is_capped(served: Served) -> None:
    served.fake.fail_next(429)
    client = served.client()
    served.clock.now -= 3600  # the client's clock runs an hour behind the server's
    client.list_active_assets()
    assert served.sleeps == [MAX_RESET_WAIT_SECONDS]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_backoff_then_succeed(served: Served, status: int) -> None:
    served.fake.fail_next(status, times=2)
    assert served.client().list_active_assets()
    assert served.sleeps == [1.0, 2.0]  # jitter pinned to the ceiling: 1 s base, doubling
    assert [r.status for r in served.server.requests] == [status, status, 200]


def test_server_errors_forever_fail_clearly_after_three_retries(served: Served) -> None:
    served.fake.fail_next(500, times=100)
    with captured_logs() as logs, pytest.raises(AlpacaUnavailableError) as raised:
        served.client().list_active_assets()
    assert "alpaca GET /v2/assets at 127.0.0.1:" in str(raised.value)
    assert "still answered 500 after 4 attempts" in str(raised.value)
    assert served.server.count() == 4 and served.sleeps == [1.0, 2.0, 4.0]
    assert_no_keys(str(raised.value), logs.getvalue())


def test_a_slow_response_times_out_and_is_retried_then_fails(served: Served) -> None:
    served.fake.delay_seconds = 0.3
    with pytest.raises(AlpacaUnavailableError, match=r"no response \(ReadTimeoutError\) after 4 attempts"):
        served.client(timeout=0.05).list_active_assets()
    assert served.sleeps == [1.0, 2.0, 4.0]


def test_a_refused_connection_is_retried_then_fails() -> None:
    with served_fake() as served:
        client = served.client()
    with pytest.raises(AlpacaUnavailableError, match="no response"):
        client.list_active_assets()  # the server is gone
    assert len(served.sleeps) == 3


def test_a_400_is_not_retried(served: Served) -> None:
    with pytest.raises(AlpacaRequestError, match=r"answered 400 \(invalid symbol: BAD\$\)"):
        served.client().daily_volumes(["BAD$"], *WINDOW)
    assert served.server.count() == 1


# --- bars --------------------------------------------------------------------------------


def expected_volumes(fake: AlpacaFake, symbol: str, feed: str = "sip") -> dict[date, int]:
    start, end = WINDOW
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return {d: v for d, v in ((d, fake.daily_volume(symbol, d, feed)) for d in days) if v is not None}


def test_daily_volumes_page_and_batch_until_every_bar_is_read(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(alpaca.BARS_QUERY, "limit", "50")  # 50 bars a page: symbols continue on the next page
    monkeypatch.setattr(alpaca, "MAX_SYMBOLS_PER_REQUEST", 15)
    symbols = sorted(served.fake.active_symbols())
    volumes = served.client().daily_volumes(symbols, *WINDOW)
    assert volumes == {s: expected_volumes(served.fake, s) for s in symbols if expected_volumes(served.fake, s)}
    assert len(volumes["AAPL"]) == 22 and min(map(len, volumes.values())) < 22  # 22 sessions; thin symbols fewer
    pages = [r for r in served.server.requests if r.path == BARS_PATH]
    assert len(pages) >= len(symbols) * 22 // 50
    assert len({r.query["symbols"] for r in pages}) == -(-len(symbols) // 15)
    assert sum(1 for r in pages if "page_token" in r.query) == len(pages) - -(-len(symbols) // 15)
    for page in pages:
        assert page.query["feed"] == "sip" and page.query["timeframe"] == "1Day"
        assert (page.query["start"], page.query["end"]) == ("2026-10-01", "2026-10-30")
        assert page.query["adjustment"] == "raw"


def test_sip_volumes_not_iex(served: Served) -> None:
    volumes = served.client().daily_volumes(["AAPL"], *WINDOW)["AAPL"]
    iex = expected_volumes(served.fake, "AAPL", "iex")
    assert volumes == expected_volumes(served.fake, "AAPL")
    assert sum(iex.values()) < sum(volumes.values()) * IEX_SHARE * 1.1  # the fake's IEX volume is a few percent of SIP


def bar_stamps(fake: AlpacaFake, symbol: str, start: str, end: str) -> list[str]:
    query = {"symbols": symbol, "timeframe": "1Day", "start": start, "end": end}
    return [
        bar["t"] for bar in json.loads(fake.handle(FakeRequest("GET", BARS_PATH, query, AUTH)).body)["bars"][symbol]
    ]


def test_daily_bars_are_sessions_at_new_york_midnight(served: Served) -> None:
    # Friday (EDT, -4); on the fake's clock (Monday 05:30) Monday's session has not opened yet.
    assert bar_stamps(served.fake, "AAPL", "2026-10-30", "2026-11-03") == ["2026-10-30T04:00:00Z"]
    served.clock.advance(2 * 86400)
    # Then Monday and Tuesday after the 1 November switch to EST (-5); no weekend.
    assert bar_stamps(served.fake, "AAPL", "2026-10-30", "2026-11-03") == [
        "2026-10-30T04:00:00Z",
        "2026-11-02T05:00:00Z",
        "2026-11-03T05:00:00Z",
    ]


def test_the_fake_has_no_bar_on_a_holiday(served: Served) -> None:
    served.clock.now = AFTER_THANKSGIVING.timestamp()
    stamps = bar_stamps(served.fake, "AAPL", "2026-11-25", "2026-11-30")
    assert stamps == ["2026-11-25T05:00:00Z", "2026-11-27T05:00:00Z", "2026-11-30T05:00:00Z"]


# --- the market calendar -------------------------------------------------------------------


def fake_calendar(fake: AlpacaFake, **query: str) -> tuple[int, Any]:
    response = fake.handle(FakeRequest("GET", CALENDAR_PATH, query, AUTH))
    return response.status, json.loads(response.body)


def test_the_fake_calendar_lists_sessions_only_with_early_closes(served: Served) -> None:
    status, days = fake_calendar(served.fake, start="2026-11-20", end="2026-12-31")
    assert status == 200
    listed = {d["date"]: d for d in days}
    assert "2026-11-26" not in listed and "2026-12-25" not in listed  # Thanksgiving, Christmas
    assert "2026-11-21" not in listed and "2026-11-22" not in listed  # a weekend
    assert len(listed) == 28  # 30 weekdays from 20 November to 31 December, less the two holidays
    assert listed["2026-11-27"]["close"] == listed["2026-12-24"]["close"] == "13:00"  # early closes
    assert listed["2026-11-25"] == {
        "date": "2026-11-25",
        "open": "09:30",
        "close": "16:00",
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": "2026-11-27",  # T+1: the next session, over the holiday
    }
    _, january = fake_calendar(served.fake, start="2025-01-06", end="2025-01-10")
    assert [d["date"] for d in january] == ["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-10"]  # 9th: mourning
    assert fake_calendar(served.fake, start="2026-11-20")[0] == 400  # unbounded: the client must bound it


def test_recent_sessions_are_the_twenty_calendar_sessions_before_today(served: Served) -> None:
    days = served.client().recent_sessions(AFTER_THANKSGIVING)
    assert days == sessions(date(2026, 11, 6), date(2026, 12, 4)) and len(days) == 20
    assert date(2026, 11, 26) not in days  # the holiday is no session: the 20 reach back to 6 November
    (request,) = served.server.requests
    assert request.path == CALENDAR_PATH and request.query["end"] == "2026-12-06"  # yesterday in New York
    assert date.fromisoformat(request.query["start"]) <= date(2026, 11, 6)


def test_the_calendar_call_is_retried_like_every_other(served: Served) -> None:
    served.fake.fail_next(503, path=CALENDAR_PATH)
    assert len(served.client().recent_sessions(AFTER_THANKSGIVING)) == 20
    assert served.sleeps == [1.0]


def test_a_calendar_with_too_few_sessions_fails(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    real = served.fake._calendar
    monkeypatch.setattr(served.fake, "_calendar", lambda query: real(query)[-5:])
    with pytest.raises(AlpacaRequestError, match=r"/v2/calendar listed 5 sessions .* expected 20"):
        served.client().recent_sessions(AFTER_THANKSGIVING)


def test_a_malformed_calendar_fails_validation(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.fake, "_calendar", lambda query: [{"date": "26/11/2026", "open": "09:30"}])
    with pytest.raises(AlpacaRequestError, match=r"/v2/calendar: response failed validation .*date"):
        served.client().recent_sessions(AFTER_THANKSGIVING)


def test_a_symbol_without_bars_is_absent(served: Served) -> None:
    assert served.client().daily_volumes(["ZZZZZ"], *WINDOW) == {}


def test_a_malformed_bars_page_fails_validation(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.fake, "_bars", lambda query: {"bars": {"AAPL": [{"t": "yesterday", "v": 1}]}})
    with pytest.raises(AlpacaRequestError, match=r"/v2/stocks/bars: response failed validation .*bars\.AAPL\.0\.t"):
        served.client().daily_volumes(["AAPL"], *WINDOW)


def test_average_volume_divides_by_the_sessions_not_the_bars() -> None:
    twenty = sessions(date(2026, 10, 5), date(2026, 10, 30))
    assert average_volume({}, twenty) == 0
    assert average_volume({twenty[0]: 100, twenty[-1]: 300}, twenty) == 20  # 18 sessions without a bar count 0
    assert average_volume({day: 100 for day in twenty} | {date(2026, 10, 2): 10**9}, twenty) == 100  # outside
    assert average_volume({twenty[0]: 30}, twenty) == 2  # 1.5 rounded half to even


def test_symbol_batches_keep_urls_short() -> None:
    symbols = [f"S{n:04d}" for n in range(1000)]
    batches = list(symbol_batches(symbols))
    assert [s for b in batches for s in b] == symbols
    assert all(len(b) <= alpaca.MAX_SYMBOLS_PER_REQUEST for b in batches)
    assert all(len(",".join(b).replace(",", "%2C")) <= alpaca.MAX_SYMBOLS_BYTES for b in batches)
    long_symbols = [f"{'X' * 40}{n}" for n in range(200)]
    assert all(len(",".join(b).replace(",", "%2C")) <= alpaca.MAX_SYMBOLS_BYTES for b in symbol_batches(long_symbols))


def test_the_fake_request_log_never_holds_a_key(served: Served) -> None:
    served.client().list_active_assets()
    served.client().daily_volumes(["AAPL"], *WINDOW)
    assert served.server.count() == 2
    assert_no_keys(repr(served.server.requests))
