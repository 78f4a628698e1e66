"""Steps 1-3: extract -> process -> validate, one symbol at a time (Airflow maps them per symbol).

extract  fetches candles newer than the committed watermark and stages them under the run id;
process  rebuilds the regular grid over committed history + staged candles and computes features;
validate checks the staged candles in context (quality report), writes the report and, only when
         it passed, commits the candles (they become history; the watermark moves).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.config import PipelineSettings, Settings, get_settings
from crypto_mlops.data import load_market_data
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.quality import regularize
from crypto_mlops.data.quality import validate as quality_validate
from crypto_mlops.data.schema import (
    canonical_frame,
    normalize_symbol,
    symbol_slug,
    timeframe_delta,
    timeframe_hours,
)
from crypto_mlops.features import compute_features
from crypto_mlops.pipeline import history, layout, pooled
from crypto_mlops.pipeline.errors import ValidationFailed
from crypto_mlops.pipeline.layout import series_of
from crypto_mlops.pipeline.manifests import RunContext, SymbolManifest
from crypto_mlops.pipeline.store import Store, open_store

SOURCES = ("ccxt", "csv", "synthetic")


def _csv_for(symbol: str, timeframe: str, settings: Settings, psettings: PipelineSettings, single: bool) -> Path:
    """The CSV file of a symbol: DATA_CSV_PATH for a single symbol, else a file in PIPELINE_CSV_DIR."""
    if single and settings.data_csv_path is not None:
        return Path(settings.data_csv_path)
    folder = psettings.csv_dir or (Path(settings.data_csv_path).parent if settings.data_csv_path else None)
    slug = symbol_slug(symbol)
    if folder is not None and folder.is_dir():
        matches = sorted(p for p in folder.glob("*.csv") if slug in p.stem.upper())
        preferred = [p for p in matches if timeframe in p.stem]
        if preferred or matches:
            return (preferred or matches)[0]
    raise InvalidInput(
        f"no CSV file for {symbol}: set DATA_CSV_PATH (one symbol) or PIPELINE_CSV_DIR to a folder "
        f"holding a file whose name contains {slug}"
    )


def plan_run(
    run_id: str | None = None,
    symbols: list[str] | None = None,
    source: str | None = None,
    timeframe: str | None = None,
    csv_paths: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> RunContext:
    """Resolve what a run works on; fails fast (InvalidInput) on unknown sources, symbols or files, or on a
    pooled run (PIPELINE_TRAIN_POOLED) whose candidate cannot be pooled."""
    settings = settings or get_settings()
    psettings = PipelineSettings()
    source = source or psettings.source or settings.data_source
    if source not in SOURCES:
        raise InvalidInput(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
    timeframe = timeframe or settings.default_timeframe
    timeframe_hours(timeframe)
    names = [normalize_symbol(s) for s in (symbols or psettings.symbol_list(settings.default_symbol))]
    names = list(dict.fromkeys(names))
    pooled.check(names)  # a pooled run's candidate must be poolable: say so before any candle is fetched
    paths: dict[str, str] = {}
    if source == "csv":
        given = {normalize_symbol(k): v for k, v in (csv_paths or {}).items()}
        for name in names:
            path = (
                Path(given[name])
                if name in given
                else _csv_for(name, timeframe, settings, psettings, single=len(names) == 1)
            )
            if not path.is_file():
                raise InvalidInput(f"CSV file for {name} not found: {path}")
            paths[name] = str(path.resolve())
    return RunContext(
        run_id=layout.safe_run_id(run_id) if run_id else layout.new_run_id(),
        source=source,
        source_key=settings.exchange if source == "ccxt" else source,
        timeframe=timeframe,
        symbols=names,
        csv_paths=paths,
        started_at=datetime.now(UTC).isoformat(),
    )


def _stitch_synthetic(
    new: pd.DataFrame, simulated: pd.DataFrame, mark: pd.Timestamp, store: Store, series: str
) -> pd.DataFrame:
    """Carry the stored price level over to a fresh simulation (the simulator is not prefix-stable).

    Returns within the new candles are the simulator's; only the level is scaled so that the seam is
    the simulated return at the watermark, not a jump between two unrelated paths.
    """
    stored_close = float(history.load_history(store, series)["close"].iloc[-1])
    anchor = simulated.loc[simulated.index <= mark, "close"]
    if anchor.empty or stored_close <= 0:
        return new
    scaled = new.copy()
    scaled[["open", "high", "low", "close"]] *= stored_close / float(anchor.iloc[-1])
    return scaled


def extract(
    context: RunContext | dict[str, Any], symbol: str, store: Store | None = None, settings: Settings | None = None
) -> SymbolManifest:
    """Fetch the candles of `symbol` newer than its committed watermark and stage them."""
    ctx = RunContext.model_validate(context)
    settings = settings or get_settings()
    psettings = PipelineSettings()
    store = store or open_store(settings)
    symbol = normalize_symbol(symbol)
    manifest = SymbolManifest(
        run_id=ctx.run_id,
        symbol=symbol,
        slug=symbol_slug(symbol),
        source=ctx.source,
        source_key=ctx.source_key,
        timeframe=ctx.timeframe,
    )
    series = series_of(manifest)
    step = timeframe_delta(ctx.timeframe)
    mark = history.watermark(store, series)
    manifest.watermark_before = mark.isoformat() if mark is not None else None
    now = pd.Timestamp.now(tz="UTC")

    since = mark + step if mark is not None else None
    if ctx.source == "csv":
        data = load_market_data(
            "csv", symbol, ctx.timeframe, csv_path=ctx.csv_paths[symbol], since=since, settings=settings
        )
    elif ctx.source == "synthetic":
        data = load_market_data("synthetic", symbol, ctx.timeframe, limit=psettings.initial_bars, settings=settings)
    else:
        limit = psettings.initial_bars if since is None else max(2, int((now - since) / step) + 2)
        data = load_market_data("ccxt", symbol, ctx.timeframe, limit=limit, since=since, settings=settings)
    manifest.data_source = data.source
    frame = data.frame
    if ctx.source != "csv":
        # The newest exchange candle may still be open: only closed candles enter history.
        frame = frame[frame.index + step <= now]
    new = frame[frame.index > mark] if mark is not None else frame
    if ctx.source == "synthetic" and mark is not None and not new.empty:
        new = _stitch_synthetic(new, frame, mark, store, series)
    if data.quality is not None:
        manifest.notes += [f"loader: {w}" for w in data.quality.warnings]
        if data.quality.duplicates_removed:
            manifest.notes.append(f"loader removed {data.quality.duplicates_removed} duplicated candles")
    if new.empty:
        manifest.notes.append(
            f"no new candles after {manifest.watermark_before}"
            if mark is not None
            else "the source returned no candles"
        )
        return manifest
    manifest.staged_key = layout.SeriesKeys.of(series, ctx.run_id).staged
    store.put_parquet(layout.RAW, manifest.staged_key, new)
    manifest.new_rows = len(new)
    manifest.first_new, manifest.last_new = new.index[0].isoformat(), new.index[-1].isoformat()
    return manifest


def process(
    manifest: SymbolManifest | dict[str, Any], store: Store | None = None, settings: Settings | None = None
) -> SymbolManifest:
    """Regular grid (gaps filled, flagged) + features over committed history and the new candles.

    Writes the feature rows of the new candles only; the features use all stored history as context.
    """
    manifest = SymbolManifest.model_validate(manifest)
    if not manifest.staged_key:
        return manifest
    store = store or open_store(settings)
    series = series_of(manifest)
    new = store.get_parquet(layout.RAW, manifest.staged_key)
    full = history.load_history(store, series, extra=new)
    regular, filled = regularize(full, manifest.timeframe)
    with np.errstate(divide="ignore", invalid="ignore"):  # bad prices are validate's business, not noise here
        features = compute_features(regular, bar_hours=timeframe_hours(manifest.timeframe))
    processed = regular.join(features.drop(columns=[c for c in features.columns if c in regular.columns]))
    processed["filled"] = processed.index.isin(pd.DatetimeIndex(filled))
    manifest.processed_key = layout.SeriesKeys.of(series, manifest.run_id).processed
    # Only this run's rows (features computed with the whole history as context): runs add, never rewrite.
    new_rows = processed.loc[processed.index >= pd.Timestamp(manifest.first_new)]
    store.put_parquet(layout.PROCESSED, manifest.processed_key, new_rows)
    manifest.history_rows = len(processed)
    manifest.filled_bars = len(filled)
    return manifest


def _feature_problems(processed: pd.DataFrame, first_new: pd.Timestamp) -> list[str]:
    numeric = processed.loc[processed.index >= first_new].select_dtypes("number")
    infinite = int(np.isinf(numeric.to_numpy(dtype=float)).sum())
    return [f"{infinite} infinite feature values in the new candles"] if infinite else []


def validate(
    manifest: SymbolManifest | dict[str, Any], store: Store | None = None, settings: Settings | None = None
) -> SymbolManifest:
    """Quality-check the new candles with `context_bars` of stored history; commit them only if they pass.

    Raises ValidationFailed (after writing the report) with every problem found; nothing is committed then.
    """
    manifest = SymbolManifest.model_validate(manifest)
    if not manifest.staged_key:
        manifest.passed = True
        return manifest
    settings = settings or get_settings()
    store = store or open_store(settings)
    psettings = PipelineSettings()
    series = series_of(manifest)
    new = store.get_parquet(layout.RAW, manifest.staged_key)
    stored = history.load_history(store, series)
    checked = canonical_frame(pd.concat([stored.tail(psettings.context_bars), new]))
    report = quality_validate(checked, manifest.timeframe)
    problems = list(report.problems)
    if manifest.processed_key:
        processed = store.get_parquet(layout.PROCESSED, manifest.processed_key)
        problems += _feature_problems(processed, pd.Timestamp(manifest.first_new))
    manifest.problems = problems
    manifest.warnings = list(report.warnings)
    manifest.passed = not problems
    manifest.report_key = layout.SeriesKeys.of(series, manifest.run_id).report
    payload = report.model_dump(mode="json") | {
        "problems": problems,
        "passed": manifest.passed,
        "run_id": manifest.run_id,
        "symbol": manifest.symbol,
        "source": manifest.data_source or manifest.source,
        "new_rows": manifest.new_rows,
        "new_range": [manifest.first_new, manifest.last_new],
        "context_rows": len(checked) - manifest.new_rows,
        "checked_at": datetime.now(UTC).isoformat(),
    }
    store.put_json(layout.REPORTS, manifest.report_key, payload)
    if problems:
        raise ValidationFailed(
            f"{manifest.symbol} ({manifest.new_rows} new candles, report "
            f"{layout.REPORTS}/{manifest.report_key}): " + "; ".join(problems),
            report_key=manifest.report_key,
        )
    store.put_json(
        layout.RAW,
        layout.SeriesKeys.of(series, manifest.run_id).commit,
        {
            "run_id": manifest.run_id,
            "key": manifest.staged_key,
            "first": manifest.first_new,
            "last": manifest.last_new,
            "rows": manifest.new_rows,
            "committed_at": datetime.now(UTC).isoformat(),
        },
    )
    manifest.committed = True
    return manifest
