"""The input a schedule delivers to a scheduled handler.

EventBridge Scheduler sends the target's ``Input`` verbatim, replacing its context
attributes. Signal9's schedules send :data:`SCHEDULER_INPUT` (``scheduler_input_json()``
is the target ``input``): an EventBridge-shaped object, so the execution id becomes the
correlation id (``correlation_paths.EVENT_BRIDGE`` reads ``id``) and ``time`` is the
*scheduled* time, which a retried delivery keeps. Every field is optional: a manual ``aws lambda invoke`` with
``{}`` runs "now". Anything that is not a JSON object, or a ``time`` that is not an
ISO-8601 timestamp with offset, is rejected before any work.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from functions.shared.clock import utc_now

# https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
SCHEDULER_INPUT: dict[str, Any] = {
    "id": "<aws.scheduler.execution-id>",
    "time": "<aws.scheduler.scheduled-time>",
    "source": "aws.scheduler",
    "detail-type": "Scheduled Event",
    "resources": ["<aws.scheduler.schedule-arn>"],
    "attempt": "<aws.scheduler.attempt-number>",
}


def scheduler_input_json() -> str:
    """The schedule target's ``input``: :data:`SCHEDULER_INPUT` as compact JSON."""
    return json.dumps(SCHEDULER_INPUT, separators=(",", ":"))


def delivered_input(
    target_input: str, *, execution_id: str, scheduled_time: str, schedule_arn: str, attempt: int
) -> Any:
    """What Scheduler delivers for ``target_input``: its context attributes filled in (tests, emulator)."""
    for attribute, value in {
        "<aws.scheduler.execution-id>": execution_id,
        "<aws.scheduler.scheduled-time>": scheduled_time,
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.attempt-number>": str(attempt),
    }.items():
        target_input = target_input.replace(attribute, value)
    return json.loads(target_input)


class ScheduledInvocation(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    time: AwareDatetime | None = None

    @classmethod
    def parse(cls, event: Any) -> ScheduledInvocation:
        return cls.model_validate(event)

    def moment(self) -> datetime:
        """The scheduled time if the schedule passed one, else now (UTC)."""
        return self.time or utc_now()
