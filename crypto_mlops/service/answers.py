"""Answers to repeated requests without recomputing them: the last result per request, reused while current.

A result is a function of the request, the candle fetch it came from and the model (the memo in
`signals.py` relies on the same fact). `Answers` keeps the last result per request with the fetch and
model it came from. `lookup` says, without ever waiting on a fetch or a model load, whether that result
is still what the service would answer now; an event loop may call it. A hit costs a few dict lookups
instead of resolving the market and building the pydantic results again, and adapters may keep their
own encoding of the result next to it (`Answer.encoded`: the REST JSON bytes).

Only the per-request fields differ between a stored result and a fresh one: the `timestamp` (whole
seconds, as `signals.now_z` writes it) and the history row. `serve` records every answer it hands
out, with its own timestamp, exactly as the facade does for a fresh one.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from crypto_mlops.config import Settings
from crypto_mlops.models.contract import Predictor
from crypto_mlops.service.cache import CacheKey
from crypto_mlops.service.core import CryptoService
from crypto_mlops.service.limits import MAX_HORIZON_MIN, check_range
from crypto_mlops.service.market import Market
from crypto_mlops.service.memo import LruMemo
from crypto_mlops.service.recording import HistoryForm, ml_row, signal_row
from crypto_mlops.service.results import CompareResult, MLSignalResult, SignalResult

ANSWERS_SIZE = 1024  # distinct requests remembered (least recently used first out)

R = TypeVar("R", SignalResult, MLSignalResult, CompareResult)


class SignalArgs(NamedTuple):
    symbol: str | None
    timeframe: str | None
    limit: int
    horizon_min: int
    explain: bool
    exchange: str | None


class MLArgs(NamedTuple):
    symbol: str | None
    timeframe: str | None
    limit: int
    include_heuristic: bool
    exchange: str | None


class CompareArgs(NamedTuple):
    symbol: str | None
    timeframe: str | None
    limit: int
    exchange: str | None


@dataclass(eq=False)
class Answer(Generic[R]):
    """A result and what it was computed from; `encoded` holds adapters' encodings of it (by adapter name)."""

    result: R
    key: CacheKey
    limit: int
    fetch_id: int
    predictor: Predictor | None  # None: the result does not depend on the model (heuristic)
    settings: Settings
    encoded: dict[str, object] = field(default_factory=dict)
    history: HistoryForm | None = None  # the result's history row and payload, built on its first reuse


class Answers:
    """Answers to `signal`, `ml_signal` and `compare`, reused while their candles and model are current."""

    def __init__(self, service: CryptoService, size: int = ANSWERS_SIZE) -> None:
        self.service = service
        self._answers: LruMemo[tuple[str, tuple[object, ...]], Answer[Any]] = LruMemo(size)

    # -- non-blocking -------------------------------------------------------------------------------
    def lookup_signal(self, args: SignalArgs) -> Answer[SignalResult] | None:
        return self._lookup("signal", args)

    def lookup_ml_signal(self, args: MLArgs) -> Answer[MLSignalResult] | None:
        return self._lookup("ml_signal", args)

    def lookup_compare(self, args: CompareArgs) -> Answer[CompareResult] | None:
        return self._lookup("compare", args)

    def serve(self, answer: Answer[R], adapter: str) -> str:
        """Record `answer` as served now (signals and ML predictions, like the facade); returns its timestamp."""
        stamp = utc_second()
        result = answer.result
        if isinstance(result, SignalResult):
            answer.history = answer.history or HistoryForm(signal_row(result))
            self.service.recorder.signal(result, adapter, stamp, answer.history)
        elif isinstance(result, MLSignalResult):
            answer.history = answer.history or HistoryForm(ml_row(result))
            self.service.recorder.ml_prediction(result, adapter, stamp, answer.history)
        return stamp  # compare is not recorded, like the seed

    # -- blocking: may fetch candles and run the model ----------------------------------------------
    def signal(self, args: SignalArgs, adapter: str) -> tuple[Answer[SignalResult], str]:
        """The answer and its timestamp, computed when no stored one is current; recorded either way."""
        answer = self.lookup_signal(args)
        if answer is not None:
            return answer, self.serve(answer, adapter)
        horizon = check_range("horizon_min", args.horizon_min, 1, MAX_HORIZON_MIN)
        m = self._market(args.symbol, args.timeframe, args.limit, args.exchange)
        result = self.service.signals.heuristic(m, horizon, args.explain, args.exchange)
        self.service.recorder.signal(result, adapter)
        return self._store("signal", args, m, None, result), result.timestamp

    def ml_signal(self, args: MLArgs, adapter: str) -> tuple[Answer[MLSignalResult], str]:
        answer = self.lookup_ml_signal(args)
        if answer is not None:
            return answer, self.serve(answer, adapter)
        m = self._market(args.symbol, args.timeframe, args.limit, args.exchange)
        predictor = self.service.models.get(m.key.symbol)
        result = self.service.signals.ml(m, args.include_heuristic, args.exchange)
        self.service.recorder.ml_prediction(result, adapter)
        return self._store("ml_signal", args, m, predictor, result), result.timestamp

    def compare(self, args: CompareArgs) -> tuple[Answer[CompareResult], str]:
        answer = self.lookup_compare(args)
        if answer is not None:
            return answer, utc_second()
        m = self._market(args.symbol, args.timeframe, args.limit, args.exchange)
        predictor = self.service.models.get(m.key.symbol)
        result = self.service.signals.compare(m, args.exchange)
        return self._store("compare", args, m, predictor, result), result.timestamp

    def clear(self) -> None:
        self._answers.clear()

    # -- internals ----------------------------------------------------------------------------------
    def _market(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None) -> Market:
        return self.service.market(symbol, timeframe, limit, exchange)

    def _store(
        self, kind: str, args: tuple[object, ...], m: Market, predictor: Predictor | None, result: R
    ) -> Answer[R]:
        answer = Answer(result, m.key, m.limit, m.fetch_id, predictor, self.service.settings)
        # A model swapped while this result was computed: keep it out (the next request recomputes).
        if self.service.settings.signal_memo and (
            predictor is None or self.service.models.peek(m.key.symbol) is predictor
        ):
            self._answers.put_many([((kind, args), answer)])
        return answer

    def _lookup(self, kind: str, args: tuple[object, ...]) -> Answer[Any] | None:
        answer = self._answers.peek((kind, args))
        if answer is None:
            return None
        service = self.service
        settings = service.settings
        if answer.settings is not settings or not settings.signal_memo:
            return None
        if answer.predictor is not None and service.models.peek(answer.key.symbol) is not answer.predictor:
            return None
        cached = service.cache.peek(answer.key, answer.limit)  # never waits on the source
        if cached is None:
            return None
        current = Market(answer.key, cached.data, cached.age_s, answer.limit).fetch_id
        return answer if current == answer.fetch_id else None


def stamped(answer: Answer[R], timestamp: str) -> R:
    """The answer's result with `timestamp` (a copy only when it differs)."""
    result = answer.result
    return result if result.timestamp == timestamp else result.model_copy(update={"timestamp": timestamp})


_LAST_SECOND: list[tuple[int, str]] = [(-1, "")]


def utc_second() -> str:
    """Now in UTC as `signals.now_z` writes it (whole seconds, 'Z'), formatted once per second."""
    now = int(time.time())
    second, text = _LAST_SECOND[0]
    if second != now:
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        _LAST_SECOND[0] = (now, text)
    return text


_BY_SERVICE: weakref.WeakKeyDictionary[CryptoService, Answers] = weakref.WeakKeyDictionary()


def answers_for(service: CryptoService) -> Answers:
    """The one `Answers` of `service` (REST and GraphQL in one process share it)."""
    answers = _BY_SERVICE.get(service)
    if answers is None:
        answers = _BY_SERVICE.setdefault(service, Answers(service))
    return answers
