"""The HandlerLayer component: the one Lambda layer every function runs with.

It holds what the handlers import from outside ``functions/`` (Powertools for AWS Lambda, pydantic,
boto3/botocore and what they need) at exactly the versions uv.lock pins, built by ``make layer``
(``signal9_tools.layer``) for the declared runtime (``signal9.runtime``). The tests and the local
emulator run the handlers on the same locked versions, so what Lambda runs is what was tested;
AWS's public Powertools layer is not used (its pydantic and the runtime's own boto3 are versions no
test ran). A layer version is immutable: a new lock gives a new archive, ``pulumi up`` publishes
a new version and repoints the functions, then deletes the old version (functions keep running).
"""

from __future__ import annotations

import os

import pulumi
import pulumi_aws as aws

from signal9 import runtime
from signal9.naming import Naming


class HandlerLayer(pulumi.ComponentResource):
    """The handlers' layer version; ``arn`` is what each function lists in ``layers``."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, naming: Naming, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("signal9:index:HandlerLayer", name, None, opts)
        declared = runtime.declared()
        try:
            built = runtime.built_layer()
        except runtime.LayerNotBuiltError as error:
            raise pulumi.RunError(str(error)) from None
        pinned = ", ".join(f"{package} {built.packages[package]}" for package in runtime.layer_requirements())
        self.layer = aws.lambda_.LayerVersion(
            "handler-layer-version",
            layer_name=naming.handler_layer,
            description=f"Signal9 handlers' packages from uv.lock: {pinned}",
            compatible_runtimes=[declared.runtime],
            compatible_architectures=[declared.architecture],
            # Relative to the project, as the functions' archives are (components.packaging).
            code=pulumi.FileArchive(os.path.relpath(built.archive)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.layer.arn
        self.register_outputs({"layerArn": self.arn})
