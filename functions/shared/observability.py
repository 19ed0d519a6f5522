"""Structured JSON logs and EMF metrics for every handler (Powertools for AWS Lambda).

Wrap a handler with :func:`instrumented` and use the module's ``logger`` and ``metrics``.

Tracing: functions run with active X-Ray tracing; ``tracer`` adds a subsegment per AWS SDK
call and HTTP request (which table, secret or external API was slow) and an annotation of
the invocation's correlation id. It records no responses (``capture_response=False``): they
hold collected data. Outside Lambda the Tracer disables itself.

Log contract: every line is one JSON object on stdout carrying

==================== ==================================================================
``level``            ``DEBUG`` | ``INFO`` | ``WARNING`` | ``ERROR`` | ``CRITICAL``
``location``         ``<function>:<line>`` that logged
``message``          human-readable text (``PLACEHOLDER: ...`` marks Phase 2 stubs)
``timestamp``        RFC 3339, UTC (``2026-11-02T20:00:00.123+00:00``)
``service``          the function's catalog name (``POWERTOOLS_SERVICE_NAME``)
``cold_start``       true on the first invocation of an execution environment
``function_name``    physical Lambda name, ``signal9-<stage>-<Function>``
``function_memory_size`` configured memory in MB
``function_arn``     invoked function ARN
``function_request_id`` the Lambda request id
``correlation_id``   the EventBridge event ``id`` (for schedules, the Scheduler execution
                     id Signal9 passes as ``id``); the request id when the event has none
``stage``            ``dev`` | ``staging`` | ``prod`` (``SIGNAL9_STAGE``)
``xray_trace_id``    present when X-Ray tracing is active
==================== ==================================================================

plus handler-specific keys (e.g. ``symbol``, ``reason``) and, on ERROR lines from a failed
invocation, ``exception`` and ``exception_name``. Secret values are never logged.

Metrics: namespace ``Signal9`` (``POWERTOOLS_METRICS_NAMESPACE``), dimensions ``service``
and ``stage``, written as EMF log lines (no PutMetricData call, no extra IAM). Names are
in ``functions.shared.telemetry.MetricName``; Powertools adds ``ColdStart`` (dimensions ``function_name``,
``service``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.env import STAGE
from functions.shared.telemetry import NAMESPACE, NAMESPACE_VARIABLE, SERVICE_VARIABLE, FreshnessMetric, MetricName

UNKNOWN_STAGE = "unknown"

logger = Logger(utc=True, use_rfc3339=True)
metrics = Metrics(namespace=os.environ.get(NAMESPACE_VARIABLE, NAMESPACE))
tracer = Tracer()

R = TypeVar("R")
Handler = Callable[[Any, LambdaContext], R]


def count(name: MetricName, value: int = 1) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)


def gauge(name: FreshnessMetric, value: float) -> None:
    """A freshness reading (its unit is in its name: minutes, days, or a count)."""
    metrics.add_metric(name=name.value, unit=MetricUnit.NoUnit, value=value)


def _bind_invocation(context: LambdaContext) -> None:
    """Keys Powertools does not add itself; re-read each time so one process can host several handlers."""
    service = os.environ.get(SERVICE_VARIABLE, logger.service)
    stage = os.environ.get(STAGE, UNKNOWN_STAGE)
    logger.append_keys(service=service, stage=stage)
    if logger.get_correlation_id() is None:
        logger.set_correlation_id(context.aws_request_id)
    metrics.provider.service = service
    metrics.set_default_dimensions(stage=stage)


def instrumented(handler: Handler[R]) -> Handler[R]:
    """Lambda context + correlation id in every log line, EMF metrics flushed, failures logged."""

    @functools.wraps(handler)
    def run(event: Any, context: LambdaContext) -> R:
        _bind_invocation(context)
        # Find the trace of a log line (and the reverse) by its correlation id.
        tracer.put_annotation(key="correlation_id", value=logger.get_correlation_id() or context.aws_request_id)
        try:
            return handler(event, context)
        except Exception:
            logger.exception("invocation failed")
            raise

    traced = tracer.capture_lambda_handler(run, capture_response=False)
    with_metrics = metrics.log_metrics(traced, capture_cold_start_metric=True)
    # clear_state: keys appended during one invocation (symbol, ...) must not leak into the next.
    return logger.inject_lambda_context(
        with_metrics, correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True
    )


def phase2_placeholder(work: str, **context: object) -> None:
    """Mark a Phase 2 seam that ran without collecting anything: one log line and one metric."""
    logger.info(f"PLACEHOLDER: {work} is Phase 2; nothing was collected", extra={"placeholder": True, **context})
    count(MetricName.PHASE2_PLACEHOLDER_RUNS)
