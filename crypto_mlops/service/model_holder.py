"""One served model: a champion alias from MLflow, hot reload, baseline fallback.

`service.pair_models.PairModels` holds one of these per alias in use (the global `champion`, and a
pair's `champion-<pair>` where the registry has one) and picks the right one for each pair.

* Loaded once (lazily, on first use or at start-up), never per request.
* `reload()` swaps in a new champion atomically; if MLflow is down or the load fails, the model that
  was serving keeps serving and the error is reported.
* With no champion at all (fresh registry, MLflow unreachable at first start), the HAR-RV baseline
  serves, and `info()` says so (`fallback=True` with the reason).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from crypto_mlops.config import Settings
from crypto_mlops.data.errors import DataUnavailable
from crypto_mlops.models.contract import Predictor
from crypto_mlops.service.results import ModelInfo, ReloadResult, iso_z, utc_now

log = logging.getLogger(__name__)

FALLBACK_BASELINE = "har"


ModelCallback = Callable[[Predictor, bool], None]


def _load_champion(settings: Settings) -> Predictor:
    from crypto_mlops.models.inference import load_predictor

    return load_predictor(settings)


def alias_loader(alias: str) -> Callable[[Settings], Predictor]:
    """Loads the version behind `alias` (e.g. `champion-ethusdt`) from the registry."""

    def load(settings: Settings) -> Predictor:
        from crypto_mlops.models.inference import load_predictor

        return load_predictor(settings, alias=alias)

    return load


def _champion_version(settings: Settings) -> str | None:
    from crypto_mlops.models.registry import champion_version, get_client

    version = champion_version(get_client(settings), settings.model_name, settings.model_alias)
    return None if version is None else str(version.version)


def _load_baseline(name: str) -> Predictor:
    from crypto_mlops.models.inference import baseline_predictor

    return baseline_predictor(name)


class ModelHolder:
    def __init__(
        self,
        settings: Settings,
        load_champion: Callable[[Settings], Predictor] = _load_champion,
        load_baseline: Callable[[str], Predictor] = _load_baseline,
        on_change: ModelCallback | None = None,
        champion_probe: Callable[[Settings], str | None] = _champion_version,
        alias: str | None = None,
    ) -> None:
        self.settings = settings
        self.alias = alias or settings.model_alias  # what `load_champion` loads (used in descriptions)
        self._load_champion = load_champion
        self._load_baseline = load_baseline
        self._champion_probe = champion_probe
        self._subscribers: list[ModelCallback] = [] if on_change is None else [on_change]
        self._lock = threading.Lock()
        self._predictor: Predictor | None = None
        self.fallback = False
        self.fallback_reason: str | None = None
        self.load_time: datetime | None = None
        self.last_reload_at: datetime | None = None
        self.last_reload_error: str | None = None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.settings.model_name}@{self.alias}"

    @property
    def served_alias(self) -> str:
        """What serves now: this holder's alias, or `baseline:har` while it falls back."""
        return f"baseline:{FALLBACK_BASELINE}" if self.fallback else self.alias

    @property
    def version(self) -> str | None:
        """Version of the champion being served (None: nothing loaded, or the baseline)."""
        predictor = self._predictor
        return None if predictor is None or self.fallback else str(predictor.model_version)

    @property
    def loaded(self) -> bool:
        return self._predictor is not None

    @property
    def current(self) -> Predictor | None:
        """The model serving now, without loading one (None before the first load)."""
        return self._predictor

    def subscribe(self, callback: ModelCallback) -> None:
        """Call `callback(predictor, fallback)` after every model change (several callbacks allowed)."""
        self._subscribers.append(callback)

    def get(self) -> Predictor:
        """The serving model; loads it on first use."""
        predictor = self._predictor
        if predictor is None:
            with self._lock:
                if self._predictor is None:
                    self._initial_load()
                predictor = self._predictor
        assert predictor is not None
        return predictor

    def reload(self) -> ReloadResult:
        """Load the current champion again; keep the serving model if that fails."""
        with self._lock:
            self.last_reload_at = utc_now()
            try:
                predictor = self._load_champion(self.settings)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                self.last_reload_error = reason
                if self._predictor is None:
                    self._use_baseline(reason)
                keep = self._predictor
                log.warning("model reload failed (%s); still serving %s", reason, _describe(keep))
                return ReloadResult(
                    success=False,
                    message=f"reload failed, still serving {_describe(keep)}: {reason}",
                    model_version=keep.model_version if keep is not None else None,
                    model_type=keep.model_type if keep is not None else None,
                )
            self._set(predictor, fallback=False, reason=None)
            self.last_reload_error = None
            return ReloadResult(
                success=True,
                message=f"loaded {self.model_uri} ({_describe(predictor)})",
                model_version=str(predictor.model_version),
                model_type=predictor.model_type,
            )

    def refresh_if_promoted(self) -> ReloadResult | None:
        """Reload when the registry's champion is not the model being served (another process promoted one).

        Cheap (one registry lookup); a registry that cannot be reached changes nothing. Returns the reload
        result when one happened.
        """
        try:
            version = self._champion_probe(self.settings)
        except Exception as exc:
            log.debug("champion probe failed: %s", exc)
            return None
        current = self._predictor
        if version is None or (current is not None and not self.fallback and str(current.model_version) == version):
            return None
        log.info("champion is now v%s (serving %s): reloading", version, _describe(current))
        return self.reload()

    def info(self) -> ModelInfo:
        predictor = self._predictor
        metrics = dict(predictor.metrics or {}) if predictor else {}
        backtest = predictor.backtest if predictor else None
        if backtest is None:
            backtest = metrics.get("backtest") if isinstance(metrics.get("backtest"), dict) else None
        return ModelInfo(
            model_loaded=predictor is not None,
            model_name=predictor.model_name if predictor else self.settings.model_name,
            model_version=str(predictor.model_version) if predictor else None,
            model_type=predictor.model_type if predictor else None,
            load_time=iso_z(self.load_time),
            metrics=_jsonable(metrics),
            sequence_length=predictor.sequence_length if predictor else None,
            feature_columns=list(predictor.feature_columns) if predictor else [],
            engine=predictor.engine if predictor else None,
            fallback=self.fallback,
            fallback_reason=self.fallback_reason,
            model_uri=self.model_uri,
            mlflow_uri=self.settings.mlflow_tracking_uri,
            backtest=_jsonable(backtest) if backtest else None,
            last_reload_at=iso_z(self.last_reload_at),
            last_reload_error=self.last_reload_error,
            model_alias=self.served_alias if predictor is not None else "",
        )

    # -- internals --------------------------------------------------------------------------
    def _initial_load(self) -> None:
        try:
            self._set(self._load_champion(self.settings), fallback=False, reason=None)
        except Exception as exc:
            self._use_baseline(f"no champion at {self.model_uri}: {type(exc).__name__}: {exc}")

    def _use_baseline(self, reason: str) -> None:
        log.warning("serving the %s baseline: %s", FALLBACK_BASELINE, reason)
        try:
            baseline = self._load_baseline(FALLBACK_BASELINE)
        except Exception as exc:
            raise DataUnavailable(f"no model to serve: {reason}; {FALLBACK_BASELINE} baseline failed: {exc}") from exc
        self._set(baseline, fallback=True, reason=reason)

    def _set(self, predictor: Predictor, fallback: bool, reason: str | None) -> None:
        self._predictor = predictor
        self.fallback = fallback
        self.fallback_reason = reason
        self.load_time = utc_now()
        for callback in self._subscribers:
            callback(predictor, fallback)


def _describe(predictor: Predictor | None) -> str:
    if predictor is None:
        return "no model"
    return f"{predictor.model_name} v{predictor.model_version} ({predictor.model_type})"


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (numpy scalars, NaN and timestamps are common in metric dicts)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if number != number or number in (float("inf"), float("-inf")) else number
