"""SyncAssets (schedule sync-assets): Alpaca's active asset catalog into ``assets``.

Phase 1: loads the ``alpaca`` credentials (proving the grant and the cached retrieval),
then stops at the Phase 2 PLACEHOLDER. Nothing is collected or written.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.credentials import AlpacaCredentials
from functions.shared.observability import instrumented
from functions.shared.phase2 import credentials_then_placeholder


@instrumented
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    # PLACEHOLDER (Phase 2): GET {baseUrl}/v2/assets?status=active, upsert rows into assets.
    return credentials_then_placeholder(event, AlpacaCredentials, "syncing Alpaca's active asset catalog")
