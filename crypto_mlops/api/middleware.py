"""HTTP middleware: request counting/latency for the metrics; the body size limit lives with GraphQL's (both ports)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from crypto_mlops.gql.http_limits import BodySizeLimit

__all__ = ["BodySizeLimit", "count_requests"]


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
