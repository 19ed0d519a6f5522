"""Answers AWS gives that moto does not, restored while the emulator runs.

``signal9 verify`` reads the deployed stack the same way against AWS and against the emulator,
so the emulator must answer as AWS does where verify looks:

- **A function's dead-letter queue.** AWS keeps the ``DeadLetterConfig`` a function is created
  with and returns it from GetFunction(Configuration); moto drops it. Kept here and returned.
- **A queue's policy.** SQS's SetQueueAttributes changes only the attributes it is given; moto
  drops the queue's ``Policy`` whenever the call does not name it. Kept here.

Nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction
from moto.sqs.models import SQSBackend


@contextmanager
def answers_as_aws() -> Iterator[None]:
    create = LambdaFunction.__init__
    configuration = LambdaFunction.get_configuration
    set_attributes = SQSBackend.set_queue_attributes

    def init(self: LambdaFunction, *args: Any, **kwargs: Any) -> None:
        spec = kwargs.get("spec", args[1] if len(args) > 1 else {})
        self.signal9_dead_letter_config = spec.get("DeadLetterConfig")  # type: ignore[attr-defined]
        create(self, *args, **kwargs)

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = configuration(self, *args, **kwargs)
        dead_letter = getattr(self, "signal9_dead_letter_config", None)
        if dead_letter and dead_letter.get("TargetArn"):
            answer["DeadLetterConfig"] = {"TargetArn": dead_letter["TargetArn"]}
        return answer

    def set_queue_attributes(self: SQSBackend, queue_name: str, attributes: dict[str, Any]) -> Any:
        kept = self.get_queue(queue_name).policy
        queue = set_attributes(self, queue_name, attributes)
        if "Policy" not in attributes:
            queue.policy = kept
        return queue

    with (
        mock.patch.object(LambdaFunction, "__init__", init),
        mock.patch.object(LambdaFunction, "get_configuration", get_configuration),
        mock.patch.object(SQSBackend, "set_queue_attributes", set_queue_attributes),
    ):
        yield
