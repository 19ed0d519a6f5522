"""moto's DynamoDB item responses encoded straight to JSON, the same document moto's serializer makes.

moto 5.2 encodes every response by walking the operation's output shape and probing each
attribute of each item through several alias lookups. For the item operations (Query, Scan,
GetItem, ...) moto's handler already returns the wire document (``DynamoResult`` has turned
every ``DynamoType`` into its ``{"S": ...}`` form), so that walk only re-derives the same
JSON; for a page of a few hundred items it costs more than the operation itself (two thirds of
the SyncAssets and SyncNewsSentiment tests' time, a tenth of ``signal9 local up``'s smoke).

Inside :func:`direct_item_responses` those operations' results are written with
``json.dumps``. Nothing else changes: moto still parses, validates and executes every request
and encodes every other operation (and every error) itself. ``checked=True`` encodes each
item response both ways and raises :class:`EncodingMismatchError` unless the two JSON documents
and status codes are equal (tests/test_moto_item_responses.py runs real workloads that way).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.dynamodb.responses import DynamoResult

# Operations whose result is only items, keys, counts and consumed capacity. Table
# descriptions (timestamps, enums) stay with moto's serializer, and so does any result that
# is not plain JSON (binary attributes, which moto base64-encodes).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"


class EncodingMismatchError(AssertionError):
    """The direct encoding differs from moto's own: the shortcut is not safe for this response."""


@contextmanager
def direct_item_responses(*, checked: bool = False) -> Iterator[None]:
    moto_encoding = DynamoResult.execute_result

    def execute_result(self: ActionResult, context: ActionContext) -> Any:
        output = context.operation_model.output_shape
        result = self.result
        if context.operation_model.name not in ITEM_OPERATIONS or output is None or not isinstance(result, dict):
            return moto_encoding(self, context)
        # Only the output shape's members, as moto's serializer writes (moto's DeleteItem adds a
        # legacy ConsumedCapacityUnits, for one).
        document = {key: value for key, value in result.items() if key in output.members and value is not None}
        try:
            direct = (200, {"Content-Type": JSON_CONTENT_TYPE}, json.dumps(document))
        except TypeError:  # a value JSON cannot hold as is (binary attributes): moto base64-encodes it
            return moto_encoding(self, context)
        if checked:
            status, _headers, body = moto_encoding(self, context)
            expected, got = json.loads(body), json.loads(direct[2])
            if (status, expected) != (direct[0], got):
                differing = sorted(k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k))
                raise EncodingMismatchError(
                    f"{context.operation_model.name}: moto encodes {status}, the shortcut {direct[0]}; "
                    f"they differ in {differing}: moto {json.dumps({k: expected.get(k) for k in differing})[:400]}, "
                    f"the shortcut {json.dumps({k: got.get(k) for k in differing})[:400]}"
                )
        return direct

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoResult.execute_result = moto_encoding  # type: ignore[method-assign]
