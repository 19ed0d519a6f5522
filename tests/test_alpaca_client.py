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
    MAX_RESET_WAIT_SECONDS,
    AlpacaAuthError,
    AlpacaRequestError,
    AlpacaUnavailableError,
    average_volume,
    bars_window,
    symbol_batches,
)
from signal9_tools.fakes.alpaca import ALPACA_KEY_ID, ALPACA_SECRET_KEY, IEX_SHARE, AlpacaFake
from signal9_tools.fakes.server import FakeRequest
from tests.alpaca_support import Served, served_fake
from tests.av_support import captured_logs

KEYS = (ALPACA_KEY_ID, ALPACA_SECRET_KEY)
WINDOW = (date(2026, 10, 1), date(2026, 10, 30))


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


def expected_volumes(fake: AlpacaFake, symbol: str, feed: str = "sip") -> list[int]:
    start, end = WINDOW
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [v for v in (fake.daily_volume(symbol, d, feed) for d in days) if v is not None]


def test_daily_volumes_page_and_batch_until_every_bar_is_read(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(alpaca.BARS_QUERY, "limit", "50")  # 50 bars a page: symbols continue on the next page
    monkeypatch.setattr(alpaca, "MAX_SYMBOLS_PER_REQUEST", 15)
    symbols = sorted(served.fake.active_symbols())
    volumes = served.client().daily_volumes(symbols, *WINDOW)
    assert volumes == {s: expected_volumes(served.fake, s) for s in symbols if expected_volumes(served.fake, s)}
    assert all(len(v) == 22 for v in volumes.values())  # October 2026 has 22 weekdays
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
    assert sum(iex) < sum(volumes) * IEX_SHARE * 1.1  # the fake's IEX volume is a few percent of SIP


def test_daily_bars_are_sessions_at_new_york_midnight(served: Served) -> None:
    request = FakeRequest(
        "GET",
        BARS_PATH,
        {"symbols": "AAPL", "timeframe": "1Day", "start": "2026-10-30", "end": "2026-11-03"},
        {"apca-api-key-id": ALPACA_KEY_ID, "apca-api-secret-key": ALPACA_SECRET_KEY},
    )
    stamps = [bar["t"] for bar in json.loads(served.fake.handle(request).body)["bars"]["AAPL"]]
    # Friday (EDT, -4), then Monday and Tuesday after the 1 November switch to EST (-5); no weekend.
    assert stamps == ["2026-10-30T04:00:00Z", "2026-11-02T05:00:00Z", "2026-11-03T05:00:00Z"]


def test_a_symbol_without_bars_is_absent(served: Served) -> None:
    assert served.client().daily_volumes(["ZZZZZ"], *WINDOW) == {}


def test_a_malformed_bars_page_fails_validation(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.fake, "_bars", lambda query: {"bars": {"AAPL": [{"t": "yesterday", "v": 1}]}})
    with pytest.raises(AlpacaRequestError, match=r"/v2/stocks/bars: response failed validation .*bars\.AAPL\.0\.t"):
        served.client().daily_volumes(["AAPL"], *WINDOW)


def test_bars_window_is_twenty_sessions_plus_slack_ending_yesterday_in_new_york() -> None:
    # 01:30 UTC on Tuesday 3 November is still Monday 2 November in New York: yesterday is Sunday 1st.
    start, end = bars_window(datetime(2026, 11, 3, 1, 30, tzinfo=UTC))
    assert end == date(2026, 11, 1)
    weekdays = sum(1 for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5)
    assert weekdays == alpaca.SESSIONS + alpaca.HOLIDAY_SLACK_WEEKDAYS and start.weekday() < 5


def test_average_volume_is_the_mean_of_the_last_twenty_sessions() -> None:
    assert average_volume([]) == 0
    assert average_volume([10**9] * 4 + [100] * 19 + [103]) == 100  # the 4 oldest are outside the 20
    assert average_volume([1, 2]) == 2  # rounded half to even: 1.5 -> 2


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
