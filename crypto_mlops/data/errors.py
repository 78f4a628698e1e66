"""Error types shared by every layer; adapters map them to exit codes and HTTP/gRPC statuses."""


class CryptoMLOpsError(Exception):
    """Base class of the project's own errors."""


class InvalidInput(CryptoMLOpsError, ValueError):
    """The caller's input is wrong (bad symbol, timeframe, file...). Maps to HTTP 4xx / exit code 2."""


class DataUnavailable(CryptoMLOpsError):
    """An upstream source (exchange, file store) cannot deliver right now. Maps to HTTP 503 / exit code 3."""
