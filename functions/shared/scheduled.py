"""The input a schedule delivers to a scheduled handler.

EventBridge Scheduler sends the target's ``Input`` verbatim. Signal9's schedules are
expected to send an EventBridge-shaped object using Scheduler's context attributes::

    {"id": "<aws.scheduler.execution-id>", "time": "<aws.scheduler.scheduled-time>",
     "source": "aws.scheduler", "detail-type": "Scheduled Event", "resources": ["<aws.scheduler.schedule-arn>"]}

so the execution id becomes the correlation id and ``time`` is the *scheduled* time (a
retried delivery keeps it). Every field is optional: a manual ``aws lambda invoke`` with
``{}`` runs "now". Anything that is not a JSON object, or a ``time`` that is not an
ISO-8601 timestamp with offset, is rejected before any work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from functions.shared.clock import utc_now


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
