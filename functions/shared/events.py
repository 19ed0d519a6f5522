"""The Signal9 custom events: one definition for producers, consumers, rules and tests.

Both events travel on the ``signal9-<stack>`` bus with source ``signal9.pollenation``.
The models validate the ``detail`` of an EventBridge event; ``entry`` builds a
PutEvents entry and ``pattern`` the rule pattern that matches exactly this event.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal, Self, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

# Spelled once, as the Literal the envelope model checks; SOURCE is derived from it.
SourceName = Literal["signal9.pollenation"]
SOURCE: str = get_args(SourceName)[0]

# Exchange tickers as Alpaca lists them, e.g. AAPL, BRK.B.
SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.\-]{0,15}$"


class _Detail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    DETAIL_TYPE: ClassVar[str]

    @classmethod
    def pattern(cls) -> dict[str, list[str]]:
        """The EventBridge rule pattern matching this event, and nothing else."""
        return {"source": [SOURCE], "detail-type": [cls.DETAIL_TYPE]}

    def entry(self, event_bus_name: str) -> dict[str, str]:
        """This event as one PutEvents entry for the given bus."""
        return {
            "EventBusName": event_bus_name,
            "Source": SOURCE,
            "DetailType": self.DETAIL_TYPE,
            "Detail": self.model_dump_json(exclude_none=True),
        }

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Self:
        """Validate a whole EventBridge event (source, detail-type and detail)."""
        envelope = _Envelope.model_validate(event)
        if envelope.detail_type != cls.DETAIL_TYPE:
            raise ValueError(f"expected detail-type {cls.DETAIL_TYPE!r}, got {envelope.detail_type!r}")
        return cls.model_validate(envelope.detail)


class PollenationNeeded(_Detail):
    """An asset needs its foundational data refreshed (the dual pollination strategy)."""

    DETAIL_TYPE: ClassVar[str] = "pollenationNeeded"

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    reason: Literal["earnings", "regular"]
    requestedAt: AwareDatetime
    # Reason earnings only: the calendar row (its report date) and the quarter it announces.
    earningsDate: date | None = None
    fiscalDateEnding: date | None = None

    @model_validator(mode="after")
    def _earnings_fields_match_reason(self) -> PollenationNeeded:
        for name in EARNINGS_FIELDS:
            if self.reason == "earnings" and getattr(self, name) is None:
                raise ValueError(f"{name} is required when reason is 'earnings'")
            if self.reason == "regular" and getattr(self, name) is not None:
                raise ValueError(f"{name} is only allowed when reason is 'earnings'")
        return self


EARNINGS_FIELDS = ("earningsDate", "fiscalDateEnding")


class EarningsProcessed(_Detail):
    """An earnings pollenation concluded its calendar row.

    ``outcome`` ``processed``: the collected EARNINGS holds the quarter (``fiscalDateEnding``)
    with a reported EPS. ``unpublished``: it still did not when the publication window ended.
    """

    DETAIL_TYPE: ClassVar[str] = "earningsProcessed"

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    earningsDate: date
    fiscalDateEnding: date
    outcome: Literal["processed", "unpublished"]
    processedAt: AwareDatetime


DETAIL_MODELS: dict[str, type[_Detail]] = {m.DETAIL_TYPE: m for m in (PollenationNeeded, EarningsProcessed)}


class _Envelope(BaseModel):
    """The EventBridge fields Signal9 checks before trusting ``detail``."""

    model_config = ConfigDict(populate_by_name=True)

    source: SourceName
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
