"""Publish Signal9 events to the bus: PutEvents batches of <= 10, failed entries retried.

PutEvents accepts at most 10 entries per call and can fail some entries while accepting
the rest (``FailedEntryCount``). Only the failed entries are re-sent, after backoff delays
(at most 3 retries); whatever still fails raises :class:`PublishError` so the invocation
fails and its asynchronous retry / DLQ path takes over. Throttling of the whole call is
left to the SDK's standard retry mode.

Each PutEvents call is logged with the returned event ids: a consumer's ``correlation_id``
is its event id, so searching for it finds the producer's line too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from functions.shared.aws import events
from functions.shared.env import EVENT_BUS_NAME, require
from functions.shared.observability import count, logger
from functions.shared.retry import DEFAULT_BACKOFF, Backoff, Jitter, Sleep, resolve_sleep
from functions.shared.telemetry import MetricName

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_CALL = 10  # the PutEvents API limit


class EventDetail(Protocol):
    """What functions.shared.events models provide."""

    def entry(self, event_bus_name: str) -> dict[str, str]: ...


class PublishError(RuntimeError):
    """Some events could not be published after every retry."""


def publish(
    details: Iterable[EventDetail],
    *,
    event_bus_name: str | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Sleep | None = None,
    jitter: Jitter | None = None,
) -> int:
    """Put every event on the bus (``SIGNAL9_EVENT_BUS_NAME`` by default); returns how many."""
    bus = event_bus_name or require(EVENT_BUS_NAME)
    entries: list[PutEventsRequestEntryTypeDef] = [detail.entry(bus) for detail in details]  # type: ignore[misc]
    for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
        _put_batch(entries[start : start + MAX_ENTRIES_PER_CALL], backoff, sleep, jitter)
    if entries:
        count(MetricName.EVENTS_PUBLISHED, len(entries))
    return len(entries)


def _put_batch(
    batch: Sequence[PutEventsRequestEntryTypeDef], backoff: Backoff, sleep: Sleep | None, jitter: Jitter | None
) -> None:
    pending = list(batch)
    delays = backoff.delays(jitter)
    while True:
        response = events().put_events(Entries=pending)
        results = response["Entries"]
        published = [r["EventId"] for r in results if "EventId" in r and not r.get("ErrorCode")]
        logger.info("events published", extra={"count": len(published), "event_ids": published})
        if not response.get("FailedEntryCount"):
            return
        failed = [(entry, result) for entry, result in zip(pending, results, strict=True) if result.get("ErrorCode")]
        pending = [entry for entry, _ in failed]
        codes = sorted({str(result.get("ErrorCode")) for _, result in failed})
        delay = next(delays, None)
        if delay is None:
            raise PublishError(
                f"{len(pending)} of {len(batch)} events were not accepted by PutEvents after "
                f"{backoff.max_retries} retries (error codes: {', '.join(codes)})"
            )
        logger.warning(
            "PutEvents failed some entries; retrying them",
            extra={"failed": len(pending), "error_codes": codes, "retry_in_seconds": round(delay, 3)},
        )
        count(MetricName.PUT_EVENTS_RETRIES, len(pending))
        resolve_sleep(sleep)(delay)
