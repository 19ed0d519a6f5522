"""SKELETON (being implemented this session): Secrets. Registers only the component."""

from typing import Any

import pulumi


class Secrets(pulumi.ComponentResource):
    def __init__(self, name: str, *args: Any, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> None:
        super().__init__("signal9:index:Secrets", name, None, opts)
        self.register_outputs({})
