"""PostgreSQL for tests and `stack up --full`: a throw-away cluster of our own, or one given by URL.

Both wrappers share `url(db, driver="psycopg")` (SQLAlchemy URL; `driver=None` gives a libpq URL)
and `create_database(name) -> url` (idempotent). The one driver is psycopg 3.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from crypto_mlops.stack.ports import LOOPBACK, free_port, port_open
from crypto_mlops.stack.process import ManagedProcess, ServiceError, ServiceUnavailable, succeeds

if TYPE_CHECKING:
    import psycopg

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


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


def _connect(**params: Any) -> psycopg.Connection[Any]:
    import psycopg

    return psycopg.connect(connect_timeout=3, autocommit=True, **params)


class PostgresAccess:
    """URLs and databases of a PostgreSQL server (the part both wrappers share)."""

    user: str
    password: str
    host: str
    port: int

    def _admin(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        """An autocommit connection allowed to create databases."""
        raise NotImplementedError

    def _database_owner(self) -> str | None:
        """Role that should own new databases (None: whoever creates them)."""
        return None

    def _ping(self) -> None:
        with self._admin() as conn:
            conn.execute("SELECT 1")

    def url(self, db: str = "postgres", driver: str | None = "psycopg") -> str:
        """SQLAlchemy URL (`postgresql+<driver>://...`); driver=None gives a plain libpq URL."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        """Create database `name` (no-op when it exists); returns its URL."""
        from psycopg import sql

        if not _IDENTIFIER.match(name):
            raise ValueError(f"invalid database name {name!r}")
        with self._admin() as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                owner = self._database_owner()
                if owner:
                    query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
                conn.execute(query)
        return self.url(name)


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


class PostgresServer(PostgresAccess, ManagedProcess):
    """A throw-away (or persistent) PostgreSQL cluster: initdb once, then the postmaster in the
    foreground as our child, listening on 127.0.0.1:`port` and a unix socket in `data_dir`.

    As root, initdb/postgres run as the `postgres` OS user and `data_dir` is chown'ed to it.
    A LOGIN/CREATEDB role `user`/`password` is created for TCP clients (scram-sha-256).
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnect clients, checkpoint, exit
    port: int

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        log_path: Path | None = None,
        user: str = "mlops",
        password: str = "mlops",
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
        cmd = [str(bindir / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "-E", "UTF8"]
        cmd += ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]
        res = subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=self.data_dir, **self._owner_kwargs()
        )
        if res.returncode != 0:
            raise ServiceError(f"initdb failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")

    def command(self) -> list[str]:
        settings = (f"listen_addresses={self.host}", "fsync=off", "max_connections=200")
        cmd = [str(self.bindir / "postgres"), "-D", str(self.pgdata), "-p", str(self.port), "-k", str(self.data_dir)]
        for setting in settings:
            cmd += ["-c", setting]
        return cmd

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return env

    def ready(self) -> bool:
        # The socket file shows up before recovery finishes, so also try a real query.
        return port_open(self.port, self.host) and succeeds(self._ping)

    def after_start(self) -> None:
        from psycopg import sql

        with self._admin() as conn:
            found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,)).fetchone()
            verb = "ALTER" if found else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )

    @contextlib.contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Any]]:
        """Autocommit connection as `postgres` over the unix socket (trust auth)."""
        with _connect(host=str(self.data_dir), port=self.port, user="postgres", dbname="postgres") as conn:
            yield conn

    def _database_owner(self) -> str | None:
        return self.user


class ExistingPostgres(PostgresAccess):
    """An already running PostgreSQL server given as a URL (e.g. $TEST_POSTGRES_URL).

    Same `url()`/`create_database()` surface as PostgresServer; start/stop are no-ops.
    The URL's role needs CREATEDB for `create_database`.
    """

    name = "postgres (external)"

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        self._database = parsed.database or "postgres"
        self.user = parsed.username or "postgres"
        self.password = parsed.password or ""
        self.host = parsed.host or LOOPBACK
        self.port = int(parsed.port or 5432)
        self.pid: int | None = None
        self.log_path: Path | None = None
        self.start_seconds: float | None = 0.0

    def start(self, timeout: float | None = None) -> Self:
        if not self.is_healthy():
            raise ServiceError(f"PostgreSQL at {self.host}:{self.port} is not reachable")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        return None

    @contextlib.contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Any]]:
        params = {"host": self.host, "port": self.port, "user": self.user, "password": self.password}
        with _connect(dbname=self._database, **params) as conn:
            yield conn

    def is_healthy(self) -> bool:
        return succeeds(self._ping)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
