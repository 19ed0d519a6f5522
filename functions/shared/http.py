"""HTTP for the collectors: one pooled urllib3 client, a timeout on every call, every call metered.

Why urllib3 (docs/architecture.md, "HTTP client"): botocore depends on it, so it is in every
Lambda Python runtime (and in this project's lock file through boto3) and boto3 has already
imported it: no packaging for arm64, no layer, no extra cold-import time. It gives connection
pooling (keep-alive across calls and warm invocations), gzip decoding and per-call timeouts.
Retries are ours (``functions.shared.retry``), so urllib3's own are off.

Keys never leave this module in a message: AlphaVantage sends its key as a query parameter,
so errors and logs name the API, the path and the ``function`` parameter only, and urllib3's
exceptions (whose text carries the full URL) are replaced, not chained.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import urllib3
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from functions.shared.observability import metrics
from functions.shared.telemetry import NAMESPACE, SERVICE_VARIABLE, MetricName

# Sent on every call (a request's own headers replace a pool's defaults in urllib3, so merge here).
DEFAULT_HEADERS = {"Accept-Encoding": "gzip", "User-Agent": "signal9-collector"}
# Connect fast or fail; reads allow a 5 MB asset list or a 1000-article feed on a slow day.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0


class TransportError(RuntimeError):
    """No HTTP response: connection refused, DNS, TLS or a timeout. Worth retrying."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8-sig")

    def json(self) -> Any:
        return json.loads(self.body)


@cache
def pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(
        retries=False,
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        maxsize=4,
    )


def describe(api: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """``alphavantage GET /query function=OVERVIEW``: what a log line or error may say of a call."""
    function = (params or {}).get("function")
    return f"{api} GET {urlsplit(url).path or '/'}" + (f" function={function}" if function else "")


def count_external(api: str, name: MetricName, value: int = 1) -> None:
    """One metric with an ``api`` dimension (besides the function's ``service`` and ``stage``)."""
    with single_metric(
        name=name.value,
        unit=MetricUnit.Count,
        value=value,
        namespace=metrics.namespace or NAMESPACE,
        default_dimensions={
            **metrics.default_dimensions,
            "service": os.environ.get(SERVICE_VARIABLE, "unknown"),
            "api": api,
        },
    ):
        pass


def get(
    api: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Response:
    """GET ``url`` with query ``params``; any HTTP status is returned, only transport failures raise."""
    count_external(api, MetricName.EXTERNAL_CALLS)
    options: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
    try:
        raw = pool().request(
            "GET",
            url,
            fields=dict(params or {}),
            headers={**DEFAULT_HEADERS, **(headers or {})},
            redirect=False,
            **options,
        )
    except urllib3.exceptions.HTTPError as error:
        raise TransportError(f"{describe(api, url, params)}: no response ({type(error).__name__})") from None
    return Response(status=raw.status, headers=dict(raw.headers), body=raw.data)
