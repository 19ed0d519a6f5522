"""AlphaVantage ``GET /query``: one client for every function, JSON and CSV, errors classified.

AlphaVantage answers every error with HTTP 200 and a JSON body (apis.md B0, B9), on the CSV
endpoint too, so every body goes through :func:`classify` before it is used:

============================================== =================== ============================
body                                           verdict             the client
============================================== =================== ============================
``Error Message`` mentioning ``apikey``        ``invalid_api_key`` raises InvalidApiKeyError
other ``Error Message``                        ``bad_request``     raises BadRequestError
``Information``: the **demo** key notice        ``invalid_api_key`` raises InvalidApiKeyError
``Information``/``Note``: "is a premium        ``not_entitled``    raises NotEntitledError
endpoint"
... "per day"                                  ``daily_quota``     raises DailyQuotaError
... "per second", "sparingly", "per minute",   ``throttled``       retries with backoff, then
"call frequency"                                                   raises ThrottledError
... "Invalid inputs"                           ``bad_request``     raises BadRequestError
... "No articles found"                        ``empty``           returns ``{}`` / ``[]``
any other ``Information``/``Note``             ``throttled``       retries with backoff, then
                                                                   raises ThrottledError
``{}``                                         ``not_found``       raises SymbolNotFoundError
anything else                                  ``data``            returns it
============================================== =================== ============================

The wording matters: the free-tier burst text also mentions "(25 requests per day)" and
"unlock all premium endpoints", so the premium check needs "is a premium endpoint" and the
throttle words are checked before "per day". A lone notice recognised as none of these is
throttling (apis.md B9): the throttle text has been reworded several times and the next
wording need not contain any of the words above; counting it as throttling retries it and,
should it persist, fails the call as throttled instead of silently giving up once. Transport failures (no response, 5xx from the
CDN in front of the API) are retried like throttling. Every retry and every throttled answer
is a metric with ``api=alphavantage``.

Symbols go out in AlphaVantage's spelling: the ``symbol`` and ``tickers`` parameters are
passed through ``functions.shared.symbols.to_alphavantage`` (``BRK.B`` is sent as ``BRK-B``),
so callers always speak Alpaca's form.

The key is a query parameter, and AlphaVantage echoes it in its 25/day text ("We have
detected your API key as <KEY>"): every message an error carries is redacted first, and
``functions.shared.http`` never puts the URL in an error.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from functions.shared.credentials import AlphaVantageCredentials
from functions.shared.http import TransportError, count_external, describe, get
from functions.shared.observability import logger
from functions.shared.retry import DEFAULT_BACKOFF, Backoff, Jitter, Sleep, retry_call
from functions.shared.symbols import to_alphavantage
from functions.shared.telemetry import MetricName

API = "alphavantage"
QUERY_PATH = "/query"
REDACTED = "<redacted>"
T = TypeVar("T")


class Pacer(Protocol):
    """Called before every HTTP request, retries included, to keep under a plan's rate."""

    def wait(self) -> None: ...


class Verdict(StrEnum):
    DATA = "data"
    EMPTY = "empty"
    NOT_FOUND = "not_found"
    INVALID_API_KEY = "invalid_api_key"
    BAD_REQUEST = "bad_request"
    THROTTLED = "throttled"
    DAILY_QUOTA = "daily_quota"
    NOT_ENTITLED = "not_entitled"


class AlphaVantageError(RuntimeError):
    """AlphaVantage did not return the data asked for. Messages never contain the API key."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(f"alphavantage {function}: {message}")
        self.function = function


class InvalidApiKeyError(AlphaVantageError):
    """Fatal: the key is missing or wrong. Fix the ``alphavantage`` secret."""


class BadRequestError(AlphaVantageError):
    """The request was refused (bad symbol or parameters): record and skip, never retry."""


class SymbolNotFoundError(AlphaVantageError):
    """``{}``: AlphaVantage has no data for the symbol. Record and skip."""


class ThrottledError(AlphaVantageError):
    """Too many requests for the plan's burst or per-minute rate; still throttled after the retries."""


class DailyQuotaError(AlphaVantageError):
    """The plan's daily quota is used up: nothing more until the quota resets."""


class NotEntitledError(AlphaVantageError):
    """The function or parameter needs a premium plan."""


class UnexpectedResponseError(AlphaVantageError):
    """A body that is neither data nor a known error: not JSON, wrong shape, or an HTTP error status."""


class ServerError(UnexpectedResponseError):
    """HTTP 5xx (the CDN in front of AlphaVantage): retried like a transport failure."""


ERRORS: dict[Verdict, type[AlphaVantageError]] = {
    Verdict.NOT_FOUND: SymbolNotFoundError,
    Verdict.INVALID_API_KEY: InvalidApiKeyError,
    Verdict.BAD_REQUEST: BadRequestError,
    Verdict.THROTTLED: ThrottledError,
    Verdict.DAILY_QUOTA: DailyQuotaError,
    Verdict.NOT_ENTITLED: NotEntitledError,
}
THROTTLE_WORDS = ("per second", "sparingly", "per minute", "call frequency")
NOTICE_KEYS = ("Information", "Note")
SYMBOL_PARAMETERS = ("symbol", "tickers")  # tickers: a comma list


def classify(body: Any) -> Verdict:
    """What an AlphaVantage JSON body means (apis.md B9, "Classifier that survives all of the above")."""
    if not isinstance(body, dict):
        return Verdict.DATA
    if not body:
        return Verdict.NOT_FOUND
    error = body.get("Error Message")
    if isinstance(error, str):
        return Verdict.INVALID_API_KEY if "apikey" in error.lower() else Verdict.BAD_REQUEST
    notice = next((body[key] for key in NOTICE_KEYS if isinstance(body.get(key), str)), None)
    if notice is None or len(body) > 1:
        # A data document may carry an "Information" field among its data; only a lone notice is an answer.
        return Verdict.DATA
    text = notice.lower()
    if "demo" in text and "api key" in text:
        return Verdict.INVALID_API_KEY
    if "is a premium endpoint" in text:
        return Verdict.NOT_ENTITLED
    if any(word in text for word in THROTTLE_WORDS):
        return Verdict.THROTTLED
    if "per day" in text:
        return Verdict.DAILY_QUOTA
    if "invalid inputs" in text:
        return Verdict.BAD_REQUEST
    if "no articles found" in text:
        return Verdict.EMPTY
    return Verdict.THROTTLED


def request_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """``params`` with every symbol in AlphaVantage's spelling."""
    return {
        name: ",".join(to_alphavantage(s) for s in value.split(",")) if name in SYMBOL_PARAMETERS else value
        for name, value in params.items()
    }


def notice_text(body: Mapping[str, Any]) -> str:
    """The human text of an error body (``{}`` has none)."""
    for key in ("Error Message", *NOTICE_KEYS):
        if isinstance(body.get(key), str):
            return str(body[key])
    return "empty response {}"


class CsvRows(list[dict[str, str]]):
    """The rows of a CSV body, keyed by header name, with the header itself (to check the columns)."""

    def __init__(self, header: Sequence[str], rows: Iterable[dict[str, str]] = ()) -> None:
        super().__init__(rows)
        self.header = tuple(header)


class AlphaVantageClient:
    """Calls ``{baseUrl}/query`` with the secret's key; see the module docstring for errors and retries."""

    def __init__(
        self,
        credentials: AlphaVantageCredentials,
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Sleep | None = None,
        jitter: Jitter | None = None,
        pacer: Pacer | None = None,
        timeout: float | None = None,
    ) -> None:
        self._key = credentials.apiKey.get_secret_value()
        self._url = str(credentials.baseUrl).rstrip("/") + QUERY_PATH
        self._backoff = backoff
        self._sleep = sleep
        self._jitter = jitter
        self._pacer = pacer
        self._timeout = timeout

    def json(self, function: str, **params: str) -> dict[str, Any]:
        """The JSON document of ``function``; ``{}`` when AlphaVantage found nothing ("No articles found")."""
        return self._call(function, params, self._parse_json)

    def csv(self, function: str, **params: str) -> CsvRows:
        """The rows of a CSV function, keyed by header name; none for a header-only body.

        Callers check ``.header`` for the columns they need: an unexpected body (an HTML page)
        would otherwise read as a one-column CSV without rows.
        """
        return self._call(function, params, self._parse_csv)

    def _call(self, function: str, params: Mapping[str, str], parse: Callable[[str, str], T]) -> T:
        query = {"function": function, **request_parameters(params), "apikey": self._key}
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                count_external(API, MetricName.EXTERNAL_RETRIES)
            if self._pacer is not None:
                self._pacer.wait()
            response = get(API, self._url, params=query, timeout=self._timeout)
            if response.status >= 500:
                raise ServerError(function, f"HTTP {response.status}")
            if response.status != 200:
                raise UnexpectedResponseError(function, f"HTTP {response.status}")
            return parse(function, response.text())

        return retry_call(
            attempt,
            retry_on=(ThrottledError, ServerError, TransportError),
            backoff=self._backoff,
            sleep=self._sleep,
            jitter=self._jitter,
            description=describe(API, self._url, {"function": function}),
        )

    def _parse_json(self, function: str, text: str) -> dict[str, Any]:
        body = self._decode(function, text)
        if self._check(function, body) is Verdict.EMPTY:
            return {}
        if not isinstance(body, dict):
            raise UnexpectedResponseError(function, f"expected a JSON object, got {type(body).__name__}")
        return body

    def _parse_csv(self, function: str, text: str) -> CsvRows:
        if text.lstrip().startswith(("{", "[")):
            # An error (or any JSON) on the CSV endpoint: classified, never read as CSV.
            body = self._decode(function, text)
            if self._check(function, body) is Verdict.EMPTY:
                return CsvRows(())
            raise UnexpectedResponseError(function, "expected CSV, got a JSON document")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        if not reader.fieldnames:
            raise UnexpectedResponseError(function, "empty body: expected a CSV header row")
        # A row longer than the header puts its extra cells under None: dropped.
        return CsvRows(reader.fieldnames, ({k: v for k, v in row.items() if k is not None} for row in rows))

    def _decode(self, function: str, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise UnexpectedResponseError(function, f"response is not JSON ({len(text)} characters)") from None

    def _check(self, function: str, body: Any) -> Verdict:
        """Raise for an error body (redacted), else return DATA or EMPTY."""
        verdict = classify(body)
        if verdict in (Verdict.DATA, Verdict.EMPTY):
            return verdict
        if verdict in (Verdict.THROTTLED, Verdict.DAILY_QUOTA):
            count_external(API, MetricName.EXTERNAL_THROTTLED)
        message = notice_text(body).replace(self._key, REDACTED) if self._key else notice_text(body)
        logger.warning("alphavantage refused a request", extra={"function": function, "verdict": verdict.value})
        raise ERRORS[verdict](function, f"{verdict.value}: {message}")
