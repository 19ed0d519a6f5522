"""Signal9: the whole stack (foundation and collectors), read top to bottom like the diagram.

stack config (validated) ─┬─► StackKey (KMS) ──► every component that stores data
                          ├─► Tables ─────────────┐
                          ├─► Secrets ────────────┤
                          ├─► EventBus ───────────┤
                          ├─► FunctionLogs ───────┤
                          ├─► HandlerLayer ───────┤  (Powertools, pydantic, boto3 from uv.lock)
                          │                       ▌
                          │                 FunctionFleet (7 functions, roles, DLQs)
                          │                       │
                          ├─► Schedules ◄─────────┤  (Mon-Sat, America/New_York)
                          ├─► EventRoutes ◄───────┤  (pollenationNeeded, earningsProcessed)
                          └─► Observability ◄─────┘  (dashboard, alarms, queries)
"""

import pulumi
import pulumi_aws as aws

from components.encryption import StackKey
from components.event_bus import EventBus
from components.event_routes import EventRoutes
from components.function_fleet import FunctionFleet
from components.handler_layer import HandlerLayer
from components.observability import FunctionLogs, Observability
from components.schedules import Schedules
from components.secrets import Secrets
from components.tables import Tables
from signal9 import config
from signal9.naming import Naming

# Validate the whole stack config before registering anything.
stack_config = config.load()
naming = Naming(pulumi.get_stack())

# Common tags ride on the provider's default tags; each component adds Component=<name>.
provider = aws.Provider(
    "aws", region=aws.config.region, default_tags=aws.ProviderDefaultTagsArgs(tags=naming.common_tags())
)
defaults = pulumi.ResourceOptions(providers=[provider])

key = StackKey("encryption", naming, stack_config, opts=defaults)
tables = Tables("tables", naming, stack_config.protection, key.data_key_arn, opts=defaults)
secrets = Secrets("secrets", naming, stack_config, key.data_key_arn, opts=defaults)
event_bus = EventBus("event-bus", naming, stack_config, opts=defaults)
logs = FunctionLogs("function-logs", naming, stack_config, key.data_key_arn, opts=defaults)
handler_layer = HandlerLayer("handler-layer", naming, opts=defaults)

fleet = FunctionFleet(
    "functions",
    naming,
    stack_config,
    tables=tables,
    secrets=secrets,
    event_bus=event_bus,
    logs=logs,
    layer_arn=handler_layer.arn,
    key_arn=key.data_key_arn,
    opts=defaults,
)

schedules = Schedules("schedules", naming, stack_config, fleet, key.data_key_arn, opts=defaults)
routes = EventRoutes("event-routes", naming, event_bus, fleet, opts=defaults)
observability = Observability(
    "observability",
    naming,
    stack_config,
    tables=tables,
    fleet=fleet,
    schedules=schedules,
    routes=routes,
    topic_key_arn=key.arn,
    opts=defaults,
)

# What operators and Phase 2 need to find things; `pulumi stack output` prints these.
pulumi.export("tableNames", tables.names)
pulumi.export("tableArns", tables.arns)
pulumi.export("functionNames", fleet.names)
pulumi.export("functionArns", fleet.arns)
pulumi.export("deadLetterQueueUrls", {name: queue.url for name, queue in fleet.dead_letter_queues.items()})
pulumi.export("eventBusName", event_bus.name)
pulumi.export("secretArns", secrets.arns)
pulumi.export("alarmTopicArn", observability.topic_arn)
pulumi.export("stackKeyArn", key.arn)
pulumi.export(
    "dashboardUrl",
    pulumi.Output.concat(
        "https://console.aws.amazon.com/cloudwatch/home?region=",
        aws.get_region_output().region,
        "#dashboards:name=",
        observability.dashboard.dashboard_name,
    ),
)
