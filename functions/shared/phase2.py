"""The Phase 1 body of a scheduled collector: prove the secret grant, then stop at the Phase 2 seam."""

from __future__ import annotations

from typing import Any

from functions.shared.credentials import Credentials, load_credentials
from functions.shared.observability import logger, phase2_placeholder
from functions.shared.scheduled import ScheduledInvocation


def credentials_then_placeholder(event: Any, credentials: type[Credentials], work: str) -> dict[str, Any]:
    """Validate the schedule input, load ``credentials`` (never logged), then log the PLACEHOLDER.

    Phase 2 replaces the placeholder call in each handler with the real collector.
    """
    invocation = ScheduledInvocation.parse(event)
    load_credentials(credentials)
    logger.info(
        "credentials loaded",
        extra={"secret": credentials.SECRET, "scheduled_time": invocation.time and invocation.time.isoformat()},
    )
    phase2_placeholder(work)
    return {"phase": 1, "placeholder": True, "secret": credentials.SECRET, "collected": 0}
