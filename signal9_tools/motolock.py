"""moto for threaded handlers and for benchmarks at catalog scale.

:func:`serialized_moto`: one request at a time, as moto's DynamoDB backend is not thread-safe.

SyncAssets writes from a small thread pool (real DynamoDB serves concurrent requests). moto's
in-memory tables are plain dicts: a Query iterating a table while another thread's PutItem
adds a partition raises ``RuntimeError: dictionary changed size during iteration``. Both of
moto's modes (in-process ``mock_aws`` and the threaded server ``signal9 local`` runs) answer
every request through ``BaseResponse._dispatch``; :func:`serialized_moto` wraps it in one
lock, so the handler's threads still interleave between calls, as against AWS, while each
emulated call runs alone.

:func:`partition_queries`: moto answers a base-table Query by sorting every item of the
table and filtering for the partition (O(n log n) per call), where DynamoDB reads one
partition. SyncAssets' first run reads back each of ~11,500 new symbols, which moto then
takes tens of minutes for. Inside this context a base-table Query starts from the
partition's own items; moto's filtering, sorting and paging run unchanged on them. Used by
the benchmarks only, so the tests exercise moto as shipped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.core.responses import BaseResponse
from moto.dynamodb.models.table import Table

_LOCK = threading.RLock()


@contextmanager
def serialized_moto() -> Iterator[None]:
    original = BaseResponse._dispatch

    def dispatch(self: BaseResponse, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(self, *args, **kwargs)

    with mock.patch.object(BaseResponse, "_dispatch", dispatch):
        yield


@contextmanager
def partition_queries() -> Iterator[None]:
    original = Table.query

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or not self.range_key_attr or hash_key not in self.items:
            return original(self, hash_key, *args, **kwargs)
        partition = list(self.items[hash_key].values())
        self.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    with mock.patch.object(Table, "query", query):
        yield
