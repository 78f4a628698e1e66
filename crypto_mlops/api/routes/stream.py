"""Live feed as server-sent events: one feed subscription per client, closed when the client goes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from crypto_mlops.api.deps import ERRORS, ServiceDep
from crypto_mlops.service import CryptoService

SSE_KEEPALIVE_S = 15.0

Symbols = Annotated[str | None, Query(max_length=300, description="Comma-separated pairs; default: the PAIRS setting.")]
MaxEvents = Annotated[int | None, Query(ge=1, le=100000, description="End the stream after this many events.")]

router = APIRouter(tags=["stream"])


@router.get(
    "/v1/stream/predictions",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`event: prediction` messages (JSON data); `event: status` when the feed's source "
            'goes down or comes back (`{"feed": "kafka", "state": "down" | "up" | "stale", "reason": ...}`).',
        },
        **ERRORS,
    },
)
async def stream_predictions(
    service: ServiceDep, symbols: Symbols = None, max_events: MaxEvents = None
) -> StreamingResponse:
    wanted = service.sse_symbols(symbols)
    return StreamingResponse(
        _sse(service, wanted, max_events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(service: CryptoService, symbols: list[str], max_events: int | None) -> AsyncIterator[str]:
    """Pump the feed into a queue so that we can send keep-alives while it is quiet."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
    subscription = service.feed.subscribe(symbols)

    async def pump() -> None:
        async for event in subscription:
            await queue.put(event)

    task = asyncio.create_task(pump())
    sent = 0
    try:
        hello = json.dumps({"feed": service.feed.name, "symbols": symbols})
        yield f"retry: 3000\nevent: hello\ndata: {hello}\n\n"
        while max_events is None or sent < max_events:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=SSE_KEEPALIVE_S)
            except TimeoutError:
                if task.done():
                    break
                yield ": keep-alive\n\n"
                continue
            if event.get("event") == "status":  # the feed's source went down / came back: not a prediction
                status = {k: v for k, v in event.items() if k != "event"}
                yield f"event: status\ndata: {json.dumps(status, default=str)}\n\n"
                continue
            sent += 1
            yield f"event: prediction\ndata: {json.dumps(event, default=str)}\n\n"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        aclose = getattr(subscription, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
