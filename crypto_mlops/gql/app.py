"""GraphQL router (mounted by the API at /graphql) and the standalone app served on GRAPHQL_PORT."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from pydantic_core import to_json
from strawberry.fastapi import GraphQLRouter

from crypto_mlops import __version__
from crypto_mlops.gql.calls import CallRunner
from crypto_mlops.gql.http_limits import BodySizeLimit
from crypto_mlops.gql.lane import GraphQLLane
from crypto_mlops.gql.limits import GraphQLLimits
from crypto_mlops.gql.schema import build_schema, context_for
from crypto_mlops.service import CryptoService, get_service
from crypto_mlops.service.ratelimit import RateLimiter


def rate_limiter_for(service: CryptoService) -> RateLimiter:
    """The per-client limiter of the heavy calls, from RATE_LIMIT_PER_MIN / RATE_LIMIT_BURST."""
    return RateLimiter(service.settings.rate_limit_per_min, service.settings.rate_limit_burst)


class CryptoGraphQLRouter(GraphQLRouter[Any, Any]):
    """Responses encoded by pydantic-core (Rust) instead of the standard library's `json.dumps`."""

    def encode_json(self, data: object) -> bytes:
        return to_json(data)


def graphql_router(service: CryptoService, limiter: RateLimiter | None = None) -> GraphQLRouter[Any, Any]:
    """The GraphQL endpoint: document limits from the settings, resolvers on their own few threads.

    Each operation draws one call per market service call from `limiter` (shared with the REST heavy
    routes on the API); see `gql.ratelimit`.
    """
    runner = CallRunner(service.settings.graphql_workers)

    async def context_getter() -> dict[str, Any]:
        return context_for(service, runner, limiter)

    schema = build_schema(GraphQLLimits.from_settings(service.settings))
    return CryptoGraphQLRouter(schema, context_getter=context_getter, graphql_ide="graphiql")


def create_graphql_app(service: CryptoService | None = None, *, start_service: bool = True) -> FastAPI:
    """Standalone GraphQL server (same schema and service layer as the API's /graphql)."""
    svc = service or get_service()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_service:
            svc.start()
        yield

    app = FastAPI(title="crypto-mlops GraphQL", version=__version__, lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=svc.settings.max_body_bytes)  # the API's cap, on this port too
    limiter = rate_limiter_for(svc)
    router = graphql_router(svc, limiter)
    app.add_middleware(GraphQLLane, schema=router.schema, service=svc, limiter=limiter)
    app.include_router(router, prefix="/graphql")

    @app.get("/")
    def root() -> dict[str, str]:
        return {
            "message": "crypto-mlops GraphQL API. Research only, not trading advice.",
            "version": __version__,
            "graphql_endpoint": "/graphql",
            "playground": "/graphql (GraphiQL)",
        }

    return app
