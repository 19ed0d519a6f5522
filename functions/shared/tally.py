"""What a collector run did, counted once: returned by the handler, logged and metered alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from functions.shared.observability import count
from functions.shared.telemetry import MetricName


@dataclass
class Tally:
    fetched: int = 0
    """Records the external API returned."""
    written: int = 0
    """Items created or changed."""
    unchanged: int = 0
    """Items already up to date (no write)."""
    skipped: int = 0
    """Records that failed validation (each one logged)."""

    def report(self) -> dict[str, Any]:
        return asdict(self)

    def meter(self) -> None:
        count(MetricName.RECORDS_FETCHED, self.fetched)
        count(MetricName.ITEMS_WRITTEN, self.written)
        count(MetricName.ITEMS_UNCHANGED, self.unchanged)
        count(MetricName.RECORDS_SKIPPED, self.skipped)
