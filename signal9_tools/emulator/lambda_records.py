"""What Lambda records around an invocation, written into moto for the emulator's in-process invokes.

moto runs no handler here (the emulator invokes them in-process), so nothing would record that
a function ran. Real Lambda, for a function with the JSON log format (components/function_fleet.py),
writes to the function's log group the handler's lines and a ``platform.report`` record whose
``record.status`` is ``success`` or ``error``; publishes ``AWS/Lambda`` ``Invocations`` and
``Errors`` per ``FunctionName``; and CloudWatch turns the handler's EMF lines (``_aws``) into
metrics. This module does the same against moto, so what reads those records (``signal9
status``, the dashboards' metrics) sees the emulator's runs as it would see Lambda's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

LOG_STREAM = "emulator/[$LATEST]local"
PUT_METRIC_DATA_LIMIT = 1000  # metrics per PutMetricData call


def _report_line(request_id: str, started: datetime, ended: datetime, failed: bool) -> str:
    return json.dumps(
        {
            "time": ended.isoformat(),
            "type": "platform.report",
            "record": {
                "requestId": request_id,
                "status": "error" if failed else "success",
                "metrics": {"durationMs": round((ended - started).total_seconds() * 1000, 3)},
            },
        }
    )


def _emf_metrics(line: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The namespace and PutMetricData entries of one EMF line (None when the line is not EMF)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    meta = record.get("_aws") if isinstance(record, dict) else None
    if not isinstance(meta, dict):
        return None
    entries: list[dict[str, Any]] = []
    namespace = ""
    for directive in meta.get("CloudWatchMetrics", []):
        namespace = directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            dimensions = [{"Name": name, "Value": str(record[name])} for name in dimension_set]
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                for single in value if isinstance(value, list) else [value]:
                    entries.append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": dimensions,
                            "Value": float(single),
                            "Unit": "Count",
                        }
                    )
    return (namespace, entries) if entries else None


def record_invocation(
    logs: Any,
    cloudwatch: Any,
    function_name: str,
    request_id: str,
    lines: list[str],
    started: datetime,
    failed: bool,
    *,
    ended: datetime,
) -> None:
    """Write one invocation's log lines, report record and metrics as Lambda and CloudWatch would, at ``ended``."""
    stamp = int(ended.timestamp() * 1000)
    events = [{"timestamp": stamp, "message": line} for line in lines]
    events.append({"timestamp": stamp, "message": _report_line(request_id, started, ended, failed)})
    _put_log_events(logs, f"/aws/lambda/{function_name}", events)
    dimensions = [{"Name": "FunctionName", "Value": function_name}]
    by_namespace: dict[str, list[dict[str, Any]]] = {
        "AWS/Lambda": [{"MetricName": "Invocations", "Dimensions": dimensions, "Value": 1.0}]
    }
    if failed:
        by_namespace["AWS/Lambda"].append({"MetricName": "Errors", "Dimensions": dimensions, "Value": 1.0})
    for line in lines:
        if emf := _emf_metrics(line):
            namespace, entries = emf
            by_namespace.setdefault(namespace, []).extend(entries)
    for namespace, entries in by_namespace.items():
        for first in range(0, len(entries), PUT_METRIC_DATA_LIMIT):
            batch = entries[first : first + PUT_METRIC_DATA_LIMIT]
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=[{**e, "Timestamp": ended} for e in batch])


def _put_log_events(logs: Any, group: str, events: list[dict[str, Any]]) -> None:
    """Append to the emulator's stream, creating it on first use; nothing when the group does not exist."""
    try:
        logs.put_log_events(logGroupName=group, logStreamName=LOG_STREAM, logEvents=events)
        return
    except logs.exceptions.ResourceNotFoundException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=LOG_STREAM)
    except logs.exceptions.ResourceNotFoundException:
        return  # no log group deployed: Lambda's lines would go nowhere the stack keeps
    logs.put_log_events(logGroupName=group, logStreamName=LOG_STREAM, logEvents=events)
