"""A local AlphaVantage: ``GET /query`` as apis.md Part C describes it, for tests, benchmarks and ``make local``.

Transport as the real service (apis.md B0, B9, B10): ``apikey`` is required, every answer is
HTTP 200 (errors are JSON bodies with the real wording), unknown parameters are ignored.
Modes: the free plan (25/day, more than 1 request/s refused), a premium plan
(``requests_per_minute``), the legacy ``Note`` wording or a rotation of throttle wordings
(``throttle_wordings``, unrecorded ones included), a premium-function gate, and one-shot
faults (each error body, ``{}``, a 502, a slow answer, a reset, a dropped or truncated answer)
queued with :meth:`AlphaVantageFake.inject`, on the next request or the k-th one from now.

Functions dispatch through ``fake.functions`` (built from :data:`DEFAULT_FUNCTIONS`); a handler
gets the request and the fake, and uses :meth:`AlphaVantageFake.error` / :meth:`AlphaVantageFake.company`
for the shared behaviour. Each function's handler is here; what it answers from has a module of
its own: the report dates (``earnings_reports``), the news feed (``news``), the fundamentals
documents (``fundamentals``) and the wording of every fault (``alphavantage_faults``).

Data is deterministic over :func:`signal9_tools.fakes.universe.universe`, every symbol spelt as
AlphaVantage spells it: a share class or unit with a hyphen (``BRK-B``, ``GRP-U``; apis.md B11),
so the dot form Alpaca lists (``BRK.B``) is an unknown symbol here. Each company reports every
91 days from a date its own :func:`rng` picks, and news arrives at ``articles_per_hour`` per
hour, each article mentioning one to three companies and sometimes tickers Signal9 does
not hold (``CRYPTO:BTC``, ``FOREX:USD``, foreign listings). AlphaVantage does not say which
zone its news times are in (apis.md B2): ``clock_zone`` picks the one this fake writes
``time_published`` in and reads ``time_from``/``time_to`` in. Wording marked [U] in apis.md is
reproduced as documented there and flagged here.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from signal9_tools.fakes.alphavantage_faults import Fault, error_body
from signal9_tools.fakes.earnings_reports import CYCLE_ORIGIN, REPORT_CYCLE_DAYS, Report, cycle_offset
from signal9_tools.fakes.fundamentals import BUILDERS, QUARTERLY_REPORTS, knobs, shifted
from signal9_tools.fakes.news import (
    OTHER_TICKERS,
    RELEVANCE_DEFINITION,
    SENTIMENT_DEFINITION,
    TOPICS,
    Article,
    hour_articles,
)
from signal9_tools.fakes.server import (
    RESET,
    Clock,
    FakeRequest,
    FakeResponse,
    SystemClock,
    dropped,
    json_response,
    text_response,
    truncated,
)
from signal9_tools.fakes.universe import Company, universe

FAKE_API_KEY = "test-av-key-0000"
FunctionHandler = Callable[[FakeRequest, "AlphaVantageFake"], FakeResponse]
# Faults that spoil the real answer in transit.
TRANSFER_FAULTS: dict[Fault, Callable[[FakeResponse], FakeResponse]] = {
    Fault.DROPPED: dropped,
    Fault.TRUNCATED: truncated,
}


def alphavantage_spelling(company: Company) -> Company:
    """``company`` under AlphaVantage's symbol: a share class or unit with a hyphen, ``BRK-B`` (apis.md B11)."""
    return replace(company, symbol=company.symbol.replace(".", "-"))


class AlphaVantageFake:
    """A FakeService for ``GET /query`` (serve it with ``signal9_tools.fakes.server.serving``)."""

    def __init__(
        self,
        size: int = 40,
        *,
        clock: Clock | None = None,
        api_key: str = FAKE_API_KEY,
        requests_per_minute: int | None = None,
        requests_per_day: int | None = None,
        requests_per_second: int | None = None,
        legacy_note: bool = False,
        throttle_wordings: tuple[Fault, ...] = (),
        premium_functions: frozenset[str] = frozenset(),
        articles_per_hour: int = 6,
        clock_zone: str = "UTC",
        history_days: int = 30,
        slow_seconds: float = 2.0,
        functions: dict[str, FunctionHandler] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        listed = universe(size)
        self.companies = tuple(alphavantage_spelling(c) for c in listed)
        # This fake's symbol -> the universe's (Alpaca's) symbol of the same company, for checks.
        self.listed_symbols = {own.symbol: company.symbol for own, company in zip(self.companies, listed, strict=True)}
        self.api_key = api_key
        self.requests_per_minute = requests_per_minute
        self.requests_per_day = requests_per_day
        self.requests_per_second = requests_per_second
        self.legacy_note = legacy_note
        # The real service has worded its throttle answer several ways (apis.md B9); when given,
        # the burst and per-minute refusals take these wordings in turn instead of the current one.
        self.throttle_wordings = throttle_wordings
        self._throttle_answers = 0
        self.premium_functions = premium_functions
        self.articles_per_hour = articles_per_hour
        self.clock_zone: tzinfo = ZoneInfo(clock_zone)
        self.history_days = history_days
        self.slow_seconds = slow_seconds
        self.functions: dict[str, FunctionHandler] = dict(DEFAULT_FUNCTIONS if functions is None else functions)
        self.report_shifts: dict[str, int] = {}
        self.report_times: dict[str, str] = {}
        self.publication_delays: dict[str, timedelta] = {}
        self._by_symbol = {c.symbol: c for c in self.companies}
        self._news: dict[int, tuple[Article, ...]] = {}
        self._faults: deque[Fault | None] = deque()  # None: that request is answered normally
        self._served: deque[float] = deque()  # clock times of the answers the rate windows count
        self._per_day: dict[date, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def free(cls, size: int = 40, **options: Any) -> AlphaVantageFake:
        """The free plan: 25 requests a day and at most 1 a second (apis.md B10)."""
        return cls(size, requests_per_day=25, requests_per_second=1, **options)

    # --- knobs ------------------------------------------------------------------------

    def inject(self, fault: Fault, times: int = 1, *, after: int = 0) -> None:
        """Answer ``times`` authenticated requests with ``fault``, once ``after`` more have been answered normally."""
        with self._lock:
            self._faults.extend([None] * after + [fault] * times)

    def clear_faults(self) -> None:
        """Forget the faults injected and not yet answered."""
        with self._lock:
            self._faults.clear()

    def move_report(self, symbol: str, days: int) -> None:
        """Shift every report date of ``symbol`` by ``days`` (a report that moved)."""
        self.report_shifts[symbol] = days

    def report_on(self, symbol: str, day: date, time_of_the_day: str | None = None) -> None:
        """Shift ``symbol``'s reporting cycle so that it reports on ``day`` (and every 91 days around it).

        ``time_of_the_day`` (``pre-market``, ``post-market`` or ``""``) replaces the row's own choice.
        """
        own = cycle_offset(self._by_symbol[symbol])
        self.report_shifts[symbol] = ((day - CYCLE_ORIGIN).days - own) % REPORT_CYCLE_DAYS
        if time_of_the_day is not None:
            self.report_times[symbol] = time_of_the_day

    def delay_publication(self, symbol: str, delay: timedelta) -> None:
        """``symbol``'s reports reach EARNINGS ``delay`` after their usual time (a late publication)."""
        self.publication_delays[symbol] = delay

    def published_reports(self, company: Company, count: int) -> list[Report]:
        """``company``'s last ``count`` reports already in EARNINGS on the fake's clock, newest first."""
        now = self.now()
        delay = self.publication_delays.get(company.symbol, timedelta(0))
        start = now.date() - timedelta(days=REPORT_CYCLE_DAYS * (count + 1)) - delay
        every = reports(self, company, start, now.date())
        return [r for r in every if r.published_at(delay) <= now][::-1][:count]

    # --- what handlers use ------------------------------------------------------------

    def company(self, symbol: str) -> Company | None:
        return self._by_symbol.get(symbol)

    def articles(self, hour: int) -> tuple[Article, ...]:
        """The news published in epoch hour ``hour`` (generated once per fake)."""
        if hour not in self._news:
            self._news[hour] = hour_articles(self.companies, self.articles_per_hour, hour, self.clock_zone)
        return self._news[hour]

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    def error(self, fault: Fault, function: str) -> FakeResponse:
        if fault is Fault.SERVER_ERROR:
            return text_response(502, "<html><body>502 Bad Gateway</body></html>", "text/html")
        return json_response(
            200,
            error_body(fault, function=function, api_key=self.api_key, requests_per_minute=self.requests_per_minute),
        )

    # --- FakeService ------------------------------------------------------------------

    def handle(self, request: FakeRequest) -> FakeResponse:
        function = request.query.get("function", "")
        if request.path != "/query":
            return json_response(404, {"detail": "Not Found"})
        if request.query.get("apikey") != self.api_key:
            return self.error(Fault.INVALID_KEY, function)
        fault = self._next_fault()
        if fault is Fault.RESET:
            return RESET
        if fault in TRANSFER_FAULTS:
            return TRANSFER_FAULTS[fault](self._answer(request, function))
        if fault is Fault.SLOW:
            time.sleep(self.slow_seconds)  # wall time: this fault exists to trip the client's timeout
        elif fault is not None:
            return self.error(fault, function)
        return self._answer(request, function)

    def _answer(self, request: FakeRequest, function: str) -> FakeResponse:
        limited = self._rate_limited()
        if limited is not None:
            return self.error(limited, function)
        handler = self.functions.get(function)
        if handler is None:
            return self.error(Fault.INVALID_API_CALL, function)
        if function in self.premium_functions:
            return self.error(Fault.PREMIUM_ENDPOINT, function)
        return handler(request, self)

    def _next_fault(self) -> Fault | None:
        """The fault due for this request (None: answer it normally)."""
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _worded(self, fault: Fault) -> Fault:
        """The wording of a rate-limit answer (called with the lock held)."""
        if self.legacy_note:
            return Fault.LEGACY_NOTE
        if fault is Fault.DAILY_QUOTA or not self.throttle_wordings:
            return fault
        self._throttle_answers += 1
        return self.throttle_wordings[(self._throttle_answers - 1) % len(self.throttle_wordings)]

    def _rate_limited(self) -> Fault | None:
        """The throttle answer due now, or None after counting this request (refused ones do not count)."""
        now = self.clock.time()
        today = self.now().date()
        with self._lock:
            while self._served and self._served[0] <= now - 60:
                self._served.popleft()
            per_second = sum(1 for t in self._served if t > now - 1)
            limits = (
                (self.requests_per_day, self._per_day.get(today, 0), Fault.DAILY_QUOTA),
                (self.requests_per_second, per_second, Fault.BURST),
                (self.requests_per_minute, len(self._served), Fault.PREMIUM_RATE),
            )
            for limit, used, fault in limits:
                if limit is not None and used >= limit:
                    return self._worded(fault)
            self._served.append(now)
            self._per_day[today] = self._per_day.get(today, 0) + 1
            return None


# --- EARNINGS_CALENDAR (apis.md B1) ------------------------------------------------------

CALENDAR_HEADER = ("symbol", "name", "reportDate", "fiscalDateEnding", "estimate", "currency", "timeOfTheDay")
HORIZON_DAYS = {"3month": 91, "6month": 182, "12month": 365}


def reports(fake: AlphaVantageFake, company: Company, start: date, end: date) -> Iterator[Report]:
    """``company``'s report dates in ``[start, end]``: every 91 days from its own offset, plus any shift."""
    offset = cycle_offset(company) + fake.report_shifts.get(company.symbol, 0)
    first = CYCLE_ORIGIN + timedelta(days=offset)
    cycles = max(0, (start - first).days // REPORT_CYCLE_DAYS)
    day = first + timedelta(days=cycles * REPORT_CYCLE_DAYS)
    while day <= end:
        if day >= start:
            yield Report(company, day, fake.report_times.get(company.symbol))
        day += timedelta(days=REPORT_CYCLE_DAYS)


def earnings_calendar(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
    horizon = request.query.get("horizon", "3month")
    if horizon not in HORIZON_DAYS:
        return fake.error(Fault.INVALID_API_CALL, "EARNINGS_CALENDAR")
    today = fake.now().date()
    end = today + timedelta(days=HORIZON_DAYS[horizon])
    symbol = request.query.get("symbol")
    companies = fake.companies if symbol is None else [c for c in fake.companies if c.symbol == symbol]
    rows = sorted((r.row() for c in companies for r in reports(fake, c, today, end)), key=lambda row: (row[2], row[0]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # quotes names with commas, as the real file
    writer.writerow(CALENDAR_HEADER)
    writer.writerows(rows)
    # [U/C] seen as application/x-download; the client must not depend on it.
    return text_response(200, out.getvalue(), "application/x-download")


# --- NEWS_SENTIMENT (apis.md B2) ----------------------------------------------------------

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
TIME_FORMAT = "%Y%m%dT%H%M"


def _parse_time(text: str | None, zone: tzinfo) -> datetime | None:
    """A ``time_from``/``time_to`` value: a wall time in the fake's clock zone."""
    if text is None:
        return None
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=zone)


def news_sentiment(request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
    query = request.query
    try:
        start = _parse_time(query.get("time_from"), fake.clock_zone)
        until = _parse_time(query.get("time_to"), fake.clock_zone)
        limit = min(int(query.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)  # [U] above 1000: capped, not refused
    except ValueError:
        return fake.error(Fault.INVALID_INPUTS, "NEWS_SENTIMENT")
    tickers = [t for t in query.get("tickers", "").split(",") if t]
    codes = [t for t in query.get("topics", "").split(",") if t]
    sort = query.get("sort", "LATEST")
    known = {c.symbol for c in fake.companies} | set(OTHER_TICKERS)
    if limit < 1 or sort not in ("LATEST", "EARLIEST", "RELEVANCE") or any(t not in known for t in tickers):
        return fake.error(Fault.INVALID_INPUTS, "NEWS_SENTIMENT")
    if any(c not in TOPICS for c in codes):
        return fake.error(Fault.INVALID_INPUTS, "NEWS_SENTIMENT")
    now = fake.now()
    # time_to counts its whole minute; time_to defaults to now (apis.md B2).
    end = min(now, until + timedelta(seconds=59)) if until else now
    start = start or now - timedelta(days=fake.history_days)
    topics = {TOPICS[c] for c in codes}

    def wanted(article: Article) -> bool:
        return (
            start <= article.published <= end
            and all(t in article.tickers for t in tickers)  # a list of tickers is an AND filter
            and topics.issubset(article.topics)
        )

    hours = range(int(start.timestamp()) // 3600, int(end.timestamp()) // 3600 + 1)
    if sort == "LATEST":
        found = _first(
            (a for h in reversed(hours) for a in reversed(fake.articles(h))),
            wanted,
            limit,
        )
    elif sort == "EARLIEST":
        found = _first((a for h in hours for a in fake.articles(h)), wanted, limit)
    else:
        every = [a for h in hours for a in fake.articles(h) if wanted(a)]
        found = sorted(every, key=lambda a: -a.relevance)[:limit]
    if not found:
        return fake.error(Fault.NO_ARTICLES, "NEWS_SENTIMENT")
    return json_response(
        200,
        {
            "items": str(len(found)),
            "sentiment_score_definition": SENTIMENT_DEFINITION,
            "relevance_score_definition": RELEVANCE_DEFINITION,
            "feed": [a.document for a in found],
        },
    )


def _first(articles: Iterator[Article], wanted: Callable[[Article], bool], limit: int) -> list[Article]:
    found: list[Article] = []
    for article in articles:
        if wanted(article):
            found.append(article)
            if len(found) == limit:
                break
    return found


# --- fundamentals (apis.md B3-B7) ------------------------------------------------------


@dataclass(frozen=True)
class FundamentalsHandler:
    """One fundamentals function, as the fake's dispatch table calls it: ``(request, fake) -> response``."""

    function: str

    def __call__(self, request: FakeRequest, fake: AlphaVantageFake) -> FakeResponse:
        settings = knobs(fake)
        symbol = request.query.get("symbol", "")
        if not symbol or symbol in settings.bad_symbols:
            return fake.error(Fault.INVALID_API_CALL, self.function)
        company = fake.company(symbol)
        if company is None:
            return json_response(200, {})
        # The newest quarter is the latest report's that is already out on the fake's clock.
        published = {r.fiscal_date_ending: r for r in fake.published_reports(company, QUARTERLY_REPORTS)}
        latest = shifted(max(published), settings.new_quarters.get(symbol, 0))
        return json_response(200, BUILDERS[self.function](company, latest, settings, published))


FUNDAMENTAL_FUNCTIONS: dict[str, FundamentalsHandler] = {name: FundamentalsHandler(name) for name in BUILDERS}
"""Registered in the AlphaVantage fake's ``DEFAULT_FUNCTIONS`` (``**FUNDAMENTAL_FUNCTIONS``)."""


DEFAULT_FUNCTIONS: dict[str, FunctionHandler] = {
    "EARNINGS_CALENDAR": earnings_calendar,
    "NEWS_SENTIMENT": news_sentiment,
    **FUNDAMENTAL_FUNCTIONS,  # OVERVIEW, EARNINGS, INCOME_STATEMENT, BALANCE_SHEET, CASH_FLOW
}
