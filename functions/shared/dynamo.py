"""DynamoDB helpers: paginated Query (the handlers never Scan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from functions.shared.aws import dynamodb, dynamodb_table
from functions.shared.env import table_name

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Item = dict[str, Any]


def table(name: str) -> Table:
    """The table with catalog name ``name`` (its physical name comes from the environment)."""
    return dynamodb_table(table_name(name))


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


# BatchGetItem takes at most 100 keys per request.
BATCH_GET_KEYS = 100


def existing_keys(handle: Table, keys: list[Item]) -> list[Item]:
    """Which of ``keys`` (full primary keys) exist in the table: BatchGetItem, unprocessed keys re-sent.

    Re-sending unprocessed keys at once is what the SDK's own batch helpers do; the client's
    standard retry mode already backs off throttled requests.
    """
    key_names = list(keys[0]) if keys else []
    found: list[Item] = []
    for start in range(0, len(keys), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            handle.name: {
                "Keys": keys[start : start + BATCH_GET_KEYS],
                "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(key_names))),
                "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(key_names)},
            }
        }
        while request:
            page = dynamodb().batch_get_item(RequestItems=request)
            found.extend(page["Responses"].get(handle.name, []))
            request = page.get("UnprocessedKeys") or {}
    return found
