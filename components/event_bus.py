"""The EventBus component: the stack's custom bus ``signal9-<stack>`` and its replay archive.

Producers (the trigger functions, PollenateAsset) put events here; FunctionFleet grants them
``events:PutEvents`` on ``arn`` only and passes ``name`` in their environment. EventRoutes
adds the rules. Every event is archived so a consumer bug can be fixed and the affected
events replayed (``aws events start-replay``) within the archive's retention.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.delivery import aws_name
from signal9.config import StackConfig
from signal9.naming import Naming, component_tags

# AWS limits: bus names up to 256 characters, archive names up to 48.
BUS_NAME_LIMIT = 256
ARCHIVE_NAME_LIMIT = 48


def archive_name(naming: Naming) -> str:
    return aws_name("event archive", f"{naming.event_bus}-archive", ARCHIVE_NAME_LIMIT)


class EventBus(pulumi.ComponentResource):
    """The custom event bus and an archive of everything sent to it."""

    bus: aws.cloudwatch.EventBus
    archive: aws.cloudwatch.EventArchive
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        naming: Naming,
        stack_config: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:EventBus", name, None, opts)
        self.bus = aws.cloudwatch.EventBus(
            "signal9-event-bus",
            name=aws_name("event bus", naming.event_bus, BUS_NAME_LIMIT),
            description=f"Signal9 {naming.stack}: pollenationNeeded and earningsProcessed events",
            tags=component_tags("event-bus"),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.archive = aws.cloudwatch.EventArchive(
            "signal9-event-archive",
            name=archive_name(naming),
            description=f"Signal9 {naming.stack}: every event on {naming.event_bus}, for replay after a fix",
            event_source_arn=self.bus.arn,
            # No event_pattern: archive everything on the bus. 0 would keep events forever.
            retention_days=stack_config.eventArchiveRetentionDays,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.name = self.bus.name
        self.arn = self.bus.arn
        self.register_outputs({"name": self.name, "arn": self.arn, "archiveName": self.archive.name})
