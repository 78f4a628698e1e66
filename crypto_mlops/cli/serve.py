"""CLI group 'serve': `crypto-mlops serve api|graphql|grpc` (ports and hosts from settings)."""

from __future__ import annotations

import logging

import typer

from crypto_mlops.cli.common import console, friendly_errors, quiet_libraries
from crypto_mlops.config import get_settings

app = typer.Typer(help="Run the servers: REST API + UI, standalone GraphQL, gRPC.", no_args_is_help=True)

HostOpt = typer.Option(None, "--host", help="Bind address (default: API_HOST).")


def _setup_logging() -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=get_settings().log_level, format=fmt)
    quiet_libraries()


@app.command("api")
@friendly_errors
def serve_api(
    host: str | None = HostOpt,
    port: int | None = typer.Option(None, "--port", help="Port (default: API_PORT, 8800)."),
) -> None:
    """REST API, dashboard at /, GraphQL at /graphql, OpenAPI at /docs."""
    import uvicorn

    from crypto_mlops.api.app import create_app

    settings = get_settings()
    _setup_logging()
    bind_host = host or settings.api_host
    bind_port = settings.api_port if port is None else port
    console.print(f"API + dashboard on http://{bind_host}:{bind_port}/  (research only, not trading advice)")
    uvicorn.run(create_app(), host=bind_host, port=bind_port, log_level="info")


@app.command("graphql")
@friendly_errors
def serve_graphql(
    host: str | None = HostOpt,
    port: int | None = typer.Option(None, "--port", help="Port (default: GRAPHQL_PORT, 4000)."),
) -> None:
    """Standalone GraphQL server (same schema as the API's /graphql)."""
    import uvicorn

    from crypto_mlops.gql.app import create_graphql_app

    settings = get_settings()
    _setup_logging()
    bind_host = host or settings.api_host
    bind_port = settings.graphql_port if port is None else port
    console.print(f"GraphQL on http://{bind_host}:{bind_port}/graphql")
    uvicorn.run(create_graphql_app(), host=bind_host, port=bind_port, log_level="info")


@app.command("grpc")
@friendly_errors
def serve_grpc(
    host: str | None = HostOpt,
    port: int | None = typer.Option(None, "--port", help="Port (default: GRPC_PORT, 50051)."),
) -> None:
    """gRPC crypto.CryptoService with health and reflection services."""
    from crypto_mlops.rpc.server import serve

    settings = get_settings()
    _setup_logging()
    bind_host = host or settings.api_host
    bind_port = settings.grpc_port if port is None else port
    console.print(f"gRPC crypto.CryptoService on {bind_host}:{bind_port}")
    serve(host=bind_host, port=bind_port)


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="serve")
