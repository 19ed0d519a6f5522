"""EventBridge-to-Lambda delivery, which moto does not do.

moto matches events against a rule's real pattern, but for a Lambda target it raises
NotImplementedError. While installed, ``LambdaDeliveries`` takes over exactly that step:
an event that matched a rule is queued for each Lambda target of the rule, as EventBridge
would invoke the function; other targets (SQS, archives) still go to moto. moto stamps the
event's ``time`` in epoch seconds (and turns it into ISO-8601 only for SQS targets); the
function gets EventBridge's ``2026-11-27T20:00:01Z``, as Lambda does. moto also delivers
through a DISABLED rule, which EventBridge never does: such a rule delivers nothing here.

The smoke takes the queued deliveries itself (``Smoke.deliver``). Around the smoke, for
clients outside the emulator (``signal9 dlq replay --to-bus`` against ``local up --keep``),
the emulator's own ``LambdaDeliveries`` has a ``dispatch`` and its ``wrap`` runs what each
request queued once moto has answered it, outside moto's request lock (the function's own
AWS calls go back through the server).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule

from signal9_tools.emulator.invoke import WsgiApp

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    rule: str
    function_arn: str
    event: dict[str, Any]


def as_lambda_receives(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of moto's matched event with EventBridge's ISO-8601 ``time`` (moto keeps epoch seconds)."""
    delivered = copy.deepcopy(event)
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


@dataclass
class LambdaDeliveries:
    pending: list[Delivery] = field(default_factory=list)
    # Runs one delivery as EventBridge's asynchronous invoke would (set by the emulator; see ``wrap``).
    dispatch: Callable[[Delivery], object] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> list[Delivery]:
        with self._lock:
            taken, self.pending = self.pending, []
        return taken

    def dispatch_pending(self) -> None:
        """Once a request is answered, run the deliveries it queued (when a ``dispatch`` is set)."""
        if self.dispatch is None:
            return
        for delivery in self.take():
            try:
                self.dispatch(delivery)
            except Exception:  # PutEvents was accepted: like Lambda's, the delivery's failure is logged
                LOG.exception("delivering %s to %s failed", delivery.rule, delivery.function_arn)

    def wrap(self, app: WsgiApp) -> WsgiApp:
        """``app`` (the HTTP transport) answering as before, then the deliveries its request queued."""

        def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            answer = list(app(environ, start_response))  # moto's whole answer: its request lock is released
            self.dispatch_pending()
            return answer

        return route

    @contextmanager
    def installed(self) -> Iterator[LambdaDeliveries]:
        original = Rule.send_to_targets

        def send_to_targets(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
            if not rule.state.startswith("ENABLED") or not rule.event_pattern.matches_event(original_event):
                return
            with self._lock:
                functions = [t for t in rule.targets if t["Arn"].startswith("arn:aws:lambda:")]
                self.pending.extend(
                    Delivery(rule.name, t["Arn"], as_lambda_receives(original_event)) for t in functions
                )
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
