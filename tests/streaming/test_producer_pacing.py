"""Producer pacing: event time / wall time = speed, after an unpaced history burst."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from crypto_mlops.streaming.producer import Pacer

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class RecordingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return False


def test_history_burst_then_speed_factor() -> None:
    stop = RecordingEvent()
    pacer = Pacer(speed=3600, stop=stop, unpaced=timedelta(hours=3))
    for hour in range(6):
        pacer.wait_for(T0 + timedelta(hours=hour))
    # Hours 0-2 are the burst and hour 3 starts the clock. Hour 4 is due 1 s later (1 h / 3600) and
    # hour 5 2 s later; the recorder does not sleep, so its second wait covers both hours.
    assert len(stop.waits) == 2
    assert stop.waits[0] == pytest.approx(1.0, abs=0.05)
    assert stop.waits[1] == pytest.approx(2.0, abs=0.05)


def test_speed_zero_never_waits() -> None:
    stop = RecordingEvent()
    pacer = Pacer(speed=0, stop=stop)
    for hour in range(5):
        pacer.wait_for(T0 + timedelta(hours=hour))
    assert stop.waits == []
