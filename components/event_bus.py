"""SKELETON (being implemented this session): EventBus. Registers only the component."""

from typing import Any

import pulumi


class EventBus(pulumi.ComponentResource):
    def __init__(self, name: str, *args: Any, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> None:
        super().__init__("signal9:index:EventBus", name, None, opts)
        self.register_outputs({})
