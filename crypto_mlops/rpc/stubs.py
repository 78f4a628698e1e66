"""Import the generated gRPC modules, generating them first if missing or stale."""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

from crypto_mlops.rpc.build import generate

_lock = threading.Lock()


def load() -> tuple[ModuleType, ModuleType]:
    """(crypto_service_pb2, crypto_service_pb2_grpc)."""
    with _lock:
        generate()
        pb2 = importlib.import_module("crypto_mlops.rpc.generated.crypto_service_pb2")
        pb2_grpc = importlib.import_module("crypto_mlops.rpc.generated.crypto_service_pb2_grpc")
    return pb2, pb2_grpc
