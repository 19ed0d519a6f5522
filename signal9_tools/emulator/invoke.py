"""Lambda ``Invoke`` from outside the emulator (``signal9 dlq replay``, the AWS CLI) runs the real handler.

moto answers Invoke by starting the function in docker, and without docker it answers
``FunctionError: Handled`` with the docker error: the function never runs. The emulator
already runs handlers in-process (``Smoke.invoke``: the deployed handler with its deployed
environment); ``LambdaInvokes`` sends Lambda's Invoke route
(``POST /2015-03-31/functions/<name>/invocations``, Lambda API reference) there, outside moto's
request lock (the handler's own AWS calls go back through the server), and answers as Lambda
does: 200 with the handler's result, or 200 with ``X-Amz-Function-Error: Unhandled`` and the
``errorType``/``errorMessage`` object when it raised. An ``Event`` invocation runs at once and
answers 202 (Lambda would queue it; the emulator does not retry it into the DLQ).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

Invoker = Callable[[str, Any], Any]  # (function name or ARN, event) -> the handler's result; raises on failure
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


@dataclass
class LambdaInvokes:
    """The emulator's Invoke route: the in-process invoker once the stack is deployed, moto's before."""

    invoker: Invoker | None = None

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            match = _INVOKE_PATH.match(environ.get("PATH_INFO", ""))
            if self.invoker is None or match is None or environ.get("REQUEST_METHOD") != "POST":
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            asynchronous = environ.get("HTTP_X_AMZ_INVOCATION_TYPE") == "Event"
            status, headers, payload = self.answer(self.invoker, unquote(match["name"]), body)
            if asynchronous:
                status, payload = "202 Accepted", b""
            start_response(status, [("Content-Type", "application/json"), *headers])
            return [payload]

        return route

    @staticmethod
    def answer(invoker: Invoker, name: str, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            invalid = {"Type": "User", "message": "Could not parse request body into json"}
            return (
                "400 Bad Request",
                [("X-Amzn-ErrorType", "InvalidRequestContentException")],
                json.dumps(invalid).encode(),
            )
        try:
            result = invoker(name, event)
        except Exception as raised:  # the handler raised: Lambda reports it, the HTTP call succeeds
            error: dict[str, Any] = {"errorType": type(raised).__name__, "errorMessage": str(raised), "stackTrace": []}
            return "200 OK", [("X-Amz-Function-Error", "Unhandled")], json.dumps(error).encode()
        return "200 OK", [], json.dumps(result, default=str).encode()
