"""Signal9 Phase 1: the infrastructure foundation, read top to bottom like the diagram.

  config ─► Tables
         ─► FunctionFleet (7 Lambda functions, roles, DLQs)
"""

import pulumi
import pulumi_aws as aws

from components.tables import Tables
from signal9 import config
from signal9.naming import Naming

# Validate the whole stack config before registering anything.
stack_config = config.load()
naming = Naming(pulumi.get_stack())

# Common tags ride on the provider's default tags; each component adds Component=<name>.
provider = aws.Provider("aws", region=aws.config.region, default_tags=aws.ProviderDefaultTagsArgs(tags=naming.common_tags()))
defaults = pulumi.ResourceOptions(providers=[provider])

tables = Tables("tables", naming, stack_config.protection, opts=defaults)

pulumi.export("tableNames", tables.names)
pulumi.export("tableArns", tables.arns)
