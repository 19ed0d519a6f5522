"""AlphaVantage's value encoding (apis.md B0): numbers as strings, several spellings of "no value"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

# Every spelling AlphaVantage uses for an empty value; stored as an absent attribute.
EMPTY_MARKERS = frozenset({"", "None", "-"})


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in EMPTY_MARKERS)


def to_decimal(value: Any) -> Decimal | None:
    """``"2.58"`` -> ``Decimal("2.58")``; an empty marker -> None; anything else not a finite number raises ValueError."""
    if is_empty(value):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number
