"""The error every model-side check raises for something an operator supplied (a stack file, a config value).

The CLI (``signal9_tools.operator_messages``) prints its message as one line and exits 2.
"""

from __future__ import annotations


class OperatorError(Exception):
    """A problem in what the operator supplied; the message says what and how to fix it."""
