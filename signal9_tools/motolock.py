"""moto for threaded handlers: one request at a time.

:func:`serialized_moto`: one request at a time, as moto's DynamoDB backend is not thread-safe.

SyncAssets writes from a small thread pool (real DynamoDB serves concurrent requests). moto's
in-memory tables are plain dicts: a Query iterating a table while another thread's PutItem
adds a partition raises ``RuntimeError: dictionary changed size during iteration``. Both of
moto's modes (in-process ``mock_aws`` and the threaded server ``signal9 local`` runs) answer
every request through ``BaseResponse._dispatch``; :func:`serialized_moto` wraps it in one
lock, so the handler's threads still interleave between calls, as against AWS, while each
emulated call runs alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.core.responses import BaseResponse

_LOCK = threading.RLock()


@contextmanager
def serialized_moto() -> Iterator[None]:
    original = BaseResponse._dispatch

    def dispatch(self: BaseResponse, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return original(self, *args, **kwargs)

    with mock.patch.object(BaseResponse, "_dispatch", dispatch):
        yield
