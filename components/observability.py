"""SKELETON (being implemented this session): FunctionLogs and Observability."""

from typing import Any

import pulumi


class FunctionLogs(pulumi.ComponentResource):
    def __init__(self, name: str, *args: Any, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> None:
        super().__init__("signal9:index:FunctionLogs", name, None, opts)
        self.register_outputs({})


class Observability(pulumi.ComponentResource):
    def __init__(self, name: str, *args: Any, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> None:
        super().__init__("signal9:index:Observability", name, None, opts)
        self.register_outputs({})
