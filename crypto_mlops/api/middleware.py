"""HTTP middleware: request counting/latency for the metrics, and the request body size limit."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto_mlops.api.schemas import MAX_BODY_BYTES


async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Every request is counted by route template (not raw path), method and status, with its latency."""
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        route = getattr(request.scope.get("route"), "path", None) or "unmatched"
        request.app.state.service.telemetry.observe_request(
            route, request.method, status, time.perf_counter() - started
        )


class BodySizeLimit:
    """413 for request bodies over `max_bytes`, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(self.max_bytes, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(max_bytes: int, send: Send) -> None:
    body = json.dumps({"detail": f"request body larger than {max_bytes} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
