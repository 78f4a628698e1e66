"""CLI group 'serve': `crypto-mlops serve all|api|graphql|grpc` (ports and hosts from settings).

Nothing heavy is imported until a command runs (the service layer, the apps, uvicorn, grpc), and
serving never imports training, Airflow or plotting code (tests/cli/test_serve_imports.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from crypto_mlops.cli.common import console, friendly_errors, quiet_libraries
from crypto_mlops.config import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(
    help="Run the servers: all in one process, or REST API + UI, standalone GraphQL, gRPC each.", no_args_is_help=True
)
# Settings.gc_freeze's variable (service.heap.GC_FREEZE_ENV; not imported here: it would load the service layer).
GC_FREEZE_ENV = "GC_FREEZE"

Host = Annotated[str | None, typer.Option("--host", help="Bind address (default: API_HOST).")]
ApiPort = Annotated[int | None, typer.Option("--port", help="Port (default: API_PORT, 8800).")]
GraphqlPort = Annotated[int | None, typer.Option("--port", help="Port (default: GRAPHQL_PORT, 4000).")]
GrpcPort = Annotated[int | None, typer.Option("--port", help="Port (default: GRPC_PORT, 50051).")]
PortSetting = Callable[[Settings], int]
WaitChampion = Annotated[
    float,
    typer.Option(
        "--wait-for-champion",
        help="Seconds to wait for a registered champion before serving (the stack starts the servers beside "
        "its bootstrap); 0: serve at once (a baseline when there is no champion).",
    ),
]


def serve_all(host: Host = None, wait_champion: WaitChampion = 0.0) -> None:
    """REST API + UI, standalone GraphQL and gRPC in one process (the embedded stack's default).

    One service behind the three ports (API_PORT, GRAPHQL_PORT, GRPC_PORT): one model and one candle
    cache in memory instead of three.
    """
    bind_host, _ = _bind(host, None, lambda s: s.api_port)
    settings = get_settings()
    if settings.api_workers > 1:
        console.print(
            f"[red]API_WORKERS={settings.api_workers}[/]: `serve all` is one process; run `serve api` (with its "
            "workers), `serve graphql` and `serve grpc` instead (STACK_SERVING=split in the stack)"
        )
        raise typer.Exit(2)
    from crypto_mlops.cli.serve_all import Ports, wait_for_champion
    from crypto_mlops.cli.serve_all import serve_all as run_all

    if wait_champion > 0:
        console.print(f"waiting up to {wait_champion:.0f} s for a champion in the registry...")
        wait_for_champion(settings, wait_champion)

    ports = Ports(bind_host, settings.api_port, settings.graphql_port, settings.grpc_port)
    console.print(
        f"API + dashboard on http://{bind_host}:{ports.api}/, GraphQL on http://{bind_host}:{ports.graphql}/graphql, "
        f"gRPC crypto.CryptoService on {bind_host}:{ports.grpc}  (research only, not trading advice)"
    )
    raise typer.Exit(run_all(ports, access_log=settings.api_access_log))


def serve_api(host: Host = None, port: ApiPort = None) -> None:
    """REST API, dashboard at /, GraphQL at /graphql, OpenAPI at /docs (API_WORKERS processes)."""
    address = _bind(host, port, lambda s: s.api_port)
    banner = "API + dashboard on http://{address}/  (research only, not trading advice)"
    workers = get_settings().api_workers
    if workers > 1:
        _serve_workers(address, workers, banner)
        return
    from crypto_mlops.api.app import create_app

    _serve_http(create_app, address, banner)


def serve_graphql(host: Host = None, port: GraphqlPort = None) -> None:
    """Standalone GraphQL server (same schema as the API's /graphql)."""
    from crypto_mlops.gql.app import create_graphql_app

    _serve_http(create_graphql_app, _bind(host, port, lambda s: s.graphql_port), "GraphQL on http://{address}/graphql")


def serve_grpc(host: Host = None, port: GrpcPort = None) -> None:
    """gRPC crypto.CryptoService with health and reflection services."""
    from crypto_mlops.rpc.server import serve

    bind_host, bind_port = _bind(host, port, lambda s: s.grpc_port)
    console.print(f"gRPC crypto.CryptoService on {bind_host}:{bind_port}")
    serve(host=bind_host, port=bind_port)


def _bind(host: str | None, port: int | None, default_port: PortSetting) -> tuple[str, int]:
    """Set up logging and return the address to bind: the options, else API_HOST and the server's port setting."""
    os.environ.setdefault(GC_FREEZE_ENV, "1")  # a server: keep full GCs of the warm heap off requests
    get_settings.cache_clear()  # read again: the root command read the settings before this default was set
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()
    return host or settings.api_host, default_port(settings) if port is None else port


def _serve_workers(address: tuple[str, int], workers: int, banner: str) -> None:
    """REST in `workers` uvicorn processes: each builds its own app, service and model (N times the memory)."""
    import uvicorn

    bind_host, bind_port = address
    console.print(banner.format(address=f"{bind_host}:{bind_port}") + f"  [{workers} workers]")
    uvicorn.run(
        "crypto_mlops.api.app:create_app",
        factory=True,
        workers=workers,
        host=bind_host,
        port=bind_port,
        log_level="info",
        access_log=get_settings().api_access_log,
    )


def _serve_http(make_app: Callable[[], FastAPI], address: tuple[str, int], banner: str) -> None:
    import uvicorn

    bind_host, bind_port = address
    console.print(banner.format(address=f"{bind_host}:{bind_port}"))
    # No access log by default: one log line per request, under the GIL, was a measurable share of a
    # cached answer's cost. API_ACCESS_LOG=1 turns it back on (request counts are in /metrics anyway).
    settings = get_settings()
    access_log = settings.api_access_log
    app = make_app()
    from crypto_mlops.service.heap import freeze_heap

    freeze_heap(settings.gc_freeze)  # everything imported so far lives as long as the process
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="info", access_log=access_log)


app.command("all")(friendly_errors(serve_all))
app.command("api")(friendly_errors(serve_api))
app.command("graphql")(friendly_errors(serve_graphql))
app.command("grpc")(friendly_errors(serve_grpc))


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="serve")
