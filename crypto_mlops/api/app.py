"""FastAPI app: REST API of SPEC §6, dashboard at `/`, GraphQL at `/graphql`, SSE live feed.

Every route calls the in-process `CryptoService`; none calls another adapter over HTTP.
Blocking work (pandas, the model, the database) runs in sync routes, i.e. in the threadpool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, Security
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto_mlops import __version__
from crypto_mlops.api.schemas import (
    EXCHANGE_DOC,
    EXCHANGE_PATTERN,
    LIMIT_DOC,
    MAX_BODY_BYTES,
    SYMBOL_DOC,
    SYMBOL_PATTERN,
    ErrorDetail,
    MLSignalRequest,
    SignalRequest,
    Timeframe,
)
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.service import MAX_LIMIT, MIN_LIMIT, CryptoService, get_service
from crypto_mlops.service.core import MAX_CHART_POINTS
from crypto_mlops.service.feed import select_feed
from crypto_mlops.service.results import (
    ChartSeries,
    CompareResult,
    HealthResult,
    MetricsResult,
    MLSignalResult,
    ModelInfo,
    OHLCVResult,
    ReloadResult,
    SignalResult,
)
from crypto_mlops.service.telemetry import PROMETHEUS_CONTENT_TYPE

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
SSE_KEEPALIVE_S = 15.0
DISCLAIMER = "Research only. Not trading advice."

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "Input the service cannot use (unknown pair, exchange...)."},
    503: {"model": ErrorDetail, "description": "Market data or model unavailable; `detail` says why."},
}

Symbol = Annotated[str, Query(pattern=SYMBOL_PATTERN, max_length=26, description=SYMBOL_DOC)]
Exchange = Annotated[str, Query(pattern=EXCHANGE_PATTERN, description=EXCHANGE_DOC)]
Limit = Annotated[int, Query(ge=MIN_LIMIT, le=MAX_LIMIT, description=LIMIT_DOC)]
TailN = Annotated[int, Query(ge=1, le=1000, description="How many of the latest records.")]
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="settings.api_key (API_KEY).")


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


def create_app(
    service: CryptoService | None = None, *, start_service: bool = True, choose_feed: bool | None = None
) -> FastAPI:
    """The API app around `service` (default: the process-wide one).

    `choose_feed` (default: when no service is passed) picks the SSE feed at start-up: the Kafka
    `predictions` topic when the broker answers, else the in-process periodic feed (PREDICTION_FEED).
    """
    svc = service or get_service()
    pick_feed = service is None if choose_feed is None else choose_feed

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if pick_feed:
            feed = await asyncio.to_thread(select_feed, svc.prediction_event, svc.settings)
            svc.set_prediction_feed(feed)
        if start_service:
            svc.start()
        yield
        close = getattr(svc.feed, "close", None)
        if close is not None:
            close()

    app = FastAPI(
        title="crypto-mlops API",
        version=__version__,
        description=(
            "Risk and volatility signals for crypto pairs: heuristic + learned 24 h volatility forecast. "
            f"**{DISCLAIMER}**"
        ),
        lifespan=lifespan,
    )
    app.state.service = svc

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = getattr(request.scope.get("route"), "path", None) or "unmatched"
            svc.telemetry.observe_request(route, request.method, status, time.perf_counter() - started)

    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)

    @app.exception_handler(InvalidInput)
    async def invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(DataUnavailable)
    async def unavailable(_: Request, exc: DataUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    def require_api_key(key: str | None = Security(api_key_header)) -> None:
        if not key or not secrets.compare_digest(key.encode(), svc.settings.api_key.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

    # -- dashboard ----------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            _plotly_path(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # -- health / metrics ---------------------------------------------------------------------
    @app.get("/health", response_model=HealthResult, tags=["ops"])
    def health() -> HealthResult:
        return svc.health()

    @app.get("/metrics", response_model=MetricsResult, tags=["ops"])
    def metrics() -> MetricsResult:
        return svc.metrics()

    @app.get(
        "/metrics/prometheus",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition."}},
    )
    def prometheus() -> Response:
        return Response(svc.prometheus(), media_type=PROMETHEUS_CONTENT_TYPE)

    # -- market data and signals --------------------------------------------------------------
    @app.get("/v1/crypto/ohlcv", response_model=OHLCVResult, tags=["crypto"], responses=ERRORS)
    def ohlcv(
        symbol: Symbol = "BTCUSDT",
        exchange: Exchange = "binance",
        timeframe: Timeframe = "1h",
        limit: Limit = 200,
    ) -> OHLCVResult:
        return svc.ohlcv(symbol, timeframe, limit, exchange)

    @app.post("/v1/crypto/signal", response_model=SignalResult, tags=["crypto"], responses=ERRORS)
    def signal(body: SignalRequest | None = None) -> SignalResult:
        req = body or SignalRequest()
        return svc.signal(req.symbol, req.timeframe, req.limit, req.horizon_min, req.explain, req.exchange)

    @app.get("/v1/crypto/signals/tail", tags=["history"], response_model=list[dict[str, Any]], responses=ERRORS)
    def signals_tail(
        n: TailN = 5,
        symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN, max_length=26)] = None,
    ) -> list[dict[str, Any]]:
        return svc.history_tail("signals", n, symbol)

    @app.post("/v1/crypto/ml-signal", response_model=MLSignalResult, tags=["ml"], responses=ERRORS)
    def ml_signal(body: MLSignalRequest | None = None) -> MLSignalResult:
        req = body or MLSignalRequest()
        return svc.ml_signal(req.symbol, req.timeframe, req.limit, req.include_heuristic, req.exchange)

    @app.get(
        "/v1/crypto/ml-predictions/tail",
        tags=["history"],
        response_model=list[dict[str, Any]],
        responses=ERRORS,
    )
    def ml_tail(
        n: TailN = 5,
        symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN, max_length=26)] = None,
    ) -> list[dict[str, Any]]:
        return svc.history_tail("ml_predictions", n, symbol)

    @app.get("/v1/crypto/signals/compare", response_model=CompareResult, tags=["ml"], responses=ERRORS)
    def compare(
        symbol: Symbol = "BTCUSDT",
        exchange: Exchange = "binance",
        timeframe: Timeframe = "1h",
        limit: Limit = 200,
    ) -> CompareResult:
        return svc.compare(symbol, timeframe, limit, exchange)

    # -- model ----------------------------------------------------------------------------------
    @app.get("/v1/ml/model/info", response_model=ModelInfo, tags=["ml"], responses=ERRORS)
    def model_info() -> ModelInfo:
        return svc.model_info()

    @app.post(
        "/v1/ml/model/reload",
        response_model=ReloadResult,
        tags=["ml", "admin"],
        dependencies=[Depends(require_api_key)],
        responses={
            401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key."},
            503: {"model": ErrorDetail, "description": "Reload failed; the previous model keeps serving."},
        },
    )
    def reload_model() -> ReloadResult:
        result = svc.reload_model()
        if not result.success:
            raise HTTPException(status_code=503, detail=result.message)
        return result

    # -- dashboard data -------------------------------------------------------------------------
    @app.get("/v1/dashboard/chart", response_model=ChartSeries, tags=["dashboard"], responses=ERRORS)
    def chart(
        symbol: Symbol = "BTCUSDT",
        exchange: Exchange = "binance",
        timeframe: Timeframe = "1h",
        limit: Limit = 200,
        points: Annotated[int, Query(ge=1, le=MAX_CHART_POINTS, description="Forecast origins to draw.")] = 48,
    ) -> ChartSeries:
        return svc.chart(symbol, timeframe, limit, points, exchange)

    # -- live feed (server-sent events) -----------------------------------------------------------
    @app.get(
        "/v1/stream/predictions",
        tags=["stream"],
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "`event: prediction` messages (JSON data).",
            },
            **ERRORS,
        },
    )
    async def stream_predictions(
        symbols: Annotated[
            str | None, Query(max_length=300, description="Comma-separated pairs; default: DEFAULT_SYMBOL.")
        ] = None,
        max_events: Annotated[
            int | None, Query(ge=1, le=100000, description="End the stream after this many events.")
        ] = None,
    ) -> StreamingResponse:
        wanted = svc.sse_symbols(symbols)
        return StreamingResponse(
            _sse(svc, wanted, max_events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # -- GraphQL on the same app ----------------------------------------------------------------
    from crypto_mlops.gql.app import graphql_router

    app.include_router(graphql_router(svc), prefix="/graphql", include_in_schema=False)
    return app


async def _sse(svc: CryptoService, symbols: list[str], max_events: int | None) -> AsyncIterator[str]:
    """Pump the feed into a queue so that we can send keep-alives while it is quiet."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
    subscription = svc.feed.subscribe(symbols)

    async def pump() -> None:
        async for event in subscription:
            await queue.put(event)

    task = asyncio.create_task(pump())
    sent = 0
    try:
        hello = json.dumps({"feed": svc.feed.name, "symbols": symbols})
        yield f"retry: 3000\nevent: hello\ndata: {hello}\n\n"
        while max_events is None or sent < max_events:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=SSE_KEEPALIVE_S)
            except TimeoutError:
                if task.done():
                    break
                yield ": keep-alive\n\n"
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


def _plotly_path() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise HTTPException(status_code=404, detail="plotly.min.js not found in the installed plotly package")
    return path
