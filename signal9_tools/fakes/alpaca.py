"""A local fake of Alpaca's trading (``/v2/assets``) and market data (``/v2/stocks/*``) APIs.

Serve it with :func:`signal9_tools.fakes.server.serving`; the one server answers both the
trading paths and the data paths, so ``baseUrl`` and ``dataUrl`` may both point at it.
What it reproduces (``docs/../shared/apis.md`` Part A and Part C "Alpaca fake"):

- auth by ``APCA-API-KEY-ID`` + ``APCA-API-SECRET-KEY``; anything else is 401 with either
  body shape Alpaca sends (:attr:`AlpacaFake.auth_error_shape`);
- ``X-RateLimit-Limit/Remaining/Reset`` on every response and a per-key bucket of
  :attr:`AlpacaFake.requests_per_minute` per API (trading and data count separately), on the
  fake's clock; 429 with the headers and a ``{"message"}`` body when it is empty;
- ``GET /v2/assets``: one bare array sorted by class, exchange, symbol, filtered by
  ``status``, ``asset_class``, ``exchange``, ``attributes`` (any-of). Rows vary the way
  real ones do: OTC, inactive and non-tradable rows, ``exchange: ""``, ``cusip: null``;
  knobs drop the deprecated fields, add unknown keys, send margins as numbers;
- ``GET /v2/calendar`` (trading host, apis.md A7): one bare array of the NYSE sessions
  between ``start`` and ``end`` (both required here: unbounded, Alpaca sends its whole
  multi-year calendar), from the fake's own holiday table (:data:`HOLIDAYS`,
  :data:`EARLY_CLOSES`, 2025-2031), never computed from a rule;
- ``GET /v2/stocks/bars``: ``{"bars": {sym: [...]}, "next_page_token"}``, daily bars only
  for sessions of that calendar that have opened by the fake's clock (no weekend, holiday
  or future bar), stamped at New York midnight in UTC, ``start``/``end`` inclusive,
  ``limit`` (default 1000, max 10000) counted across all symbols; ``feed=iex`` volumes are
  a few percent of ``sip``; some symbols have no bars at all, some (thinly traded) a bar on
  only a few sessions;
- ``GET /v2/stocks/snapshots``: a bare object keyed by symbol, unknown symbols omitted;
- faults: :meth:`AlpacaFake.fail_next` (any status, or an :class:`Answer`: an empty page, a
  reset, a dropped or truncated body; n times, on the next request or the k-th from now, then
  normal service), :meth:`AlpacaFake.omit_next` (an asset list missing some symbols) and
  :attr:`AlpacaFake.delay_seconds` (slow responses).

Between runs, :meth:`AlpacaFake.delist`, :meth:`AlpacaFake.list_new` and
:meth:`AlpacaFake.change` alter the catalog (the steady-state benchmark's 1% churn, the
"symbol left the list" test). Everything else is a pure function of the company
(:func:`signal9_tools.fakes.universe.rng`), so two runs see the same data.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from signal9_tools.fakes.server import (
    RESET,
    Clock,
    FakeRequest,
    FakeResponse,
    SystemClock,
    dropped,
    json_response,
    truncated,
)
from signal9_tools.fakes.universe import FAMILIAR, Company, draw, rng, universe

# The credentials the fake accepts by default: obviously fake, never real Alpaca keys.
ALPACA_KEY_ID = "test-alpaca-key-id-0000"
ALPACA_SECRET_KEY = "test-alpaca-secret-key-0000"

NEW_YORK = ZoneInfo("America/New_York")
ASSETS_PATH = "/v2/assets"
BARS_PATH = "/v2/stocks/bars"
CALENDAR_PATH = "/v2/calendar"
SNAPSHOTS_PATH = "/v2/stocks/snapshots"
DEFAULT_BARS_LIMIT = 1000
MAX_BARS_LIMIT = 10_000
REQUESTS_PER_MINUTE = 200
# IEX prints are a few percent of consolidated (SIP) volume (apis.md A6.2).
IEX_SHARE = 0.025
# Generated companies number n (0-based, after the familiar ones) with n % period == offset are
# inactive (~3%), non-tradable (2%), listed with ``exchange: ""`` (0.5%), without bars (2%,
# a fresh listing) or thinly traded (5%: a bar on about one session in five, as Alpaca sends a
# daily bar only for a session with trades): by position, so even the 40-company universe of
# ``make local`` has each kind.
INACTIVE, NON_TRADABLE, NO_EXCHANGE, NO_BARS, THIN = (30, 7), (50, 13), (200, 21), (50, 29), (20, 3)
THIN_TRADING_SHARE = 0.2
# NYSE full-day closures and 13:00 early closes: 2025-2028 as NYSE Group published them ("NYSE
# Group Announces 2025, 2026 and 2027 Holiday and Early Closings Calendar", 2024-11-08, and the
# 2026-2028 release of 2025-12-23), plus the unscheduled closure of 2025-01-09 (National Day of
# Mourning for President Carter); 2029-2031 by NYSE's standing holiday and early-close rules (not
# yet published; an unscheduled closure then is the table's to add). 2031 is there for the last
# week of 2030: a deploy made today runs through 2030, and a session's settlement date looks a
# week ahead. Typed in, not derived from a rule, so the fake shares no belief with the code under
# test; tests/test_alpaca_fake_calendar.py holds it to exchange_calendars' XNYS. Outside these
# years the fake has no calendar (400).
CALENDAR_YEARS = range(2025, 2032)
HOLIDAYS = frozenset(
    date.fromisoformat(day)
    for day in (
        *("2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17", "2025-04-18", "2025-05-26"),
        *("2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25"),
        *("2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19"),
        *("2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25"),
        *("2027-01-01", "2027-01-18", "2027-02-15", "2027-03-26", "2027-05-31", "2027-06-18"),
        *("2027-07-05", "2027-09-06", "2027-11-25", "2027-12-24"),
        # 2028 has no New Year closure: 1 January is a Saturday, and NYSE does not close Friday 31 December.
        *("2028-01-17", "2028-02-21", "2028-04-14", "2028-05-29", "2028-06-19", "2028-07-04"),
        *("2028-09-04", "2028-11-23", "2028-12-25"),
        *("2029-01-01", "2029-01-15", "2029-02-19", "2029-03-30", "2029-05-28", "2029-06-19"),
        *("2029-07-04", "2029-09-03", "2029-11-22", "2029-12-25"),
        *("2030-01-01", "2030-01-21", "2030-02-18", "2030-04-19", "2030-05-27", "2030-06-19"),
        *("2030-07-04", "2030-09-02", "2030-11-28", "2030-12-25"),
        *("2031-01-01", "2031-01-20", "2031-02-17", "2031-04-11", "2031-05-26", "2031-06-19"),
        *("2031-07-04", "2031-09-01", "2031-11-27", "2031-12-25"),
    )
)
# The day before Independence Day when it is a weekday session (not 2026, 2027: the holiday is
# observed next to the weekend), the day after Thanksgiving, and Christmas Eve when it is a
# weekday session (not 2027: observed Christmas; 2028: a Sunday).
EARLY_CLOSES = frozenset(
    date.fromisoformat(day)
    for day in (
        *("2025-07-03", "2025-11-28", "2025-12-24", "2026-11-27", "2026-12-24", "2027-11-26"),
        *("2028-07-03", "2028-11-24", "2029-07-03", "2029-11-23", "2029-12-24"),
        *("2030-07-03", "2030-11-29", "2030-12-24", "2031-07-03", "2031-11-28", "2031-12-24"),
    )
)
SESSION_OPENS = time(9, 30)
ATTRIBUTES = ("has_options", "fractional_eh_enabled", "overnight_tradable", "ptp_no_exception", "ipo")
UNAUTHORIZED_BODIES: dict[str, dict[str, Any]] = {
    "code": {"code": 40110000, "message": "request is not authorized"},
    "message": {"message": "unauthorized."},
}
ERROR_MESSAGES = {
    400: "invalid request",
    403: "forbidden.",
    429: "too many requests.",
    500: "internal server error occurred",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

Api = Literal["trading", "data"]


class Answer(StrEnum):
    """What :meth:`AlpacaFake.fail_next` can send instead of an error status."""

    EMPTY = "empty"
    """HTTP 200 with the path's empty document: ``{"bars": {}, "next_page_token": null}``, or ``[]``."""
    RESET = "reset"
    """The connection closed before any answer."""
    DROPPED = "dropped"
    """The real answer's headers, half its body, then the connection closed."""
    TRUNCATED = "truncated"
    """A complete HTTP answer whose body stops at its middle (not JSON any more)."""


EMPTY_DOCUMENTS: dict[str, Any] = {BARS_PATH: {"bars": {}, "next_page_token": None}, SNAPSHOTS_PATH: {}}


@dataclass
class _Fault:
    answer: int | Answer  # an HTTP status, or another kind of answer
    remaining: int
    path: str | None
    skip: int = 0  # matching requests still to answer normally first


@dataclass
class _Bucket:
    window_start: float
    used: int = 0


@dataclass
class AlpacaFake:
    """The fake service; every public attribute is a knob tests and benchmarks may turn."""

    size: int = 40
    clock: Clock = field(default_factory=SystemClock)
    key_id: str = ALPACA_KEY_ID
    secret_key: str = ALPACA_SECRET_KEY
    requests_per_minute: int = REQUESTS_PER_MINUTE
    auth_error_shape: Literal["code", "message"] = "code"
    deprecated_fields: bool = True
    """Send ``easy_to_borrow`` and ``maintenance_margin_requirement`` (sunset 2026-09-22)."""
    extra_fields: bool = False
    """Add keys no client knows (as the alpaca-py fixture's ``last_price``), plus a new-style ``ipo`` attribute."""
    numeric_margins: bool = False
    """Send ``margin_requirement_long/short`` as JSON numbers instead of the documented strings."""
    delay_seconds: float = 0.0
    """Wall-clock seconds to wait before answering (a slow upstream; the server thread sleeps)."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._omissions: list[frozenset[str]] = []
        self._buckets: dict[tuple[Api, str], _Bucket] = {}
        self._companies: dict[str, Company] = {c.symbol: c for c in universe(self.size)}
        self._index = {symbol: n for n, symbol in enumerate(self._companies)}
        self._delisted: set[str] = set()
        self._overrides: dict[str, dict[str, Any]] = {}
        self._listed_beyond = 0

    # --- knobs ---------------------------------------------------------------------------

    def fail_next(self, answer: int | Answer, times: int = 1, *, path: str | None = None, after: int = 0) -> None:
        """Answer ``times`` requests (to ``path`` only, when given) with ``answer`` (a status or an :class:`Answer`).

        The first ``after`` matching requests are answered normally first.
        """
        with self._lock:
            self._faults.append(_Fault(answer, times, path, after))

    def omit_next(self, symbols: Iterable[str], times: int = 1) -> None:
        """The next ``times`` asset lists leave ``symbols`` out (a partial answer that still parses)."""
        with self._lock:
            self._omissions.extend([frozenset(symbols)] * times)

    def clear_faults(self) -> None:
        """Forget the faults and omissions injected and not yet answered."""
        with self._lock:
            self._faults.clear()
            self._omissions.clear()

    def delist(self, symbols: Iterable[str]) -> None:
        """These symbols leave the active list (they are served as ``status: inactive``)."""
        self._delisted.update(symbols)

    def list_new(self, count: int) -> list[str]:
        """``count`` companies from further along the universe join the list; their symbols."""
        first = self.size + self._listed_beyond
        self._listed_beyond += count
        added = universe(first + count)[first:]
        self._companies.update({c.symbol: c for c in added})
        self._index.update({c.symbol: first + n for n, c in enumerate(added)})
        return [c.symbol for c in added]

    def change(self, symbol: str, **fields: Any) -> None:
        """Override fields of one asset's JSON object (e.g. ``name=...``, ``shortable=False``)."""
        self._overrides.setdefault(symbol, {}).update(fields)

    # --- what the fake serves --------------------------------------------------------------

    def assets(self) -> list[dict[str, Any]]:
        """Every asset object, all statuses, in Alpaca's order (class, exchange, symbol)."""
        rows = [self._asset(company) for company in self._companies.values()]
        return sorted(rows, key=lambda a: (a["class"], a["exchange"], a["symbol"]))

    def active_symbols(self) -> set[str]:
        """What ``/v2/assets?status=active&asset_class=us_equity`` lists."""
        return {a["symbol"] for a in self.assets() if a["status"] == "active" and a["class"] == "us_equity"}

    def daily_volume(self, symbol: str, day: date, feed: str = "sip") -> int | None:
        """The fake's daily volume of ``symbol`` on ``day`` (None: no bar that day).

        A bar exists only for a session that has opened by the fake's clock, and for a thinly
        traded symbol only on the sessions it traded.
        """
        company = self._companies.get(symbol)
        if company is None or not is_session(day) or self._is(company, NO_BARS):
            return None
        if datetime.combine(day, SESSION_OPENS, NEW_YORK).timestamp() > self.clock.time():
            return None
        if self._is(company, THIN) and draw(company, f"trades/{day.isoformat()}") >= THIN_TRADING_SHARE:
            return None
        base = _base_volume(company)
        sip = int(base * (0.6 + 0.8 * draw(company, f"volume/{day.isoformat()}")))
        return sip if feed != "iex" else max(1, int(sip * IEX_SHARE))

    # --- the HTTP service ------------------------------------------------------------------

    def handle(self, request: FakeRequest) -> FakeResponse:
        if self.delay_seconds:
            threading.Event().wait(self.delay_seconds)
        api: Api = "trading" if request.path.startswith((ASSETS_PATH, CALENDAR_PATH)) else "data"
        key = request.header("APCA-API-KEY-ID") or ""
        authorized = key == self.key_id and request.header("APCA-API-SECRET-KEY") == self.secret_key
        headers = self._rate_limit(api, key if authorized else "")
        if not authorized:
            return json_response(401, UNAUTHORIZED_BODIES[self.auth_error_shape], headers)
        if headers["X-RateLimit-Remaining"] == "-1":
            headers["X-RateLimit-Remaining"] = "0"
            return json_response(429, {"message": ERROR_MESSAGES[429]}, headers)
        injected = self._injected_fault(request.path)
        if isinstance(injected, int):
            return json_response(injected, {"message": ERROR_MESSAGES.get(injected, "error")}, headers)
        if injected is Answer.RESET:
            return RESET
        if injected is Answer.EMPTY:
            return json_response(200, EMPTY_DOCUMENTS.get(request.path, []), headers)
        response = self._serve(request, headers)
        if injected is Answer.DROPPED:
            return dropped(response)
        return truncated(response) if injected is Answer.TRUNCATED else response

    def _serve(self, request: FakeRequest, headers: dict[str, str]) -> FakeResponse:
        try:
            if request.path == ASSETS_PATH:
                return json_response(200, self._list_assets(request.query), headers)
            if request.path == CALENDAR_PATH:
                return json_response(200, self._calendar(request.query), headers)
            if request.path == BARS_PATH:
                return json_response(200, self._bars(request.query), headers)
            if request.path == SNAPSHOTS_PATH:
                return json_response(200, self._snapshots(request.query), headers)
        except ValueError as error:
            return json_response(400, {"message": str(error)}, headers)
        return json_response(404, {"code": 40410000, "message": "endpoint not found"}, headers)

    def _rate_limit(self, api: Api, key: str) -> dict[str, str]:
        """Fixed one-minute windows per (API, key); Remaining ``-1`` marks a refused request."""
        now = self.clock.time()
        with self._lock:
            bucket = self._buckets.get((api, key))
            if bucket is None or now >= bucket.window_start + 60:
                bucket = self._buckets[(api, key)] = _Bucket(math.floor(now / 60) * 60)
            bucket.used += 1
            remaining = self.requests_per_minute - bucket.used
        return {
            "X-RateLimit-Limit": str(self.requests_per_minute),
            "X-RateLimit-Remaining": str(max(remaining, -1)),
            "X-RateLimit-Reset": str(int(bucket.window_start + 60)),
        }

    def _injected_fault(self, path: str) -> int | Answer | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.path in (None, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.remaining -= 1
                    return fault.answer
        return None

    def _asset(self, company: Company) -> dict[str, Any]:
        pick = rng(company, "asset")
        inactive = company.symbol in self._delisted or self._is(company, INACTIVE)
        tradable = not inactive and not self._is(company, NON_TRADABLE)
        exchange = "" if self._is(company, NO_EXCHANGE) else company.exchange
        otc = exchange == "OTC"
        margin = 100 if otc or not tradable else pick.choice((25, 30, 30, 50))
        row: dict[str, Any] = {
            "id": company.asset_id,
            "class": "us_equity",
            "exchange": exchange,
            "symbol": company.symbol,
            "name": company.name,
            "status": "inactive" if inactive else "active",
            "tradable": tradable,
            "marginable": tradable and not otc,
            "shortable": tradable and not otc and pick.random() < 0.85,
            "fractionable": tradable and not otc and pick.random() < 0.7,
            "borrow_status": "easy_to_borrow" if pick.random() < 0.8 else "hard_to_borrow",
            "margin_requirement_long": margin if self.numeric_margins else str(margin),
            "margin_requirement_short": margin if self.numeric_margins else str(margin),
            "cusip": None if otc or pick.random() < 0.2 else f"{pick.randrange(10**8):08d}{pick.randrange(10)}",
            "attributes": [] if otc else sorted(pick.sample(ATTRIBUTES[:3], pick.randrange(4))),
        }
        if self.deprecated_fields:
            row["easy_to_borrow"] = row["borrow_status"] == "easy_to_borrow"
            row["maintenance_margin_requirement"] = margin
        if self.extra_fields:
            row |= {"last_price": "string", "overnight_halted": False, "attributes": [*row["attributes"], "ipo"]}
        return row | self._overrides.get(company.symbol, {})

    def _is(self, company: Company, kind: tuple[int, int]) -> bool:
        """Whether generated company number n has the property ``kind`` = (period, offset)."""
        n = self._index[company.symbol] - len(FAMILIAR)
        return n >= 0 and n % kind[0] == kind[1]

    def _list_assets(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        status = query.get("status")
        asset_class = query.get("asset_class") or "us_equity"
        exchange = query.get("exchange")
        wanted = set(filter(None, query.get("attributes", "").split(",")))
        with self._lock:
            omitted = self._omissions.pop(0) if self._omissions else frozenset()
        return [
            a
            for a in self.assets()
            if a["symbol"] not in omitted
            and (status is None or a["status"] == status)
            and a["class"] == asset_class
            and (exchange is None or a["exchange"] == exchange)
            and (not wanted or wanted & set(a["attributes"]))
        ]

    def _calendar(self, query: Mapping[str, str]) -> list[dict[str, str]]:
        """The sessions ``start..end`` (inclusive) as apis.md A7 shows them."""
        if query.get("date_type", "TRADING") != "TRADING":
            raise ValueError("the fake serves date_type=TRADING only")
        days = sessions(_day(query, "start"), _day(query, "end"))
        return [
            {
                "date": day.isoformat(),
                "open": "09:30",
                "close": "13:00" if day in EARLY_CLOSES else "16:00",
                # Extended hours; on an early close the late session ends at 17:00 (NYSE's note).
                "session_open": "0400",
                "session_close": "1700" if day in EARLY_CLOSES else "2000",
                # T+1 since 2024-05-28, approximated as the next session (bank-only holidays ignored).
                "settlement_date": sessions(day + timedelta(days=1), day + timedelta(days=7))[0].isoformat(),
            }
            for day in days
        ]

    def _symbols(self, query: Mapping[str, str]) -> list[str]:
        symbols = [s for s in query.get("symbols", "").split(",") if s]
        if not symbols:
            raise ValueError("symbols is required")
        for symbol in symbols:
            if not symbol.replace(".", "").replace("/", "").isalnum() or len(symbol) > 12:
                raise ValueError(f"invalid symbol: {symbol}")
        return symbols

    def _bars(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Daily bars of every requested symbol, paged across symbols by ``limit``."""
        if query.get("timeframe") != "1Day":
            raise ValueError("the fake serves timeframe=1Day only")
        symbols = self._symbols(query)
        feed = query.get("feed", "sip")
        if feed not in ("sip", "iex", "otc", "boats"):
            raise ValueError(f"invalid feed: {feed}")
        limit = int(query.get("limit", DEFAULT_BARS_LIMIT))
        if not 1 <= limit <= MAX_BARS_LIMIT:
            raise ValueError(f"invalid limit: must be between 1 and {MAX_BARS_LIMIT}")
        start, end = _day(query, "start"), _day(query, "end")
        skip = _decode_token(query["page_token"]) if query.get("page_token") else 0
        bars: dict[str, list[dict[str, Any]]] = {}
        for position, (symbol, day, volume) in enumerate(self._points(sorted(set(symbols)), start, end, feed)):
            if position >= skip + limit:
                return {"bars": bars, "next_page_token": _encode_token(position)}
            if position >= skip:
                bars.setdefault(symbol, []).append(_bar(symbol, day, volume))
        return {"bars": bars, "next_page_token": None}

    def _points(self, symbols: list[str], start: date, end: date, feed: str) -> Iterator[tuple[str, date, int]]:
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        for symbol in symbols:
            for day in days:
                volume = self.daily_volume(symbol, day, feed)
                if volume is not None:
                    yield symbol, day, volume

    def _snapshots(self, query: Mapping[str, str]) -> dict[str, Any]:
        today = datetime.fromtimestamp(self.clock.time(), NEW_YORK).date()
        feed = query.get("feed", "sip")
        found: dict[str, Any] = {}
        for symbol in self._symbols(query):
            traded = [d for d in (today - timedelta(days=n) for n in range(7)) if self.daily_volume(symbol, d)]
            if len(traded) < 2:
                continue  # unknown symbols and symbols without data are omitted
            bars = [_bar(symbol, d, self.daily_volume(symbol, d, feed) or 0) for d in traded[:2]]
            price = bars[0]["c"]
            stamp = bars[0]["t"]
            found[symbol] = {
                "latestTrade": {"t": stamp, "x": "V", "p": price, "s": 100, "c": ["@"], "i": 1, "z": "C"},
                "latestQuote": {"t": stamp, "ax": "V", "ap": price, "as": 1, "bx": "V", "bp": price, "bs": 1},
                "minuteBar": bars[0],
                "dailyBar": bars[0],
                "prevDailyBar": bars[1],
            }
        return found


def is_session(day: date) -> bool:
    """Whether NYSE trades on ``day`` by the fake's table; ValueError outside the years it holds."""
    if day.year not in CALENDAR_YEARS:
        raise ValueError(f"the fake's market calendar covers {CALENDAR_YEARS[0]}-{CALENDAR_YEARS[-1]} only")
    return day.weekday() < 5 and day not in HOLIDAYS


def sessions(start: date, end: date) -> list[date]:
    """The fake's NYSE sessions from ``start`` to ``end``, inclusive."""
    return [day for day in (start + timedelta(days=n) for n in range((end - start).days + 1)) if is_session(day)]


def _base_volume(company: Company) -> float:
    """A log-uniform typical daily volume between 10 thousand and 50 million shares."""
    return float(10 ** (4 + 3.7 * draw(company, "base-volume")))


def _bar(symbol: str, day: date, volume: int) -> dict[str, Any]:
    close = round(5 + 300 * draw(symbol, "price") * (0.95 + 0.1 * draw(symbol, f"price/{day.isoformat()}")), 2)
    midnight = datetime.combine(day, time(), NEW_YORK).astimezone(UTC)
    return {
        "t": midnight.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "o": close,
        "h": round(close * 1.01, 2),
        "l": round(close * 0.99, 2),
        "c": close,
        "v": volume,
        "n": max(1, volume // 150),
        "vw": close,
    }


def _day(query: Mapping[str, str], name: str) -> date:
    value = query.get(name)
    if not value:
        raise ValueError(f"the fake needs an explicit {name}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"invalid {name}: {value}") from None


def _encode_token(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode()


def _decode_token(token: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["p"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("invalid page_token") from None
