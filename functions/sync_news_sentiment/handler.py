"""SyncNewsSentiment (schedule sync-news-sentiment): AlphaVantage news sentiment of active assets.

Phase 1: loads the ``alphavantage`` credentials (proving the grant and the cached
retrieval), then stops at the Phase 2 PLACEHOLDER. Nothing is collected or written.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.credentials import AlphaVantageCredentials
from functions.shared.observability import instrumented
from functions.shared.phase2 import credentials_then_placeholder


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # PLACEHOLDER (Phase 2): NEWS_SENTIMENT for active assets -> newsSentiment rows.
    return credentials_then_placeholder(event, AlphaVantageCredentials, "syncing AlphaVantage news sentiment")
