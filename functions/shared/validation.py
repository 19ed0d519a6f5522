"""Pydantic validation errors told as locations and messages only: never the values (keys, data)."""

from __future__ import annotations

from pydantic import ValidationError


def problems(error: ValidationError, limit: int | None = None) -> str:
    """``"field.path: message; ..."`` for the first ``limit`` problems (every one when None)."""
    listed = error.errors(include_url=False, include_input=False, include_context=False)
    return "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in listed[:limit])
