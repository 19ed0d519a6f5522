"""The environment contract between the FunctionFleet component and the handlers.

The infrastructure sets these variables; handlers read them. Both import this module,
so a name is spelled once.
"""

from __future__ import annotations

import os
import re

STAGE = "SIGNAL9_STAGE"
EVENT_BUS_NAME = "SIGNAL9_EVENT_BUS_NAME"


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).replace("-", "_").upper()


def table_variable(table: str) -> str:
    """``earningsCalendar`` -> ``SIGNAL9_TABLE_EARNINGS_CALENDAR``."""
    return f"SIGNAL9_TABLE_{_upper_snake(table)}"


def secret_variable(secret: str) -> str:
    """``alphavantage`` -> ``SIGNAL9_SECRET_ALPHAVANTAGE_ARN``."""
    return f"SIGNAL9_SECRET_{_upper_snake(secret)}_ARN"


def setting_variable(setting: str) -> str:
    """A stack setting passed to a handler: ``regularPollenationBatchSize`` -> ``SIGNAL9_REGULAR_POLLENATION_BATCH_SIZE``."""
    return f"SIGNAL9_{_upper_snake(setting)}"


def require(variable: str) -> str:
    """A variable the handler cannot work without; a clear error names it."""
    value = os.environ.get(variable)
    if not value:
        raise RuntimeError(f"environment variable {variable} is not set; the deployment is miswired")
    return value


def table_name(table: str) -> str:
    return require(table_variable(table))
