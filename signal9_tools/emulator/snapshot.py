"""One real deploy kept and restored into later emulators of the same stack, instead of deploying again.

A deploy into the emulator costs a second or two (about 150 resources, the 24 MB layer encoded and
decoded on the way), and the test suite deploys the dev stack as it is shipped in several files.
:class:`DeploySnapshot` keeps what the first such deploy of a process left: moto's state (every
service's backends, deep-copied) and the :class:`Deployment` record (the plan, what was created,
the deploy policy's and the request constraints' verdicts on its calls). A later run given the same
snapshot starts from copies of both, so each run still has an account of its own to change.

For runs of the shipped program only: the snapshot checks the stack and its config values, but
cannot see a program changed in-process (a monkeypatched component), so runs that change the
program deploy for real.
"""

from __future__ import annotations

import copy
import copyreg
import threading
import weakref
from collections.abc import Mapping
from typing import Any
from unittest import mock

from moto.core.base_backend import BackendDict

from signal9_tools.emulator.provisioner import Deployment

Key = tuple[str, tuple[tuple[str, str], ...]]
# What each kind of lock copies as: a new one, released (a condition with its own new lock).
NEW_LOCKS: dict[type, Any] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
    threading.Condition: threading.Condition,
}


class DeploySnapshot:
    """A deploy of one stack and config, kept once (:meth:`capture`) and handed out as copies (:meth:`restore`)."""

    def __init__(self) -> None:
        self._key: Key | None = None
        self._saved: tuple[list[tuple[BackendDict[Any], dict[str, Any]]], Deployment] | None = None

    def restore(self, stack: str, values: Mapping[str, str]) -> Deployment:
        """Put a copy of the kept deploy into the running emulator and return its record."""
        if self._saved is None:
            raise ValueError("this snapshot holds no deploy yet: deploy, then capture")
        if _key(stack, values) != self._key:
            what = "with other config values" if stack == self.kept_stack else f"not of {stack!r}"
            raise ValueError(f"this snapshot holds a deploy of {self.kept_stack!r} {what}")
        backends, deployment = _copied(self._saved, [backend for backend, _ in self._saved[0]])
        for backend, accounts in backends:
            dict.update(backend, accounts)
            if backend not in _in_use():
                _in_use().append(backend)  # as moto records a container it filled (mock_aws resets these)
        assert isinstance(deployment, Deployment)
        return deployment

    def capture(self, stack: str, values: Mapping[str, str], deployment: Deployment) -> None:
        """Keep a copy of the emulator's state right after ``deployment`` (its record too)."""
        in_use = list(_in_use())
        self._saved = _copied(([(backend, dict(backend)) for backend in in_use], deployment), in_use)
        self._key = _key(stack, values)

    def share(self, other: DeploySnapshot) -> None:
        """Hold the deploy ``other`` holds, unless this snapshot holds one already.

        Both then hand out copies of the same kept state: a run restored from either changes its own copy.
        """
        if self._saved is None:
            self._key, self._saved = other._key, other._saved

    @property
    def kept_stack(self) -> str | None:
        """The stack whose deploy is kept; None while none is."""
        return None if self._key is None else self._key[0]


def _in_use() -> list[BackendDict[Any]]:
    """moto's record of the per-service containers that hold state."""
    return BackendDict._instances  # type: ignore[misc]


def _key(stack: str, values: Mapping[str, str]) -> Key:
    return stack, tuple(sorted(values.items()))


def _copied(value: Any, backends: list[BackendDict[Any]]) -> Any:
    """``value`` deep-copied in one pass (what refers to one object still does), moto's per-service
    containers kept as they are (they are module-level: the copy fills them)."""
    with (
        # A lock or condition copies as a new, released one: each moto SQS queue holds a condition,
        # and copied member by member the copy's methods would still be the original lock's.
        mock.patch.dict(copyreg.dispatch_table, dict.fromkeys(NEW_LOCKS, _new_lock)),
        mock.patch.object(weakref.WeakValueDictionary, "__deepcopy__", _weak_values_copied),
    ):
        return copy.deepcopy(value, {id(backend): backend for backend in backends})


def _weak_values_copied(weak: weakref.WeakValueDictionary[Any, Any], memo: dict[int, Any]) -> Any:
    """A weak-valued dict whose values are the copies. Python's own copy keeps the originals, so once
    they are collected the copy's entries vanish: moto's Lambda finds functions by ARN through one."""
    copied: weakref.WeakValueDictionary[Any, Any] = weakref.WeakValueDictionary()
    for key, value in list(weak.items()):
        copied[copy.deepcopy(key, memo)] = copy.deepcopy(value, memo)
    return copied


def _new_lock(lock: Any) -> tuple[Any, tuple[()]]:
    return NEW_LOCKS[type(lock)], ()
