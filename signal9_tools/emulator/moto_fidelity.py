"""An answer AWS Lambda gives that moto does not, restored while the emulator runs.

``signal9 verify`` reads the deployed stack the same way against AWS and against the emulator,
so the emulator must answer as AWS does where verify looks: AWS keeps the ``DeadLetterConfig`` a
function is created with and returns it from GetFunction(Configuration); moto drops it. Kept here
and returned. Nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction


@contextmanager
def lambda_answers_as_aws() -> Iterator[None]:
    create = LambdaFunction.__init__
    configuration = LambdaFunction.get_configuration

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

    with (
        mock.patch.object(LambdaFunction, "__init__", init),
        mock.patch.object(LambdaFunction, "get_configuration", get_configuration),
    ):
        yield
