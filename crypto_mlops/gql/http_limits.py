"""HTTP-level limits shared by the API (:8800) and the standalone GraphQL server (:4000).

`BodySizeLimit` reads a request body up to the cap before the app sees it, so an oversize body is a
413 whether it came with Content-Length or chunked (frameworks turn an error raised while they read
the body into a 400). `rate_limited` is the 429 of the per-client limiter.
"""

from __future__ import annotations

import json

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto_mlops.service.ratelimit import RateLimiter, retry_after_header

DEFAULT_MAX_BODY_BYTES = 16 * 1024


class BodySizeLimit:
    """413 for request bodies over `max_bytes`, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes, send)
            return
        if declared is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to buffer (SSE keeps its receive)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client gone while sending
                return
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.max_bytes:
                await _too_large(self.max_bytes, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body (None when the client went away first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive that returns the buffered body once, then the connection's own messages (disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _too_large(max_bytes: int, send: Send) -> None:
    body = json.dumps({"detail": f"request body larger than {max_bytes} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def client_key(request: Request) -> str:
    """The caller's address (the rate limit's key)."""
    return request.client.host if request.client else "unknown"


def check_rate(limiter: RateLimiter | None, request: Request) -> None:
    """Raise 429 with Retry-After when the client has used up its heavy calls."""
    if limiter is None:
        return
    wait = limiter.acquire(client_key(request))
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"rate limit: too many heavy requests from this client; retry in {retry_after_header(wait)} s",
            headers={"Retry-After": retry_after_header(wait)},
        )
