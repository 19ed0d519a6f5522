"""Two answers AWS Lambda gives that moto does not, restored while the emulator runs.

``signal9 verify`` reads the deployed stack the same way against AWS and against the emulator,
so the emulator must answer as AWS does where verify looks:

- **A function's dead-letter queue.** AWS keeps the ``DeadLetterConfig`` a function is created
  with and returns it from GetFunction(Configuration); moto drops it. Kept here and returned.
- **AWS's public Powertools layer.** The layer version exists in AWS (account 017000801446) and a
  function names it by that ARN; moto knows only layers published into it and refuses the
  create. Here a layer version of that account is taken as present, without content (the
  handlers run in-process with Powertools from PyPI), and answered by the ARN the function named.

Nothing else changes; every other layer is looked up by moto as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction

from signal9.deploy_policy import POWERTOOLS_LAYER_ACCOUNT

_PUBLIC_LAYER = f":{POWERTOOLS_LAYER_ACCOUNT}:layer:"


@contextmanager
def lambda_answers_as_aws() -> Iterator[None]:
    create = LambdaFunction.__init__
    configuration = LambdaFunction.get_configuration
    layers = LambdaFunction._get_layers_data

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

    def get_layers_data(self: LambdaFunction, arns: list[str]) -> list[Any]:
        known = iter(layers(self, [arn for arn in arns if _PUBLIC_LAYER not in arn]))
        return [{"Arn": arn, "CodeSize": 0} if _PUBLIC_LAYER in arn else next(known) for arn in arns]

    with (
        mock.patch.object(LambdaFunction, "__init__", init),
        mock.patch.object(LambdaFunction, "get_configuration", get_configuration),
        mock.patch.object(LambdaFunction, "_get_layers_data", get_layers_data),
    ):
        yield
