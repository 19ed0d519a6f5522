"""DynamoDB helpers: paginated Query (the handlers never Scan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from functions.shared.aws import dynamodb
from functions.shared.env import table_name

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Item = dict[str, Any]


def table(name: str) -> Table:
    """The table with catalog name ``name`` (its physical name comes from the environment)."""
    return dynamodb().Table(table_name(name))


def query(handle: Table, *, limit: int | None = None, **request: Any) -> Iterator[Item]:
    """Every item ``Query`` returns, following ``LastEvaluatedKey``; at most ``limit`` items."""
    returned = 0
    while limit is None or returned < limit:
        page_request = dict(request) if limit is None else {**request, "Limit": limit - returned}
        page = handle.query(**page_request)
        for item in page["Items"]:
            returned += 1
            yield item
        if "LastEvaluatedKey" not in page:
            return
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}
