"""The handler test files' shared moto account (fixtures.file_account): every test starts from empty tables.

The tests run in file order (one worker takes the whole file): the first leaves a row in every
table, the second fails if any is still there; the last changes a table itself.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from signal9 import catalog
from tests.fixtures import emptied


def test_a_test_leaves_a_row_in_every_table(shared_tables: dict[str, str]) -> None:
    dynamodb = boto3.client("dynamodb")
    for table in catalog.TABLES:
        item: dict[str, Any] = {key.name: {key.type: "1"} for key in (table.partition, table.sort)}
        dynamodb.put_item(TableName=shared_tables[table.name], Item=item)
        assert dynamodb.scan(TableName=shared_tables[table.name])["Count"] == 1


def test_the_next_test_in_the_file_finds_every_table_empty(shared_tables: dict[str, str]) -> None:
    dynamodb = boto3.client("dynamodb")
    left = {name: dynamodb.scan(TableName=physical)["Count"] for name, physical in shared_tables.items()}
    assert left == dict.fromkeys(catalog.TABLE_NAMES, 0)


def test_a_test_that_deletes_a_table_fails_the_next_one(shared_tables: dict[str, str]) -> None:
    """Last in the file: the account is left without the table."""
    boto3.client("dynamodb").delete_table(TableName=shared_tables["earnings"])
    with pytest.raises(AssertionError, match="a test changed the file's tables"):
        emptied(shared_tables)  # what the next test's shared_tables does first
