"""Loopback port helpers: find free ports and wait until a server answers.

Used by the server wrappers (`crypto_mlops.stack.process` and its subclasses), the pytest
fixtures and the `make up` supervisor. Everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

LOOPBACK = "127.0.0.1"

# Ports handed out by this process recently: the kernel may return the same "free" port twice
# when nothing has bound it yet, so we remember what we gave away.
_handed_out: set[int] = set()


class PortTimeout(TimeoutError):
    """A server did not become ready within its timeout."""


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port and we could bind it right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK, *, max_port: int = 65535) -> int:
    """A currently free TCP port on `host` (the kernel picks it; never a fixed default port).

    `max_port` lets callers ask for a port with head-room, e.g. for servers that derive a second
    port as `port + 10000` (SeaweedFS gRPC).
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port <= max_port and port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError(f"could not find a free port <= {max_port} on {host}")


def free_port_pair(offset: int, host: str = LOOPBACK) -> int:
    """A free port P such that P + offset is free as well (for servers with derived ports)."""
    for _ in range(200):
        port = free_port(host, max_port=65535 - offset)
        if is_port_free(port + offset, host) and port + offset not in _handed_out:
            _handed_out.add(port + offset)
            return port
    raise RuntimeError(f"could not find a free port pair (P, P+{offset}) on {host}")


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when GET url answers with a 2xx/3xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
    alive: Callable[[], bool] | None = None,
) -> float:
    """Poll `check` until it is true; return the seconds waited.

    `alive` (e.g. "the child process is still running") aborts the wait early, so a server that
    crashed at start-up fails in a moment instead of after the full timeout.
    """
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if check():
            return time.monotonic() - start
        if alive is not None and not alive():
            raise PortTimeout(f"{what}: process exited before it became ready")
        if time.monotonic() >= deadline:
            raise PortTimeout(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(interval)


def wait_for_port(
    port: int, host: str = LOOPBACK, timeout: float = 30.0, alive: Callable[[], bool] | None = None
) -> float:
    """Wait until host:port accepts connections; returns seconds waited, raises PortTimeout."""
    return wait_until(lambda: port_open(port, host), timeout, f"{host}:{port}", alive=alive)


def wait_for_http(url: str, timeout: float = 30.0, alive: Callable[[], bool] | None = None) -> float:
    """Wait until GET url answers 2xx/3xx; returns seconds waited, raises PortTimeout."""
    return wait_until(lambda: http_ok(url), timeout, url, interval=0.2, alive=alive)
