"""The companies every fake agrees on: a deterministic universe of any size.

Both fakes draw from the same universe, so the companies AlphaVantage's fake reports
earnings and news for are companies Alpaca's fake lists (as in reality, mostly). Symbols
here are spelt as Alpaca spells them; each fake serves them in its own API's spelling (the
AlphaVantage fake writes a share class with a hyphen, apis.md B11). The first companies are
familiar tickers, share classes and a unit among them (``BRK.B``, ``BF.B``, ``GRP.U``); the
rest are generated three- to five-letter symbols. Everything about a company that a fake
derives (prices, volumes, reports) comes from :func:`rng`, seeded by the symbol, so two
runs, or two fakes, see the same company.
"""

from __future__ import annotations

import functools
import random
import uuid
from dataclasses import dataclass
from functools import cache

# Exchange values as Alpaca's /v2/assets enum spells them (apis.md A3.1).
EXCHANGES = ("NASDAQ", "NYSE", "ARCA", "BATS", "AMEX", "OTC")

FAMILIAR: tuple[tuple[str, str, str], ...] = (
    ("AAPL", "Apple Inc. Common Stock", "NASDAQ"),
    ("MSFT", "Microsoft Corporation Common Stock", "NASDAQ"),
    ("IBM", "International Business Machines Corporation Common Stock", "NYSE"),
    ("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ"),
    ("TSLA", "Tesla, Inc. Common Stock", "NASDAQ"),
    ("BRK.B", "Berkshire Hathaway Inc. Class B", "NYSE"),
    ("JPM", "JPMorgan Chase & Co. Common Stock", "NYSE"),
    ("GRP.U", "GRANITE REAL ESTATE INVESTMENT TRUST", "NYSE"),
    ("BF.B", "Brown-Forman Corporation Class B Common Stock", "NYSE"),
    ("FLG", "FLAGSTAR BANK, N.A.", "NYSE"),
)


@dataclass(frozen=True)
class Company:
    symbol: str
    name: str
    exchange: str

    @property
    def asset_id(self) -> str:
        """A stable UUID, as Alpaca's ``id``."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"signal9-fake/{self.symbol}"))


def rng(company: Company | str, salt: str = "") -> random.Random:
    """A random source private to one company (and purpose), the same in every run."""
    return random.Random(f"{_symbol(company)}/{salt}")


def draw(company: Company | str, salt: str = "") -> float:
    """``rng(company, salt).random()``: the one number a purpose draws, remembered (seeding costs
    more than the draw, and a bars request draws several per symbol and day)."""
    return _first_draw(_symbol(company), salt)


def _symbol(company: Company | str) -> str:
    return company.symbol if isinstance(company, Company) else company


@functools.lru_cache(maxsize=1 << 16)
def _first_draw(symbol: str, salt: str) -> float:
    return rng(symbol, salt).random()


def _generated_symbol(index: int) -> str:
    letters = ""
    n = index + 26**2  # start at three letters
    while n:
        n, digit = divmod(n, 26)
        letters = chr(ord("A") + digit) + letters
    return letters


@cache
def universe(size: int) -> tuple[Company, ...]:
    """``size`` companies: the familiar ones first, then generated ones, no symbol twice."""
    if size < 0:
        raise ValueError(f"universe size must be >= 0, got {size}")
    companies = [Company(*entry) for entry in FAMILIAR[:size]]
    taken = {c.symbol for c in companies}
    index = 0
    while len(companies) < size:
        symbol = _generated_symbol(index)
        index += 1
        if symbol in taken:
            continue
        pick = rng(symbol, "profile")
        exchange = pick.choices(EXCHANGES, weights=(40, 30, 10, 5, 5, 10))[0]
        suffix = pick.choice(("Inc.", "Corp.", "Holdings, Inc.", "Group", "Ltd.", "Trust"))
        companies.append(Company(symbol, f"{symbol.title()} {suffix}", exchange))
        taken.add(symbol)
    return tuple(companies)
