"""The ``assets`` rows SyncAssets and PollenateAsset both write (docs/collectors.md, "assets").

One row per pollenation, keyed ``symbol`` + ``lastPollenationDate``; only a symbol's current
row carries ``status``, so each symbol is in the sparse indexes once. A symbol SyncAssets
lists before any pollenation gets a row at :data:`NEVER_POLLENATED`.
"""

from __future__ import annotations

from boto3.dynamodb.conditions import Key

from functions.shared.dynamo import Item, query, table

KEY = ("symbol", "lastPollenationDate")
# The sort key of a never-pollenated symbol's row: before any real pollenation time.
NEVER_POLLENATED = "1970-01-01T00:00:00.000Z"
# Set by every SyncAssets write of a row's attributes (with ``status``); a delisting removes
# ``status``. Together they tell a writer whether the row changed since it was read.
SYNCED_AT = "syncedAt"


def newest_row(symbol: str) -> Item | None:
    """The symbol's newest row, strongly consistent (unlike any read of an index, which may lag)."""
    rows = query(
        table("assets"),
        limit=1,
        KeyConditionExpression=Key("symbol").eq(symbol),
        ScanIndexForward=False,
        ConsistentRead=True,
    )
    return next(rows, None)
