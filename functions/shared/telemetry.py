"""The names of Signal9's logs and metrics: what the handlers emit, the fleet configures and the dashboard reads.

Plain constants, so the program (``components/function_fleet.py``, ``signal9/dashboard.py``)
can use them without loading Powertools and the X-Ray SDK; ``functions.shared.observability``
emits under these names (its docstring is the log contract).
"""

from __future__ import annotations

from enum import StrEnum

NAMESPACE = "Signal9"

# The documented field set (functions.shared.observability), for tests and docs checks to hold the handlers to.
LOG_FIELDS = (
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "correlation_id",
    "stage",
    "xray_trace_id",
)
SERVICE_VARIABLE = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_VARIABLE = "POWERTOOLS_METRICS_NAMESPACE"


class MetricName(StrEnum):
    """Every custom metric the handlers emit (unit Count unless noted)."""

    PHASE2_PLACEHOLDER_RUNS = "Phase2PlaceholderRuns"
    """A Phase 2 seam ran and collected nothing (expected in Phase 1)."""
    EVENTS_PUBLISHED = "EventsPublished"
    PUT_EVENTS_RETRIES = "PutEventsRetries"
    """Entries re-sent after PutEvents reported them failed."""
    POLLENATIONS_RECORDED = "PollenationsRecorded"
    POLLENATIONS_SKIPPED = "PollenationsSkipped"
    """A pollenationNeeded older than (or equal to) the symbol's latest recorded pollenation."""
    EARNINGS_MARKED_PROCESSED = "EarningsMarkedProcessed"
    EARNINGS_ALREADY_PROCESSED = "EarningsAlreadyProcessed"
    EARNINGS_NOT_YET_PUBLISHED = "EarningsNotYetPublished"
    """Earnings pollenations whose EARNINGS did not hold the row's quarter yet (the next run asks again)."""
    EARNINGS_UNPUBLISHED = "EarningsUnpublished"
    """Calendar rows marked unpublishedAt: the quarter never reached EARNINGS within the window."""
    INVALID_ROWS_SKIPPED = "InvalidRowsSkipped"
    """Table rows a trigger could not turn into a valid event."""
    FOUNDATIONAL_ROWS_WRITTEN = "FoundationalRowsWritten"
    """Rows PollenateAsset wrote to the five foundational tables (new or changed reports, overview)."""
    SYMBOLS_NOT_COLLECTED = "SymbolsNotCollected"
    """Pollenations whose symbol AlphaVantage does not know ({}) or refused (Error Message)."""
    RECORDS_FETCHED = "RecordsFetched"
    """Records a collector received from an external API (calendar rows, articles)."""
    ITEMS_WRITTEN = "ItemsWritten"
    """Table items a collector created or changed."""
    ITEMS_UNCHANGED = "ItemsUnchanged"
    """Items a collector found already up to date (no write)."""
    RECORDS_SKIPPED = "RecordsSkipped"
    """External records that failed validation and were logged and skipped."""
    EARNINGS_MARKED_MOVED = "EarningsMarkedMoved"
    """Future earningsCalendar rows the calendar no longer lists (marked ``movedAt``)."""
    EXTERNAL_CALLS = "ExternalCalls"
    """HTTP requests to an external API (dimension ``api``: alpaca | alphavantage)."""
    EXTERNAL_THROTTLED = "ExternalThrottled"
    """Responses that said "slow down" (Alpaca 429, AlphaVantage's throttle bodies); dimension ``api``."""
    EXTERNAL_RETRIES = "ExternalRetries"
    """External calls repeated after a backoff; dimension ``api``."""
    ASSETS_DELISTED = "AssetsDelisted"
    """SyncAssets: symbols gone from Alpaca's active list, removed from both indexes (also in ItemsWritten)."""
    ASSET_WRITE_CONFLICTS = "AssetWriteConflicts"
    """SyncAssets and PollenateAsset: conditional assets writes that lost a race with the other and were redone on the newest row."""


class FreshnessMetric(StrEnum):
    """What a collector's own data says about its freshness: one gauge per run (unit in the name).

    The dashboard's freshness row, its freshness alarms and ``signal9 status``'s table rows read
    these (each with dimensions ``service`` = the emitting function and ``stage``).
    """

    NEWS_WATERMARK_LAG_MINUTES = "NewsWatermarkLagMinutes"
    """SyncNewsSentiment: its scheduled time minus the newest ``time_published`` it holds (the watermark)."""
    ASSET_CATALOG_SYNCED = "AssetCatalogSynced"
    """SyncAssets: 1 per completed catalog sync; the newest datapoint is the catalog's age."""
    EARNINGS_CALENDAR_SYNCED = "EarningsCalendarSynced"
    """SyncEarningsCalendar: 1 per completed calendar sync."""
    POLLENATIONS_PLANNED = "PollenationsPlanned"
    """TriggerRegularPollenation: the batch size it was configured to request (the plan)."""
    POLLENATIONS_REQUESTED = "PollenationsRequested"
    """Either trigger: pollenationNeeded events published (PollenationsRecorded counts the ones done)."""
    EARNINGS_ROWS_WAITING = "EarningsRowsWaiting"
    """TriggerEarningsPollenation: calendar rows whose report is out and not yet concluded."""
    OLDEST_UNPROCESSED_REPORT_DAYS = "OldestUnprocessedReportDays"
    """TriggerEarningsPollenation: days since the report date of the oldest waiting row (0 when none waits)."""


# The functions emitting each freshness metric (its ``service`` dimension).
FRESHNESS_SOURCES: dict[FreshnessMetric, tuple[str, ...]] = {
    FreshnessMetric.NEWS_WATERMARK_LAG_MINUTES: ("SyncNewsSentiment",),
    FreshnessMetric.ASSET_CATALOG_SYNCED: ("SyncAssets",),
    FreshnessMetric.EARNINGS_CALENDAR_SYNCED: ("SyncEarningsCalendar",),
    FreshnessMetric.POLLENATIONS_PLANNED: ("TriggerRegularPollenation",),
    FreshnessMetric.POLLENATIONS_REQUESTED: ("TriggerRegularPollenation", "TriggerEarningsPollenation"),
    FreshnessMetric.EARNINGS_ROWS_WAITING: ("TriggerEarningsPollenation",),
    FreshnessMetric.OLDEST_UNPROCESSED_REPORT_DAYS: ("TriggerEarningsPollenation",),
}


def emitter(metric: FreshnessMetric) -> str:
    """The one function emitting ``metric`` (ValueError for one several functions emit)."""
    sources = FRESHNESS_SOURCES[metric]
    if len(sources) != 1:
        raise ValueError(f"{metric.value} is emitted by {', '.join(sources)}")
    return sources[0]
