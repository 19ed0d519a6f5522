"""Symbols as Alpaca spells them and as AlphaVantage does: the one place that maps between them.

Signal9 stores every symbol in Alpaca's form, because Alpaca's list of assets is where symbols
come from. Alpaca writes a share class or a unit with a dot (``BRK.B``, ``BF.B``, ``GRP.U``);
AlphaVantage writes it with a hyphen (``BRK-B``; apis.md B11, [C] for requests, [U] for the
calendar rows and news tickers it returns). So every AlphaVantage request carries
:func:`to_alphavantage` of the symbol (``functions.shared.alphavantage`` applies it to the
``symbol`` and ``tickers`` parameters), and every symbol read from an AlphaVantage answer
goes through :func:`from_alphavantage`, which accepts either form.

Assumed: Alpaca's symbols have no hyphen (its share classes, units and rights use the dot), so
a hyphen from AlphaVantage always stands for Alpaca's dot. Tickers that are not US equities
(``CRYPTO:BTC``, ``FOREX:USD``) pass through unchanged.
"""

from __future__ import annotations

ALPACA_CLASS_SEPARATOR = "."
ALPHAVANTAGE_CLASS_SEPARATOR = "-"


def to_alphavantage(symbol: str) -> str:
    """``BRK.B`` -> ``BRK-B``: the symbol to send to AlphaVantage."""
    return symbol.replace(ALPACA_CLASS_SEPARATOR, ALPHAVANTAGE_CLASS_SEPARATOR)


def from_alphavantage(symbol: str) -> str:
    """``BRK-B`` (or ``BRK.B``) -> ``BRK.B``: a symbol AlphaVantage returned, as Signal9 stores it."""
    return symbol.replace(ALPHAVANTAGE_CLASS_SEPARATOR, ALPACA_CLASS_SEPARATOR)
