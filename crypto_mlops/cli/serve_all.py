"""`crypto-mlops serve all`: REST (+ UI, /graphql), standalone GraphQL and gRPC in one process.

One `CryptoService` (one model, one candle cache, one history writer) behind the three protocols,
instead of one process each: the embedded stack's default (STACK_SERVING=one). One asyncio loop
runs two uvicorn servers (the API port and the GraphQL port); the gRPC server runs beside it on its
own thread pool, as under `serve grpc`. Readiness is the service's, so each port says ready at the
same moment: `/health` 200, GraphQL `health`, grpc.health.v1 SERVING.

SIGTERM or Ctrl-C stops all three: the HTTP servers finish their requests, gRPC calls get 2 s, then
the service closes (its history queue is flushed). A server that cannot start (port taken) stops
the others and the process exits with an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from crypto_mlops.api.app import create_app
from crypto_mlops.config import Settings
from crypto_mlops.gql.app import create_graphql_app
from crypto_mlops.rpc.server import create_server
from crypto_mlops.service import CryptoService, get_service
from crypto_mlops.service.heap import freeze_heap

if TYPE_CHECKING:
    import grpc

log = logging.getLogger(__name__)
GRPC_GRACE_S = 2.0


@dataclass(frozen=True)
class Ports:
    host: str
    api: int
    graphql: int
    grpc: int


class _SharedSignals(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to `serve_all` (which stops every server at once)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def wait_for_champion(settings: Settings, timeout_s: float, interval_s: float = 0.5) -> bool:
    """Block until the registry has a champion, at most `timeout_s`; True when there is one.

    The stack starts `serve all` beside its bootstrap job: the imports and the model code load while
    the bootstrap fits, and the champion is loaded the moment it is registered. A SQLite store is only
    opened once its schema exists (opening it earlier would create it, racing the bootstrap's own
    migration). Without a champion in time, the service falls back to a baseline as usual.
    """
    from crypto_mlops.models import inference, pyfunc  # noqa: F401 - loaded now, while waiting
    from crypto_mlops.models.registry import champion_version, get_client
    from crypto_mlops.stack.mlflow_server import schema_ready, sqlite_path

    deadline = time.monotonic() + timeout_s
    db = sqlite_path(settings.mlflow_tracking_uri, Path.cwd())
    client = None
    while True:
        try:
            if db is None or schema_ready(db):
                client = client or get_client(settings)
                if champion_version(client, settings.model_name, settings.model_alias) is not None:
                    return True
        except Exception as exc:  # a registry not reachable yet: ask again
            log.debug("no champion yet: %s", exc)
        if time.monotonic() >= deadline:
            log.warning("no champion after %.0f s: serving starts with a baseline", timeout_s)
            return False
        time.sleep(interval_s)


def serve_all(ports: Ports, service: CryptoService | None = None, *, access_log: bool = False) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code (0 after a clean stop)."""
    svc = service or get_service()
    # The API app picks the SSE feed and starts the service in its lifespan; the GraphQL app's start is a no-op then.
    apps = (create_app(svc, choose_feed=True), create_graphql_app(svc))
    http = [
        _SharedSignals(uvicorn.Config(app, host=ports.host, port=port, log_level="info", access_log=access_log))
        for app, port in zip(apps, (ports.api, ports.graphql), strict=True)
    ]
    rpc, bound = create_server(svc, ports.host, ports.grpc)
    freeze_heap(svc.settings.gc_freeze)  # everything imported so far lives as long as the process
    log.info("gRPC %s bound on %s:%s", "crypto.CryptoService", ports.host, bound)
    try:
        return asyncio.run(_run(http, rpc))
    finally:
        rpc.stop(grace=None)  # no-op after a clean stop; ends the gRPC threads after an error
        svc.close()  # flushes the history queue


async def _serve(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits when it cannot bind or its lifespan fails
        raise RuntimeError(f"server on port {server.config.port} could not start (exit code {exc.code})") from None


async def _run(http: Sequence[uvicorn.Server], rpc: grpc.Server) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    rpc.start()
    servers = [asyncio.create_task(_serve(server), name=f"uvicorn-{server.config.port}") for server in http]
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    done, _ = await asyncio.wait([*servers, stopping], return_when=asyncio.FIRST_COMPLETED)
    failed = stopping not in done  # a server ended on its own: it could not start (or crashed)
    if failed:
        log.error("a server stopped on its own; stopping the others")
    for server in http:
        server.should_exit = True
    await asyncio.to_thread(lambda: rpc.stop(grace=GRPC_GRACE_S).wait())
    results = await asyncio.gather(*servers, return_exceptions=True)
    stopping.cancel()
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("server ended with %r", result)
            failed = True
    return 1 if failed else 0
