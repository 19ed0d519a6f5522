"""SPEC.md's access matrix, schedules and events, transcribed literally (never derived from the catalog).

Tests compare the deployed policies, the docs and the catalog with these, so a wrong catalog
entry fails a test instead of flowing silently into every derived artefact.
"""

from __future__ import annotations

from typing import NamedTuple

FOUNDATIONAL = ("companyOverview", "earnings", "cashFlow", "balanceSheet", "incomeStatement")


class Access(NamedTuple):
    reads: frozenset[str]
    writes: frozenset[str]
    secret: str | None
    emits: frozenset[str]


def access(reads: tuple[str, ...], writes: tuple[str, ...], secret: str | None, emits: tuple[str, ...]) -> Access:
    return Access(frozenset(reads), frozenset(writes), secret, frozenset(emits))


# SPEC.md "Functions (7)": reads | writes | secret | emits.
SPEC_ACCESS: dict[str, Access] = {
    "SyncAssets": access(("assets",), ("assets",), "alpaca", ()),
    "SyncEarningsCalendar": access(("earningsCalendar",), ("earningsCalendar",), "alphavantage", ()),
    "TriggerEarningsPollenation": access(("earningsCalendar", "assets"), (), None, ("pollenationNeeded",)),
    "TriggerRegularPollenation": access(("assets",), (), None, ("pollenationNeeded",)),
    "SyncNewsSentiment": access(("assets", "newsSentiment"), ("newsSentiment",), "alphavantage", ()),
    "PollenateAsset": access(
        ("assets", *FOUNDATIONAL), ("assets", *FOUNDATIONAL), "alphavantage", ("earningsProcessed",)
    ),
    "MarkEarningsProcessed": access(("earningsCalendar",), ("earningsCalendar",), None, ()),
}

# SPEC.md "Tables": the tables that have GSIs (reads are granted on their indexes too).
TABLES_WITH_INDEXES = frozenset({"assets", "earningsCalendar", "newsSentiment"})

# SPEC.md "Schedules (5) and events (2)": schedule -> target, detail-type -> consumer.
SPEC_SCHEDULES = {
    "sync-assets": "SyncAssets",
    "sync-earnings-calendar": "SyncEarningsCalendar",
    "trigger-earnings-pollenation": "TriggerEarningsPollenation",
    "trigger-regular-pollenation": "TriggerRegularPollenation",
    "sync-news-sentiment": "SyncNewsSentiment",
}
SPEC_EVENTS = {"pollenationNeeded": "PollenateAsset", "earningsProcessed": "MarkEarningsProcessed"}
