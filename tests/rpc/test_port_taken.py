"""A gRPC server on a port another one already serves fails instead of sharing the calls with it."""

from __future__ import annotations

import pytest

from crypto_mlops.rpc.server import create_server
from crypto_mlops.service import CryptoService


def test_a_second_server_on_a_taken_port_fails(service: CryptoService) -> None:
    first, port = create_server(service, port=0)
    first.start()
    try:
        # gRPC's default SO_REUSEPORT would let this bind and split the calls between the two processes.
        with pytest.raises(RuntimeError, match=f"could not bind gRPC server to 127.0.0.1:{port}"):
            create_server(service, port=port)
    finally:
        first.stop(grace=0).wait()
