"""What a deployed secret holds before anyone sets it, shared by the program and the handlers.

The Secrets component stores ``PLACEHOLDER_VALUE`` for an unset field and the endpoint defaults
for an unset URL; ``functions.shared.credentials`` refuses the placeholder and falls back to the
same defaults. Kept free of boto3 and Powertools: the program (catalog, components) imports it
at every ``signal9 plan`` and ``pulumi up``, where loading the AWS SDK would cost ~0.1 s for nothing.
"""

from __future__ import annotations

# The one definition of the deploy-time placeholder: the Secrets component stores
# PLACEHOLDER_VALUE for an unset field, and credentials.py refuses any value with this prefix.
PLACEHOLDER_PREFIX = "PLACEHOLDER-"
PLACEHOLDER_VALUE = f"{PLACEHOLDER_PREFIX}set-with-pulumi-config-set---secret"

# Endpoint defaults (docs/collectors.md): the Secrets component stores them for an unset
# URL field and the models fall back to them, so a stack only sets a URL to point elsewhere.
ALPACA_TRADING_URL = "https://paper-api.alpaca.markets"
ALPACA_DATA_URL = "https://data.alpaca.markets"
ALPHAVANTAGE_URL = "https://www.alphavantage.co"


def set_secret_command(secret: str, field: str, stack: str | None) -> str:
    """The command that sets ``field`` of catalog secret ``secret`` (``-s stack`` when known)."""
    target = f" -s {stack}" if stack else ""
    return f"pulumi config set --secret --path signal9:secrets.{secret}.{field} <value>{target}"
