"""Alpaca client for SyncAssets: the active asset catalog, market sessions and daily SIP volumes.

Three calls (apis.md A2-A7, docs/collectors.md):

- :meth:`AlpacaClient.list_active_assets`: one ``GET {baseUrl}/v2/assets?status=active&
  asset_class=us_equity``, one unpaginated JSON array (~11,500 rows);
- :meth:`AlpacaClient.recent_sessions`: one ``GET {baseUrl}/v2/calendar?start=&end=``
  (always bounded: unbounded, Alpaca sends its whole multi-year calendar), for the last
  :data:`SESSIONS` market sessions; holidays are absent from it;
- :meth:`AlpacaClient.daily_volumes`: ``GET {dataUrl}/v2/stocks/bars?timeframe=1Day&
  feed=sip&adjustment=raw&limit=10000`` for batches of symbols, following
  ``next_page_token``. ``feed=sip`` is explicit: IEX volume is a few percent of the
  consolidated volume the average must be computed from.

Every body is validated by the pydantic models below before the caller sees any of it;
unknown keys are ignored and the fields Alpaca deprecates or adds (apis.md A3: missing
``easy_to_borrow``/``maintenance_margin_requirement``, margins as numbers or strings, null
``cusip``, empty or unknown ``exchange``) are accepted.

Errors: 401/403 raise :class:`AlpacaAuthError` at once (host and status, never a key);
429, 5xx and transport failures (timeouts included) are retried with
:func:`functions.shared.retry.retry_call` backoff (1 s base, at most 3 retries), a 429 waiting
at least until its ``X-RateLimit-Reset`` (capped at :data:`MAX_RESET_WAIT_SECONDS`); still
failing after that raises :class:`AlpacaUnavailableError`. Other statuses raise
:class:`AlpacaRequestError` (a bug in the request: retrying cannot help).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from functions.shared import http
from functions.shared.clock import market_date
from functions.shared.credentials import AlpacaCredentials
from functions.shared.retry import DEFAULT_BACKOFF, Backoff, Jitter, Sleep, retry_call
from functions.shared.telemetry import MetricName
from functions.shared.validation import problems

API = "alpaca"
ASSETS_PATH = "/v2/assets"
BARS_PATH = "/v2/stocks/bars"
CALENDAR_PATH = "/v2/calendar"
ASSETS_QUERY = {"status": "active", "asset_class": "us_equity"}
BARS_QUERY = {"timeframe": "1Day", "feed": "sip", "adjustment": "raw", "limit": "10000"}
# The average covers this many market sessions (docs/collectors.md: the last 20 ending yesterday).
SESSIONS = 20
# Calendar days asked for to find them: 20 sessions span 26-30 days with the usual holidays;
# the rest is room for unscheduled closures (2012's hurricane, national days of mourning).
CALENDAR_LOOKBACK_DAYS = 45
# Symbols per bars request: Alpaca documents no maximum, so stay well under a ~8 KB URL
# (apis.md A6.1: <= 200-500 symbols). Commas are sent %2C-encoded: 3 bytes each.
MAX_SYMBOLS_PER_REQUEST = 400
MAX_SYMBOLS_BYTES = 4000
# A rate-limit window is one minute: waiting longer than that for X-RateLimit-Reset is a clock problem.
MAX_RESET_WAIT_SECONDS = 60.0
MAX_ERROR_TEXT = 200


class AlpacaError(RuntimeError):
    """Base of every Alpaca failure; messages name the host, path and status, never a credential."""


class AlpacaAuthError(AlpacaError):
    """401/403: the keys in the ``alpaca`` secret are missing, wrong, revoked or not entitled."""


class AlpacaUnavailableError(AlpacaError):
    """429, 5xx or no response, still so after every retry."""


class AlpacaRequestError(AlpacaError):
    """Any other non-200 status, or a body that does not validate."""


class Asset(BaseModel):
    """One element of ``/v2/assets`` (apis.md A3.1); only what Signal9 keeps is required."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    asset_class: str = Field(alias="class")
    exchange: str  # an enum Alpaca extends; "" seen in the wild
    symbol: str = Field(min_length=1)
    name: str | None = None  # the spec says minLength 1; alpaca-py still types it optional
    status: str
    tradable: bool
    marginable: bool
    shortable: bool
    fractionable: bool
    # Deprecated (sunset 2026-09-22) or recently added: tolerated, not required.
    easy_to_borrow: bool | None = None
    borrow_status: str | None = None
    maintenance_margin_requirement: Decimal | None = None
    margin_requirement_long: Decimal | None = None  # documented as a string, seen as a number
    margin_requirement_short: Decimal | None = None
    cusip: str | None = None
    attributes: list[str] = Field(default_factory=list)


class Session(BaseModel):
    """One element of ``/v2/calendar`` (apis.md A7); only the date is used."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    day: date = Field(alias="date")
    open: str
    close: str  # "13:00" on an early close: still a session


class Bar(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    t: AwareDatetime
    v: int = Field(ge=0)


class BarsPage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bars: dict[str, list[Bar]] | None = None  # {} (or null) when no symbol has a bar
    next_page_token: str | None = None


ASSET_LIST = TypeAdapter(list[Asset])
CALENDAR = TypeAdapter(list[Session])
BARS_PAGE = TypeAdapter(BarsPage)
T = TypeVar("T")


@dataclass
class _RetryableError(Exception):
    status: int
    reset_at: float | None


def average_volume(volumes: Mapping[date, int], sessions: Sequence[date]) -> int:
    """The volumes of ``sessions`` summed and divided by their number, in whole shares.

    Alpaca sends a daily bar only for a session with trades, so a session without a bar
    counts 0 (dividing by the bars found would inflate a thinly traded symbol's average).
    """
    return round(sum(volumes.get(day, 0) for day in sessions) / len(sessions))


def symbol_batches(symbols: Iterable[str]) -> Iterator[list[str]]:
    """Consecutive batches within :data:`MAX_SYMBOLS_PER_REQUEST` and :data:`MAX_SYMBOLS_BYTES`."""
    batch: list[str] = []
    size = 0
    for symbol in symbols:
        cost = len(symbol) + 3
        if batch and (len(batch) == MAX_SYMBOLS_PER_REQUEST or size + cost > MAX_SYMBOLS_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(symbol)
        size += cost
    if batch:
        yield batch


@dataclass
class AlpacaClient:
    """Calls Alpaca with the ``alpaca`` secret's keys and URLs; ``sleep``/``jitter``/``now`` for tests."""

    credentials: AlpacaCredentials
    backoff: Backoff = DEFAULT_BACKOFF
    sleep: Sleep | None = None
    jitter: Jitter | None = None
    now: Callable[[], float] = time.time
    timeout: float | None = None
    calls: int = field(default=0, init=False)
    """HTTP requests made, retries included (for the run summary)."""
    throttled: int = field(default=0, init=False)
    retries: int = field(default=0, init=False)

    def list_active_assets(self) -> list[Asset]:
        url = str(self.credentials.baseUrl).rstrip("/") + ASSETS_PATH
        document = self._get_json(url, ASSETS_QUERY)
        return _validated(ASSET_LIST, document, url)

    def recent_sessions(self, moment: datetime) -> list[date]:
        """The last :data:`SESSIONS` market sessions ending yesterday (New York date of ``moment``), oldest first."""
        url = str(self.credentials.baseUrl).rstrip("/") + CALENDAR_PATH
        end = market_date(moment) - timedelta(days=1)
        start = end - timedelta(days=CALENDAR_LOOKBACK_DAYS)
        listed = _validated(CALENDAR, self._get_json(url, {"start": start.isoformat(), "end": end.isoformat()}), url)
        days = sorted({session.day for session in listed if start <= session.day <= end})[-SESSIONS:]
        if len(days) < SESSIONS:
            raise AlpacaRequestError(
                f"{http.describe(API, url)} listed {len(days)} sessions from {start} to {end}; expected {SESSIONS}"
            )
        return days

    def daily_volumes(self, symbols: Iterable[str], start: date, end: date) -> dict[str, dict[date, int]]:
        """Daily SIP volumes per symbol by session (New York date), for ``start..end`` (inclusive).

        Symbols without a bar in the window are absent from the result; a symbol has no
        entry for a session it did not trade.
        """
        url = str(self.credentials.dataUrl).rstrip("/") + BARS_PATH
        found: dict[str, dict[date, int]] = {}
        for batch in symbol_batches(sorted(set(symbols))):
            query = {**BARS_QUERY, "symbols": ",".join(batch), "start": start.isoformat(), "end": end.isoformat()}
            token: str | None = None
            while True:
                page_query = query | ({"page_token": token} if token else {})
                page = _validated(BARS_PAGE, self._get_json(url, page_query), url)
                for symbol, bars in (page.bars or {}).items():
                    # Stamped at New York midnight (apis.md A6.2): the New York date is the session.
                    found.setdefault(symbol, {}).update((market_date(bar.t), bar.v) for bar in bars)
                token = page.next_page_token
                if not token:
                    break
        return found

    # --- plumbing ----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "APCA-API-KEY-ID": self.credentials.keyId.get_secret_value(),
            "APCA-API-SECRET-KEY": self.credentials.secretKey.get_secret_value(),
        }

    def _get_json(self, url: str, params: Mapping[str, str]) -> Any:
        where = f"{http.describe(API, url)} at {urlsplit(url).netloc}"
        attempts = 0

        def attempt() -> http.Response:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                self.retries += 1
                http.count_external(API, MetricName.EXTERNAL_RETRIES)
            self.calls += 1
            response = http.get(API, url, params=params, headers=self._headers(), timeout=self.timeout)
            if response.status in (401, 403):
                raise AlpacaAuthError(
                    f"{where} answered {response.status} ({_message(response)}): the keyId/secretKey in "
                    "secret 'alpaca' are missing, wrong or not entitled to this endpoint"
                )
            if response.status == 429:
                self.throttled += 1
                http.count_external(API, MetricName.EXTERNAL_THROTTLED)
                raise _RetryableError(429, _reset_at(response.headers))
            if response.status >= 500:
                raise _RetryableError(response.status, None)
            if response.status != 200:
                raise AlpacaRequestError(f"{where} answered {response.status} ({_message(response)})")
            return response

        try:
            response = retry_call(
                attempt,
                retry_on=(_RetryableError, http.TransportError),
                backoff=self.backoff,
                sleep=self.sleep,
                jitter=self.jitter,
                description=where,
                minimum_delay=self._reset_wait,
            )
        except _RetryableError as error:
            raise AlpacaUnavailableError(f"{where} still answered {error.status} after {attempts} attempts") from None
        except http.TransportError as error:
            raise AlpacaUnavailableError(f"{error} after {attempts} attempts") from None
        try:
            return response.json()
        except ValueError:
            raise AlpacaRequestError(f"{where} answered 200 with a body that is not JSON") from None

    def _reset_wait(self, error: Exception) -> float:
        """A 429 waits until ``X-RateLimit-Reset`` (epoch seconds), at most a minute."""
        if isinstance(error, _RetryableError) and error.reset_at is not None:
            return min(MAX_RESET_WAIT_SECONDS, max(0.0, error.reset_at - self.now()))
        return 0.0


def _validated(model: TypeAdapter[T], document: Any, url: str) -> T:
    """``document`` as ``model``, or an error naming the first few problems (never the values)."""
    try:
        return model.validate_python(document)
    except ValidationError as error:
        raise AlpacaRequestError(
            f"{http.describe(API, url)}: response failed validation "
            f"({error.error_count()} problems: {problems(error, 5)})"
        ) from None


def _reset_at(headers: Mapping[str, str]) -> float | None:
    value = {k.lower(): v for k, v in headers.items()}.get("x-ratelimit-reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(response: http.Response) -> str:
    """Alpaca's ``message`` (either error shape), or the start of the body."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])[:MAX_ERROR_TEXT]
    return response.body[:MAX_ERROR_TEXT].decode("utf-8", "replace") or "empty body"
