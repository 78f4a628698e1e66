"""GraphQL router (mounted by the API at /graphql) and the standalone app served on GRAPHQL_PORT."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from crypto_mlops import __version__
from crypto_mlops.gql.schema import context_for, schema
from crypto_mlops.service import CryptoService, get_service


def graphql_router(service: CryptoService) -> GraphQLRouter[Any, Any]:
    async def context_getter() -> dict[str, Any]:
        return context_for(service)

    return GraphQLRouter(schema, context_getter=context_getter, graphql_ide="graphiql")


def create_graphql_app(service: CryptoService | None = None, *, start_service: bool = True) -> FastAPI:
    """Standalone GraphQL server (same schema and service layer as the API's /graphql)."""
    svc = service or get_service()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_service:
            svc.start()
        yield

    app = FastAPI(title="crypto-mlops GraphQL", version=__version__, lifespan=lifespan)
    app.include_router(graphql_router(svc), prefix="/graphql")

    @app.get("/")
    def root() -> dict[str, str]:
        return {
            "message": "crypto-mlops GraphQL API. Research only, not trading advice.",
            "version": __version__,
            "graphql_endpoint": "/graphql",
            "playground": "/graphql (GraphiQL)",
        }

    return app
