"""The service's bounds on request values, and the one check that enforces them.

Adapters may repeat these numbers as schema documentation (REST's Query/Field bounds), but the service
is where their meaning is checked, so every adapter refuses the same values with the same message.
"""

from __future__ import annotations

from crypto_mlops.data.errors import InvalidInput

MIN_LIMIT = 50  # SMA48 needs 48 bars; fewer makes the heuristic meaningless
MAX_LIMIT = 1000
MAX_HORIZON_MIN = 10080  # one week: the horizon is echoed, a longer one would be meaningless for hourly risk
MAX_CHART_POINTS = 60
DEFAULT_CHART_POINTS = 48  # forecast origins the dashboard draws
MAX_HISTORY_N = 1000  # records per history tail
MAX_SSE_SYMBOLS = 10


def check_range(name: str, value: int, low: int, high: int) -> int:
    """`value` as an int when `low <= value <= high`, else `InvalidInput` naming the bounds."""
    if not low <= int(value) <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


MAX_DETAIL_CHARS = 300  # error details never echo more of the caller's input than this


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out (error details echo input)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"
