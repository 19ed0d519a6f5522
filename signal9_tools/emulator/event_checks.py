"""The smoke's event checks: routes put on the bus by hand, a pollenation's tables, a malformed event.

Near misses match no rule, a pollenationNeeded reaches PollenateAsset through its rule, a
repeat pollenation adds no statement row, a pollenation outlasts AlphaVantage throttle answers
in several wordings (built-in fakes), and a malformed event ends in the DLQ.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from functions.shared.events import PollenationNeeded
from signal9 import catalog
from signal9_tools.emulator.collection import LocalFakes
from signal9_tools.emulator.report import expect
from signal9_tools.emulator.smoke import Smoke, fail_into_dlq
from signal9_tools.fakes.alphavantage_faults import Fault

# Throttle answers in wordings the real API has used, one of them in no recorded source (apis.md
# B9: any lone notice that is not recognised as something else is throttling). As many as the
# retries a call is allowed, so the last attempt succeeds.
THROTTLE_WORDINGS = (Fault.UNUSUAL_ACTIVITY, Fault.LEGACY_NOTE, Fault.HIGH_TRAFFIC)


@contextlib.contextmanager
def backoffs_recorded(smoke: Smoke) -> Iterator[list[float]]:
    """The handlers' retry backoffs are recorded, not slept (the emulator's time is not Lambda's)."""
    waited: list[float] = []
    # functions.shared.retry.pause: what the handlers' backoff sleeps through (tests replace it too).
    with smoke.environments.patched("functions.shared.retry", "pause", waited.append):
        yield waited


def check_events(smoke: Smoke, now: datetime, fakes: LocalFakes | None) -> None:
    """Route checks; ``now`` is at or after every scheduled run already delivered."""

    def near_misses() -> str:
        good = PollenationNeeded(symbol="NVDA", reason="regular", requestedAt=now).entry(smoke.naming.event_bus)
        smoke.put_event({**good, "Source": "signal9.other"})
        smoke.put_event({**good, "DetailType": "pollenationWanted"})
        leaked = smoke.deliveries.take()
        expect(not leaked, f"near misses matched: {[d.rule for d in leaked]}")
        return "wrong source and wrong detail-type match no rule"

    def pollenated(symbol: str, seconds_after: int) -> Any:
        """A regular pollenationNeeded for ``symbol`` put on the bus: what PollenateAsset returned, routed once.

        Requested ``seconds_after`` the scheduled runs: a trigger may have pollenated it at its run time.
        """
        later = now + timedelta(seconds=seconds_after)
        smoke.put_event(
            PollenationNeeded(symbol=symbol, reason="regular", requestedAt=later).entry(smoke.naming.event_bus)
        )
        routed = smoke.deliver()[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
        expect(len(routed) == 1, f"the event reached PollenateAsset {len(routed)} times through its rule, not once")
        return routed[0]

    def put_and_route() -> str:
        result = pollenated("NVDA", 1)
        expect(result["recorded"] is True, f"PollenateAsset did not record NVDA: {result}")
        return "pollenationNeeded put on the bus reached PollenateAsset through its rule; NVDA recorded"

    def throttled_then_collected() -> str:
        expect(fakes is not None, "not run: the given endpoints cannot be told to throttle")
        assert fakes is not None
        for fault in THROTTLE_WORDINGS:
            fakes.alphavantage.inject(fault)
        with backoffs_recorded(smoke) as waited:
            result = pollenated("MSFT", 2)
        expect(result["recorded"] is True, f"PollenateAsset did not outlast the throttle answers: {result}")
        expect(len(waited) == len(THROTTLE_WORDINGS), f"{len(waited)} backoffs, not one per throttle answer")
        return (
            f"AlphaVantage answered {', '.join(THROTTLE_WORDINGS)} (fake faults): each read as throttling and "
            f"retried after a backoff ({', '.join(f'{w:.1f}' for w in waited)} s, recorded, not slept); MSFT recorded"
        )

    def malformed_to_dlq() -> str:
        smoke.put_event(
            {
                "EventBusName": smoke.naming.event_bus,
                "Source": catalog.EVENT_SOURCE,
                "DetailType": catalog.POLLENATION_NEEDED,
                "Detail": json.dumps({"symbol": "not a symbol", "reason": "someday"}),
            }
        )
        deliveries = smoke.deliveries.take()
        expect(len(deliveries) == 1, f"the malformed event matched {len(deliveries)} rule targets, not one")
        (delivery,) = deliveries
        return fail_into_dlq(smoke, delivery.function_arn, delivery.event, "the malformed event")

    smoke.report.run("near-miss events ignored", near_misses)
    smoke.report.run("pollenationNeeded routed to PollenateAsset", put_and_route)
    smoke.report.run("pollenation filled the foundational tables", lambda: check_pollenation(smoke, now))
    if fakes is not None:
        smoke.report.run("throttle answers in several wordings retried", throttled_then_collected)
    smoke.report.run("malformed event ends in the DLQ", malformed_to_dlq)


POLLENATED_SYMBOL = "IBM"  # in every fake universe (signal9_tools.fakes.universe.FAMILIAR)


def rows_of(smoke: Smoke, table: str, symbol: str) -> int:
    """How many rows ``symbol`` has in a table keyed by ``symbol`` (a Query, as the handlers read)."""
    return int(
        smoke.client("dynamodb").query(
            TableName=smoke.naming.table(table),
            KeyConditionExpression="symbol = :symbol",
            ExpressionAttributeValues={":symbol": {"S": symbol}},
            Select="COUNT",
        )["Count"]
    )


def check_pollenation(smoke: Smoke, now: datetime) -> str:
    """The regular trigger's pollenation filled all five tables for a symbol; a repeat adds no statement row.

    The repeat is routed through the rule like any pollenationNeeded, later than every earlier one.
    """
    tables = (*catalog.FOUNDATIONAL_TABLES, "assets")
    first = {table: rows_of(smoke, table, POLLENATED_SYMBOL) for table in tables}
    empty = [table for table in catalog.FOUNDATIONAL_TABLES if not first[table]]
    expect(not empty, f"{POLLENATED_SYMBOL} has no rows in {empty} after the regular trigger's pollenation")
    later = now + timedelta(seconds=2)
    entry = PollenationNeeded(symbol=POLLENATED_SYMBOL, reason="regular", requestedAt=later)
    smoke.put_event(entry.entry(smoke.naming.event_bus))
    (result,) = smoke.deliver()[smoke.naming.rule(catalog.POLLENATION_NEEDED)]
    repeat = {table: rows_of(smoke, table, POLLENATED_SYMBOL) for table in tables}
    # Same collection day: the overview row is rewritten in place; a new pollenation row is added.
    expected = {**first, "assets": first["assets"] + 1}
    expect(repeat == expected, f"the repeat pollenation changed row counts {first} -> {repeat}")
    written = {table: rows for table, rows in result["written"].items() if rows}
    expect(
        written == {"companyOverview": 1} and result["recorded"] is True,
        f"the repeat pollenation wrote {written}, recorded={result['recorded']} (expected the overview row only)",
    )
    counts = ", ".join(f"{table} {first[table]}" for table in catalog.FOUNDATIONAL_TABLES)
    return (
        f"{POLLENATED_SYMBOL}: {counts} rows after its first pollenation; a repeat wrote only the overview row "
        f"and a new pollenation row (statement rows unchanged)"
    )
