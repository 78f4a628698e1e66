"""What a stream consumer did: counts, timings and the latencies of its answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ConsumerReport:
    consumed: int = 0
    valid: int = 0
    emitted_predictions: int = 0
    emitted_alerts: int = 0
    dead_letters: int = 0
    stale: int = 0
    warmup: int = 0
    batches: int = 0
    commits: int = 0
    commit_failures: int = 0
    abandoned_batches: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    first_message_at: float | None = None  # time.monotonic() of the first batch
    last_commit_at: float | None = None  # time.monotonic() after the last commit
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # from the consumer receiving a tick
    broker_latencies_ms: list[float] = field(default_factory=list, repr=False)  # from its broker timestamp

    def latency_percentile(self, q: float, broker: bool = False) -> float | None:
        values = self.broker_latencies_ms if broker else self.latencies_ms
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    @property
    def active_s(self) -> float | None:
        """From the first message received to the last commit (excludes the group join and idle time)."""
        if self.first_message_at is None or self.last_commit_at is None:
            return None
        return self.last_commit_at - self.first_message_at

    def summary(self) -> dict[str, Any]:
        skip = {"latencies_ms", "broker_latencies_ms", "first_message_at", "last_commit_at"}
        return {k: v for k, v in self.__dict__.items() if k not in skip} | {
            "active_s": None if self.active_s is None else round(self.active_s, 3),
            "latency_p50_ms": self.latency_percentile(50),
            "latency_p99_ms": self.latency_percentile(99),
            "broker_latency_p50_ms": self.latency_percentile(50, broker=True),
            "broker_latency_p99_ms": self.latency_percentile(99, broker=True),
        }
