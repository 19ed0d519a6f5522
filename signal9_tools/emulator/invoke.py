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
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

Invoker = Callable[[str, Any], Any]  # (function name or ARN, event) -> the handler's result; raises on failure
Answer = tuple[int, dict[str, str], bytes]  # status, headers, body
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


@dataclass
class LambdaInvokes:
    """The emulator's Invoke route: the in-process invoker once the stack is deployed, moto's before."""

    invoker: Invoker | None = None

    def route(self, method: str, path: str, invocation_type: str | None, body: bytes) -> Answer | None:
        """Lambda's answer to an Invoke request, or None for any other request (moto answers it)."""
        match = _INVOKE_PATH.match(path)
        if self.invoker is None or match is None or method != "POST":
            return None
        status, headers, payload = self.answer(self.invoker, unquote(match["name"]), body)
        if invocation_type == "Event":
            status, payload = 202, b""
        return status, {"Content-Type": "application/json", **headers}, payload

    def wrap(self, app: WsgiApp) -> WsgiApp:
        """``app`` (the HTTP transport) with Lambda's Invoke route in front."""

        def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
            if self.invoker is None or method != "POST" or not _INVOKE_PATH.match(path):
                return app(environ, start_response)  # moto reads the body
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            answer = self.route(method, path, environ.get("HTTP_X_AMZ_INVOCATION_TYPE"), body)
            assert answer is not None  # an Invoke request, with an invoker
            status, headers, payload = answer
            start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
            return [payload]

        return route

    @staticmethod
    def answer(invoker: Invoker, name: str, body: bytes) -> Answer:
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            invalid = {"Type": "User", "message": "Could not parse request body into json"}
            return 400, {"X-Amzn-ErrorType": "InvalidRequestContentException"}, json.dumps(invalid).encode()
        try:
            result = invoker(name, event)
        except Exception as raised:  # the handler raised: Lambda reports it, the HTTP call succeeds
            error: dict[str, Any] = {"errorType": type(raised).__name__, "errorMessage": str(raised), "stackTrace": []}
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(error).encode()
        return 200, {}, json.dumps(result, default=str).encode()
