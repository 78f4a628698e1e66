"""HTTP middleware: request counting/latency for the metrics; the body size limit lives with GraphQL's (both ports)."""

from __future__ import annotations

import json
import time
from collections import Counter
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto_mlops.gql.http_limits import BodySizeLimit

__all__ = ["BodySizeLimit", "RequestMetrics", "SingleValuedQuery"]


class RequestMetrics:
    """Counts every request by route template (not raw path), method and status, with its latency to the
    response's start (so a long SSE stream counts as answered when it starts).

    Pure ASGI: `BaseHTTPMiddleware` wraps every request in a task and a body stream, which cost about a
    third of a cached answer under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            observed = True
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            telemetry = scope["app"].state.service.telemetry
            telemetry.observe_request(route, scope["method"], status, time.perf_counter() - started)

        async def send_and_observe(message: Message) -> None:
            if message["type"] == "http.response.start" and not observed:
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            if not observed:  # the app raised before answering: the server answers 500
                observe(500)


class SingleValuedQuery:
    """422 for a query parameter given more than once: every parameter of this API is a single value, and
    the framework would silently keep the last one of `?points=5&points=x`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
            if repeated:
                name = repeated[0][:64]
                error = {
                    "loc": ["query", name],
                    "msg": f"query parameter {name!r} given more than once",
                    "type": "repeated",
                }
                body = json.dumps({"detail": [error]}).encode()  # the shape of FastAPI's own 422
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 422, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
