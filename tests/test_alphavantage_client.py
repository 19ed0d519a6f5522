"""The AlphaVantage client against the local fake over real HTTP: data, every error body, retries, CSV, no key leaks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import urllib3

from functions.shared import alphavantage
from functions.shared.alphavantage import (
    AlphaVantageError,
    BadRequestError,
    DailyQuotaError,
    InvalidApiKeyError,
    NotEntitledError,
    SymbolNotFoundError,
    ThrottledError,
    UnexpectedResponseError,
    Verdict,
    classify,
)
from functions.shared.http import TransportError
from functions.shared.retry import Backoff
from functions.shared.telemetry import MetricName
from signal9_tools.fakes.alphavantage import CALENDAR_HEADER, FAKE_API_KEY, AlphaVantageFake
from signal9_tools.fakes.alphavantage_faults import Fault, error_body
from signal9_tools.fakes.server import FakeRequest, FakeResponse, FakeServer, serving, text_response
from tests.av_support import ManualClock, captured_logs, client_for, credentials

NOW = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
WRONG_KEY = "test-av-key-9999"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock.at(NOW)


@pytest.fixture
def fake(clock: ManualClock) -> AlphaVantageFake:
    return AlphaVantageFake(12, clock=clock)


@pytest.fixture
def server(fake: AlphaVantageFake) -> Iterator[FakeServer]:
    with serving(fake) as running:
        yield running


@pytest.fixture
def metered(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, MetricName]]:
    """The client's throttle/retry metrics, recorded (the EMF output itself is http.py's, tested there)."""
    recorded: list[tuple[str, MetricName]] = []
    monkeypatch.setattr(alphavantage, "count_external", lambda api, name, value=1: recorded.append((api, name)))
    return recorded


# --- the classifier, body by body ------------------------------------------------------

CLASSIFIED = [
    (Fault.INVALID_API_CALL, Verdict.BAD_REQUEST, BadRequestError),
    (Fault.INVALID_KEY, Verdict.INVALID_API_KEY, InvalidApiKeyError),
    (Fault.DEMO_KEY, Verdict.INVALID_API_KEY, InvalidApiKeyError),
    (Fault.DAILY_QUOTA, Verdict.DAILY_QUOTA, DailyQuotaError),
    (Fault.DAILY_QUOTA_THANKS, Verdict.DAILY_QUOTA, DailyQuotaError),
    (Fault.BURST, Verdict.THROTTLED, ThrottledError),
    (Fault.PREMIUM_RATE, Verdict.THROTTLED, ThrottledError),
    (Fault.LEGACY_NOTE, Verdict.THROTTLED, ThrottledError),
    (Fault.UNUSUAL_ACTIVITY, Verdict.THROTTLED, ThrottledError),
    (Fault.HIGH_TRAFFIC, Verdict.THROTTLED, ThrottledError),
    (Fault.PREMIUM_ENDPOINT, Verdict.NOT_ENTITLED, NotEntitledError),
    (Fault.INVALID_INPUTS, Verdict.BAD_REQUEST, BadRequestError),
    (Fault.NO_ARTICLES, Verdict.EMPTY, None),
    (Fault.EMPTY, Verdict.NOT_FOUND, SymbolNotFoundError),
]


@pytest.mark.parametrize(("fault", "verdict"), [(f, v) for f, v, _ in CLASSIFIED])
def test_classify_every_documented_body(fault: Fault, verdict: Verdict) -> None:
    assert classify(error_body(fault, function="OVERVIEW", api_key=FAKE_API_KEY)) is verdict


def test_classify_data_documents_and_unknown_notices() -> None:
    assert classify({"symbol": "IBM", "Information": "a field among data"}) is Verdict.DATA
    assert classify([{"a": 1}]) is Verdict.DATA
    # apis.md B9: a lone notice not recognised as something else is throttling, whatever its words.
    assert classify({"Information": "Something new we have never seen"}) is Verdict.THROTTLED
    assert classify({"Note": "Please slow down."}) is Verdict.THROTTLED


# --- every error body over HTTP --------------------------------------------------------

REFUSED = [(f, e) for f, _, e in CLASSIFIED if e is not None and e is not ThrottledError]


@pytest.mark.parametrize(("fault", "error"), REFUSED)
def test_each_refusal_raises_its_error_once_without_retrying(
    fake: AlphaVantageFake,
    server: FakeServer,
    clock: ManualClock,
    fault: Fault,
    error: type[AlphaVantageError],
    metered: list[tuple[str, MetricName]],
) -> None:
    fake.inject(fault)
    with pytest.raises(error) as raised:
        client_for(server, clock).json("NEWS_SENTIMENT")
    assert server.count("/query") == 1 and clock.slept == []
    assert (("alphavantage", MetricName.EXTERNAL_RETRIES)) not in metered
    assert FAKE_API_KEY not in str(raised.value)
    assert str(raised.value).startswith("alphavantage NEWS_SENTIMENT: ")


def test_daily_quota_text_echoes_the_key_and_the_error_redacts_it(
    fake: AlphaVantageFake, server: FakeServer, clock: ManualClock, metered: list[tuple[str, MetricName]]
) -> None:
    assert FAKE_API_KEY in str(error_body(Fault.DAILY_QUOTA, function="X", api_key=FAKE_API_KEY))
    fake.inject(Fault.DAILY_QUOTA)
    with captured_logs() as logs, pytest.raises(DailyQuotaError, match="detected your API key as <redacted>"):
        client_for(server, clock).json("NEWS_SENTIMENT")
    assert FAKE_API_KEY not in logs.getvalue()
    assert '"verdict":"daily_quota"' in logs.getvalue()
    assert metered == [("alphavantage", MetricName.EXTERNAL_THROTTLED)]


def test_no_articles_is_an_empty_document(fake: AlphaVantageFake, server: FakeServer, clock: ManualClock) -> None:
    fake.inject(Fault.NO_ARTICLES)
    assert client_for(server, clock).json("NEWS_SENTIMENT") == {}


def test_wrong_key_fails_clearly_and_never_shows_a_key(server: FakeServer, clock: ManualClock) -> None:
    with captured_logs() as logs, pytest.raises(InvalidApiKeyError, match="apikey is invalid or missing") as raised:
        client_for(server, clock, key=WRONG_KEY).json("NEWS_SENTIMENT")
    assert WRONG_KEY not in str(raised.value) and WRONG_KEY not in logs.getvalue()
    assert all("apikey" not in r.query for r in server.requests)


@pytest.mark.parametrize(
    "fault",
    [
        Fault.BURST,
        Fault.PREMIUM_RATE,
        Fault.LEGACY_NOTE,
        Fault.UNUSUAL_ACTIVITY,
        Fault.HIGH_TRAFFIC,
        Fault.SERVER_ERROR,
    ],
)
def test_throttling_and_5xx_are_retried_with_backoff_then_succeed(
    fake: AlphaVantageFake,
    server: FakeServer,
    clock: ManualClock,
    fault: Fault,
    metered: list[tuple[str, MetricName]],
) -> None:
    fake.inject(fault, times=2)
    document = client_for(server, clock).json("NEWS_SENTIMENT")
    assert int(document["items"]) == len(document["feed"]) > 0
    assert clock.slept == [1.0, 2.0]  # 1 s base, doubling (jitter = the ceiling here)
    assert server.count("/query", function="NEWS_SENTIMENT") == 3
    assert metered.count(("alphavantage", MetricName.EXTERNAL_RETRIES)) == 2
    throttled = 0 if fault is Fault.SERVER_ERROR else 2
    assert metered.count(("alphavantage", MetricName.EXTERNAL_THROTTLED)) == throttled


def test_throttled_after_three_retries_raises(fake: AlphaVantageFake, server: FakeServer, clock: ManualClock) -> None:
    fake.inject(Fault.BURST, times=4)
    with pytest.raises(ThrottledError, match="sparingly"):
        client_for(server, clock).json("NEWS_SENTIMENT")
    assert server.count("/query") == 4 and clock.slept == [1.0, 2.0, 4.0]


def test_an_unrecorded_throttle_wording_that_persists_fails_clearly_as_throttling(
    fake: AlphaVantageFake, server: FakeServer, clock: ManualClock, metered: list[tuple[str, MetricName]]
) -> None:
    fake.inject(Fault.UNUSUAL_ACTIVITY, times=4)
    with pytest.raises(ThrottledError, match="throttled: We have detected unusual activity"):
        client_for(server, clock).json("EARNINGS", symbol="AAPL")
    assert server.count("/query") == 4 and clock.slept == [1.0, 2.0, 4.0]
    assert metered.count(("alphavantage", MetricName.EXTERNAL_THROTTLED)) == 4
    assert metered.count(("alphavantage", MetricName.EXTERNAL_RETRIES)) == 3


def test_rotated_throttle_wordings_each_read_as_throttling(clock: ManualClock) -> None:
    wordings = (Fault.BURST, Fault.UNUSUAL_ACTIVITY, Fault.HIGH_TRAFFIC)
    fake = AlphaVantageFake(12, clock=clock, requests_per_second=1, throttle_wordings=wordings)
    refusals = []
    with serving(fake) as server:
        client = client_for(server, clock, backoff=Backoff(max_retries=0))
        for _ in wordings:
            client.json("NEWS_SENTIMENT", limit="1")
            with pytest.raises(ThrottledError) as raised:  # the second request within the fake's second
                client.json("NEWS_SENTIMENT", limit="1")
            refusals.append(str(raised.value))
            clock.advance(1)
    texts = [next(iter(error_body(w, function="NEWS_SENTIMENT", api_key=FAKE_API_KEY).values())) for w in wordings]
    assert refusals == [f"alphavantage NEWS_SENTIMENT: throttled: {text}" for text in texts]


def test_free_plan_burst_is_absorbed_by_the_backoff_and_the_daily_quota_is_fatal(clock: ManualClock) -> None:
    fake = AlphaVantageFake.free(12, clock=clock)
    with serving(fake) as server:
        client = client_for(server, clock)
        for _ in range(25):  # the 2nd..25th call hit the 1/s burst limit; the backoff sleep moves the clock past it
            client.csv("EARNINGS_CALENDAR", symbol="AAPL")
        assert server.count("/query") == 49 and len(clock.slept) == 24
        clock.advance(5)
        with pytest.raises(DailyQuotaError, match="25 requests per day"):
            client.csv("EARNINGS_CALENDAR", symbol="AAPL")


def test_premium_rate_per_minute_on_the_fakes_clock(clock: ManualClock) -> None:
    fake = AlphaVantageFake(12, clock=clock, requests_per_minute=3)
    with serving(fake) as server:
        client = client_for(server, clock, backoff=Backoff(max_retries=0))
        for _ in range(3):
            client.json("NEWS_SENTIMENT", limit="1")
        with pytest.raises(ThrottledError, match="3 requests per minute"):
            client.json("NEWS_SENTIMENT", limit="1")
        clock.advance(60)  # the fake's minute, not the wall clock's
        assert client.json("NEWS_SENTIMENT", limit="1")["items"] == "1"


def test_legacy_note_mode_uses_the_note_wording(clock: ManualClock) -> None:
    fake = AlphaVantageFake(12, clock=clock, requests_per_second=1, legacy_note=True)
    with serving(fake) as server:
        client_for(server, clock).json("NEWS_SENTIMENT", limit="1")
        with pytest.raises(ThrottledError, match="5 calls per minute"):
            client_for(server, clock, backoff=Backoff(max_retries=0)).json("NEWS_SENTIMENT", limit="1")


def test_premium_function_gate(clock: ManualClock) -> None:
    fake = AlphaVantageFake(12, clock=clock, premium_functions=frozenset({"NEWS_SENTIMENT"}))
    with serving(fake) as server, pytest.raises(NotEntitledError, match="premium endpoint"):
        client_for(server, clock).json("NEWS_SENTIMENT")


def test_unknown_function_is_a_bad_request_naming_it(server: FakeServer, clock: ManualClock) -> None:
    with pytest.raises(BadRequestError, match=r"for NO_SUCH_FUNCTION\."):
        client_for(server, clock).json("NO_SUCH_FUNCTION")


def test_pacer_waits_before_every_request_retries_included(
    fake: AlphaVantageFake, server: FakeServer, clock: ManualClock
) -> None:
    class Counting:
        calls = 0

        def wait(self) -> None:
            self.calls += 1

    pacer = Counting()
    fake.inject(Fault.BURST, times=2)
    client_for(server, clock, pacer=pacer).json("NEWS_SENTIMENT")
    assert pacer.calls == server.count("/query") == 3


def test_transport_failures_are_retried_then_raised_without_the_key(clock: ManualClock) -> None:
    fake = AlphaVantageFake(12, clock=clock)
    with serving(fake) as server:
        url_of_a_closed_server = server.url
    client = client_for_url(url_of_a_closed_server, clock)
    with pytest.raises(TransportError) as raised:
        client.json("NEWS_SENTIMENT")
    assert clock.slept == [1.0, 2.0, 4.0]
    assert FAKE_API_KEY not in str(raised.value) and "function=NEWS_SENTIMENT" in str(raised.value)


def test_slow_answer_times_out_and_is_retried(fake: AlphaVantageFake, server: FakeServer, clock: ManualClock) -> None:
    fake.slow_seconds = 1.0
    fake.inject(Fault.SLOW)
    document = client_for(server, clock, timeout=0.2).json("NEWS_SENTIMENT", limit="2")
    assert document["items"] == "2" and clock.slept == [1.0]


def client_for_url(url: str, clock: ManualClock) -> alphavantage.AlphaVantageClient:
    return alphavantage.AlphaVantageClient(credentials(url), sleep=clock.sleep, jitter=lambda ceiling: ceiling)


# --- CSV ---------------------------------------------------------------------------------


def test_calendar_csv_rows_by_header_name(fake: AlphaVantageFake, server: FakeServer, clock: ManualClock) -> None:
    rows = client_for(server, clock).csv("EARNINGS_CALENDAR", horizon="3month")
    assert rows.header == CALENDAR_HEADER
    assert rows and all(tuple(row) == CALENDAR_HEADER for row in rows)
    by_symbol = {row["symbol"]: row for row in rows}
    assert by_symbol["FLG"]["name"] == "FLAGSTAR BANK, N.A."  # quoted in the body, one field here
    assert any(row["estimate"] == "" for row in rows) and any(row["estimate"] for row in rows)
    assert {row["currency"] for row in rows} == {"USD"}


def test_calendar_body_is_crlf_with_quoted_names(server: FakeServer) -> None:

    body = urllib3.request("GET", f"{server.url}/query?function=EARNINGS_CALENDAR&apikey={FAKE_API_KEY}").data
    text = body.decode()
    assert text.startswith(",".join(CALENDAR_HEADER) + "\r\n") and text.endswith("\r\n")
    assert '"FLAGSTAR BANK, N.A."' in text and "\n" not in text.replace("\r\n", "")


def reordered_calendar(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
    """The 2023 six-column form, columns in another order, a name with a quote and a comma."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["reportDate", "symbol", "estimate", "name", "fiscalDateEnding", "currency"])
    writer.writerow(["2026-11-20", "ODD", "", 'Odd "Quoted", Inc.', "2026-09-30", "USD"])
    return text_response(200, out.getvalue(), "text/csv")


def test_csv_is_read_by_header_name_whatever_the_column_order(fake: AlphaVantageFake, clock: ManualClock) -> None:
    fake.functions["EARNINGS_CALENDAR"] = reordered_calendar
    with serving(fake) as server:
        (row,) = client_for(server, clock).csv("EARNINGS_CALENDAR")
    assert row == {
        "reportDate": "2026-11-20",
        "symbol": "ODD",
        "estimate": "",
        "name": 'Odd "Quoted", Inc.',
        "fiscalDateEnding": "2026-09-30",
        "currency": "USD",
    }


def test_unknown_symbol_on_the_calendar_is_just_the_header(server: FakeServer, clock: ManualClock) -> None:
    assert client_for(server, clock).csv("EARNINGS_CALENDAR", symbol="NOPE") == []


@pytest.mark.parametrize(
    ("fault", "error"), [(Fault.INVALID_KEY, InvalidApiKeyError), (Fault.DAILY_QUOTA, DailyQuotaError)]
)
def test_json_error_on_the_csv_endpoint_is_classified_not_parsed(
    fake: AlphaVantageFake, server: FakeServer, clock: ManualClock, fault: Fault, error: type[Exception]
) -> None:
    fake.inject(fault)
    with pytest.raises(error):
        client_for(server, clock).csv("EARNINGS_CALENDAR")


def test_csv_throttle_is_retried(fake: AlphaVantageFake, server: FakeServer, clock: ManualClock) -> None:
    fake.inject(Fault.BURST)
    assert client_for(server, clock).csv("EARNINGS_CALENDAR")
    assert clock.slept == [1.0]


@pytest.mark.parametrize(
    ("body", "message"),
    [("", "expected a CSV header row"), ("<html>oops", None), ("[1, 2]", "expected CSV, got a JSON document")],
)
def test_unexpected_csv_bodies(fake: AlphaVantageFake, clock: ManualClock, body: str, message: str | None) -> None:
    fake.functions["EARNINGS_CALENDAR"] = lambda request, fake: text_response(200, body, "text/csv")
    with serving(fake) as server:
        client = client_for(server, clock)
        if message is None:  # HTML is not JSON: a one-column CSV with no rows, and the header says so
            rows = client.csv("EARNINGS_CALENDAR")
            assert rows == [] and rows.header == ("<html>oops",)
        else:
            with pytest.raises(UnexpectedResponseError, match=message):
                client.csv("EARNINGS_CALENDAR")


def test_non_json_body_on_a_json_function_is_unexpected(fake: AlphaVantageFake, clock: ManualClock) -> None:
    fake.functions["NEWS_SENTIMENT"] = lambda request, fake: text_response(200, "<html>", "text/html")
    with serving(fake) as server, pytest.raises(UnexpectedResponseError, match="not JSON"):
        client_for(server, clock).json("NEWS_SENTIMENT")
