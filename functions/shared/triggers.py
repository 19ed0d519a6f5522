"""What both pollenation triggers share: turning table rows into pollenationNeeded events."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import ValidationError

from functions.shared.dynamo import Item
from functions.shared.events import PollenationNeeded
from functions.shared.observability import count, logger
from functions.shared.telemetry import MetricName


def pollenation_requests(rows: Iterable[Item], build: Callable[[Item], PollenationNeeded]) -> list[PollenationNeeded]:
    """One event per row; a row that cannot make a valid event is logged, counted and skipped.

    Skipping (instead of failing the run) keeps one bad row from starving every other asset.
    """
    requests: list[PollenationNeeded] = []
    for row in rows:
        try:
            requests.append(build(row))
        except (KeyError, ValidationError) as error:
            logger.error(
                "row skipped: not a valid pollenationNeeded", extra={"row_key": _key(row), "error": str(error)}
            )
            count(MetricName.INVALID_ROWS_SKIPPED)
    return requests


def _key(row: Item) -> dict[str, str]:
    return {k: str(row[k]) for k in ("symbol", "asset_symbol", "earnings_date", "lastPollenationDate") if k in row}
