"""The Tables component: every DynamoDB table in the catalog, one resource each."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from signal9 import catalog
from signal9.config import Protection
from signal9.naming import Naming, component_tags


def table_args(
    table: catalog.Table, naming: Naming, protection: Protection, key_arn: pulumi.Input[str] | None
) -> aws.dynamodb.TableArgs:
    """A catalog table as DynamoDB inputs: on-demand, PITR, encrypted, no TTL (kept forever).

    With ``key_arn`` the table is encrypted with the stack's customer managed key; without, with
    DynamoDB's AWS owned key (``enabled=False`` selects it; ``True`` alone would pick the AWS
    managed ``aws/dynamodb`` key, which bills KMS requests but gives no control over its policy).
    """
    return aws.dynamodb.TableArgs(
        name=naming.table(table.name),
        billing_mode="PAY_PER_REQUEST",
        hash_key=table.partition.name,
        range_key=table.sort.name,
        attributes=[aws.dynamodb.TableAttributeArgs(name=key.name, type=key.type) for key in table.attributes],
        global_secondary_indexes=[
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=index.name,
                key_schemas=[
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                        attribute_name=index.partition.name, key_type="HASH"
                    ),
                    aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                        attribute_name=index.sort.name, key_type="RANGE"
                    ),
                ],
                projection_type="ALL",
            )
            for index in table.indexes
        ],
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
            enabled=key_arn is not None, kms_key_arn=key_arn
        ),
        deletion_protection_enabled=protection.deletionProtection,
        tags=component_tags("tables"),
    )


class Tables(pulumi.ComponentResource):
    """All Signal9 tables; ``tables[name]`` is the table for a catalog table name."""

    tables: dict[str, aws.dynamodb.Table]

    def __init__(
        self,
        name: str,
        naming: Naming,
        protection: Protection,
        key_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("signal9:index:Tables", name, None, opts)
        # retain_on_delete is not inherited from a component, so it is set per table. No
        # delete_before_replace: a change that forces replacement (a key) must fail loudly on the
        # name clash rather than silently drop a table's data first.
        table_opts = pulumi.ResourceOptions(
            parent=self,
            protect=protection.retainOnDelete,
            retain_on_delete=protection.retainOnDelete,
        )
        self.tables = {
            table.name: aws.dynamodb.Table(
                f"{table.name}-table", table_args(table, naming, protection, key_arn), opts=table_opts
            )
            for table in catalog.TABLES
        }
        self.names = {name: table.name for name, table in self.tables.items()}
        self.arns = {name: table.arn for name, table in self.tables.items()}
        self.register_outputs({"names": self.names, "arns": self.arns})
