"""EventBridge-to-Lambda delivery, which moto does not do.

moto matches events against a rule's real pattern, but for a Lambda target it raises
NotImplementedError. While installed, ``LambdaDeliveries`` takes over exactly that step:
an event that matched a rule is queued for each Lambda target of the rule, unchanged (as
EventBridge would invoke the function); other targets (SQS, archives) still go to moto.
moto also delivers through a DISABLED rule, which EventBridge never does: such a rule
delivers nothing here.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.events.models import Rule


@dataclass(frozen=True)
class Delivery:
    rule: str
    function_arn: str
    event: dict[str, Any]


@dataclass
class LambdaDeliveries:
    pending: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[Delivery]:
        with self._lock:
            taken, self.pending = self.pending, []
        return taken

    @contextmanager
    def installed(self) -> Iterator[LambdaDeliveries]:
        original = Rule.send_to_targets

        def send_to_targets(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
            if not rule.state.startswith("ENABLED") or not rule.event_pattern.matches_event(original_event):
                return
            with self._lock:
                functions = [t for t in rule.targets if t["Arn"].startswith("arn:aws:lambda:")]
                self.pending.extend(Delivery(rule.name, t["Arn"], copy.deepcopy(original_event)) for t in functions)
                targets, rule.targets = rule.targets, [t for t in rule.targets if t not in functions]
                try:
                    original(rule, original_event, transform_input)
                finally:
                    rule.targets = targets

        Rule.send_to_targets = send_to_targets  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            Rule.send_to_targets = original  # type: ignore[method-assign]
