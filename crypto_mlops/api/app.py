"""FastAPI app: REST API of SPEC §6, dashboard at `/`, GraphQL at `/graphql`, SSE live feed.

Every route calls the in-process `CryptoService` (see `api.routes`); none calls another adapter over
HTTP. Blocking work (pandas, the model, the database) runs in sync routes, i.e. in the threadpool.
This module only wires settings, middleware, error handlers, routers and the GraphQL mount.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles

from crypto_mlops import __version__
from crypto_mlops.api.errors import invalid_input, invalid_request, unavailable
from crypto_mlops.api.fast import FastLane
from crypto_mlops.api.middleware import BodySizeLimit, RequestMetrics, SingleValuedQuery
from crypto_mlops.api.routes import ROUTERS
from crypto_mlops.api.routes.dashboard import STATIC_DIR
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.gql.app import graphql_router, rate_limiter_for
from crypto_mlops.gql.lane import GraphQLLane
from crypto_mlops.service import CryptoService, get_service
from crypto_mlops.service.feed import select_feed

DISCLAIMER = "Research only. Not trading advice."


def create_app(
    service: CryptoService | None = None, *, start_service: bool = True, choose_feed: bool | None = None
) -> FastAPI:
    """The API app around `service` (default: the process-wide one).

    `choose_feed` (default: when no service is passed) picks the SSE feed at start-up: the Kafka
    `predictions` topic when the broker answers, else the in-process periodic feed (PREDICTION_FEED).
    """
    svc = service or get_service()
    pick_feed = service is None if choose_feed is None else choose_feed
    app = FastAPI(
        title="crypto-mlops API",
        version=__version__,
        description=(
            "Risk and volatility signals for crypto pairs: heuristic + learned 24 h volatility forecast. "
            f"**{DISCLAIMER}**"
        ),
        lifespan=_lifespan(svc, pick_feed=pick_feed, start_service=start_service),
    )
    app.state.service = svc
    # One per-client budget for the heavy REST routes and GraphQL (api.deps.heavy_call).
    app.state.rate_limiter = rate_limiter_for(svc)
    app.add_middleware(SingleValuedQuery)
    app.add_middleware(RequestMetrics)
    app.add_middleware(BodySizeLimit, max_bytes=svc.settings.max_body_bytes)
    gql = graphql_router(svc, app.state.rate_limiter)
    app.add_middleware(GraphQLLane, schema=gql.schema, service=svc, limiter=app.state.rate_limiter, observe=True)
    app.add_middleware(FastLane, api=app)  # outermost: repeated signal requests skip the stack (api.fast)
    app.exception_handler(InvalidInput)(invalid_input)
    app.exception_handler(DataUnavailable)(unavailable)
    app.exception_handler(RequestValidationError)(invalid_request)

    for router in ROUTERS:
        app.include_router(router)
    # After the dashboard router, so that its /static/vendor/plotly.min.js route wins over the mount.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.include_router(gql, prefix="/graphql", include_in_schema=False)
    return app


def _lifespan(
    svc: CryptoService, *, pick_feed: bool, start_service: bool
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if pick_feed:
            feed = await asyncio.to_thread(select_feed, svc.prediction_event, svc.settings)
            svc.set_prediction_feed(feed)
        if start_service:
            svc.start()
        yield
        svc.feed.close()

    return lifespan
