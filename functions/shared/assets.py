"""The ``assets`` rows SyncAssets and PollenateAsset both write (docs/collectors.md, "assets").

One row per pollenation, keyed ``symbol`` + ``lastPollenationDate``; only a symbol's current
row carries ``status``, so each symbol is in the sparse indexes once. A symbol SyncAssets
lists before any pollenation gets a row at :data:`NEVER_POLLENATED`.
"""

KEY = ("symbol", "lastPollenationDate")
# The sort key of a never-pollenated symbol's row: before any real pollenation time.
NEVER_POLLENATED = "1970-01-01T00:00:00.000Z"
# Set by every SyncAssets write of a row's attributes (with ``status``); a delisting removes
# ``status``. Together they tell a writer whether the row changed since it was read.
SYNCED_AT = "syncedAt"
