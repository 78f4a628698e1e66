"""The serving components: REST (+ UI, /graphql), standalone GraphQL and gRPC, one process or three.

STACK_SERVING=one (default): `serve all` is the `api` component; `graphql` and `grpc` are its ports
(`endpoint.SharedEndpoint`), each still probed on its own. STACK_SERVING=split, or API_WORKERS > 1:
`serve api|graphql|grpc`, one process each.
"""

from __future__ import annotations

from typing import Literal

from crypto_mlops.stack.child import cli_command
from crypto_mlops.stack.component import ComponentSpec
from crypto_mlops.stack.context import StackContext, ours, probe_passes
from crypto_mlops.stack.endpoint import ServingProcess, SharedEndpoint
from crypto_mlops.stack.health import HealthKind, HealthSpec
from crypto_mlops.stack.ports import LOOPBACK
from crypto_mlops.stack.process import ManagedProcess

ServingMode = Literal["one", "split"]


def serving_mode(ctx: StackContext) -> ServingMode:
    """STACK_SERVING, except that API_WORKERS > 1 needs REST in its own (multi-worker) process."""
    if ctx.stack.serving == "one" and ctx.settings.api_workers > 1:
        return "split"
    return ctx.stack.serving


def serving_specs(ctx: StackContext) -> list[ComponentSpec]:
    """REST (+ UI, /graphql), standalone GraphQL and gRPC: one process (`serve all`) or one each.

    Either way each port is a component with its own probe; they start once a champion exists, so
    the first request already has a model.
    """
    s = ctx.settings
    api = f"http://{LOOPBACK}:{s.api_port}"
    gql = f"http://{LOOPBACK}:{s.graphql_port}/graphql"
    grpc = f"{LOOPBACK}:{s.grpc_port}"
    servers = (
        ("api", "REST API + UI + /graphql", HealthSpec(HealthKind.HTTP, f"{api}/health"), f"{api}/"),
        ("graphql", "standalone GraphQL", HealthSpec(HealthKind.GRAPHQL, gql), gql),
        ("grpc", "gRPC crypto.CryptoService", HealthSpec(HealthKind.GRPC, grpc), f"grpc://{grpc}"),
    )
    if serving_mode(ctx) == "split":  # `serve NAME` each
        return [
            ours(ctx, name, role, ("serve", name), health=probe, url=url, depends_on=("bootstrap",))
            for name, role, probe, url in servers
        ]
    (_, api_role, api_probe, api_url), *others = servers
    host: list[ManagedProcess] = []  # the `serve all` process of the current plan
    # Embedded: it starts beside the bootstrap (imports and model code load while the baselines fit) and
    # loads the champion once registered; readiness still waits for it. Full mode: after the bootstrap,
    # which comes after the storage servers whose addresses the children's environment then holds.
    wait = round(ctx.stack.start_timeout_s / 2)
    command = cli_command("serve", "all", *(() if ctx.full else ("--wait-for-champion", str(wait))))

    def build_host() -> ManagedProcess:
        ports = (s.graphql_port, s.grpc_port)
        process = ServingProcess("api", command, ctx.env, ctx.log("api"), probe_passes(api_probe), ports)
        host[:] = [process]
        return process

    specs = [
        ComponentSpec(
            "api",
            f"{api_role}; GraphQL and gRPC in the same process",
            api_url,
            s.api_port,
            api_probe,
            depends_on=("bootstrap",) if ctx.full else (),
            build=build_host,
        )
    ]
    for name, role, probe, url in others:

        def build_endpoint(name: str = name, probe: HealthSpec = probe) -> ManagedProcess:
            return SharedEndpoint(name, lambda: host[0] if host else None, probe_passes(probe), ctx.log(name), "api")

        # No port of its own to check (the api process holds it); it follows the api process's restarts.
        specs.append(
            ComponentSpec(
                name,
                f"{role} (in the api process)",
                url,
                None,
                probe,
                depends_on=("api",),
                restart_after=("api",),
                build=build_endpoint,
            )
        )
    return specs
