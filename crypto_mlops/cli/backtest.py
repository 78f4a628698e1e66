"""`crypto-mlops backtest`: score every volatility model out of sample on a candle CSV.

One chronological split (fit on the first part, forecast the rest), or `--walk-forward`: refit on a
schedule and forecast until the next refit, as the pipeline runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from crypto_mlops.cli.common import console, friendly_errors
from crypto_mlops.data.errors import InvalidInput

if TYPE_CHECKING:
    from crypto_mlops.data.market import MarketData
    from crypto_mlops.models.backtest import ForecastTable
    from crypto_mlops.models.bilstm_config import BiLSTMConfig

progress_console = Console(stderr=True)


def register(root: typer.Typer) -> None:
    root.command("backtest")(backtest)


def parse_models(models: str | None) -> list[str] | None:
    from crypto_mlops.models.zoo import MODEL_CLASSES

    if not models:
        return None
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODEL_CLASSES]
    if unknown:
        raise InvalidInput(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_CLASSES)}")
    return names


def bilstm_config_from(epochs: int | None, tiny: bool, seed: int) -> BiLSTMConfig:
    from crypto_mlops.models.bilstm_config import BiLSTMConfig

    cfg = BiLSTMConfig.tiny() if tiny else BiLSTMConfig()
    cfg.seed = seed
    if epochs is not None:
        cfg.epochs = epochs
    return cfg


def show_step(status: Any, text: str) -> None:
    """Spinner for quick steps; the BiLSTM shows its own per-epoch bar, so the spinner stops for it."""
    if "bilstm" in text:
        status.stop()
        progress_console.print(f"{text} (per-epoch progress below)")
    else:
        status.start()  # no-op while running; restarts the spinner after the BiLSTM
        status.update(text)


def _fmt(x: float, spec: str) -> str:
    return "—" if x is None or not math.isfinite(x) else format(x, spec)


def results_table(table: list[dict[str, Any]], title: str) -> Table:
    best = min(r["qlike"] for r in table)
    t = Table(title=title)
    for col in ("model", "QLIKE", "vs HAR", "MSE", "MAE", "MZ R²", "DM t", "DM p"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for r in table:
        style = "bold green" if r["qlike"] == best else None
        t.add_row(
            r["model"],
            _fmt(r["qlike"], ".4f"),
            _fmt(r["qlike_vs_har"], ".3f"),
            _fmt(r["mse"], ".3e"),
            _fmt(r["mae"], ".4f"),
            _fmt(r["mz_r2"], ".3f"),
            _fmt(r["dm_t"], ".2f"),
            _fmt(r["dm_p"], ".3f"),
            style=style,
        )
    return t


def walk_forward_table(table: list[dict[str, Any]], mcs_size: float) -> Table:
    """Second table of a walk-forward run: quantile calibration, the Model Confidence Set, fit time."""
    t = Table(title=f"80 % interval, quantiles and the {mcs_size:.0%} Model Confidence Set (QLIKE)")
    for col in ("model", "cov 80%", "pinball", "MCS p", "in MCS", "fit s"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for r in table:
        t.add_row(
            r["model"],
            _fmt(r["cov80"], ".3f"),
            _fmt(r["pinball"], ".5f"),
            _fmt(r["mcs_p"], ".3f"),
            "yes" if r["in_mcs"] else "no",
            _fmt(r["fit_seconds"], ".1f"),
            style="bold green" if r["in_mcs"] else None,
        )
    return t


@friendly_errors
def backtest(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Candle CSV (CryptoDataDownload, Binance klines, timestamp,open,high,low,close,volume or date,...).",
        ),
    ],
    train_frac: Annotated[
        float, typer.Option(help="Share of rows used for training (chronological).", min=0.05, max=0.95)
    ] = 0.7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON (progress goes to stderr).")] = False,
    predictions_out: Annotated[
        Path | None, typer.Option(help="Write per-origin forecasts: timestamp (UTC ISO) + one RV24 column per model.")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option(help="Comma-separated models (default: all), e.g. har,har_x,har_xsq,bilstm."),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="BiLSTM max epochs (default from its config).", min=1)] = None,
    tiny: Annotated[bool, typer.Option(help="Tiny BiLSTM (seconds; for smoke tests).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the learned model.")] = 42,
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="Refit on a schedule and forecast until the next refit.")
    ] = False,
    refit_every: Annotated[str, typer.Option(help="Walk-forward refit interval (pandas span: 7d, 24h).")] = "7d",
    window: Annotated[
        str, typer.Option(help="Walk-forward training window: expanding, or rolling:<span> (e.g. rolling:365d).")
    ] = "expanding",
    har_window: Annotated[
        str | None,
        typer.Option(help="Walk-forward window of the HAR-family models only (e.g. rolling:365d); default --window."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Walk-forward first origin (UTC date); default: after --train-frac of the rows.")
    ] = None,
    warm_start: Annotated[bool, typer.Option(help="Walk-forward: learned models fine-tune their previous fit.")] = True,
) -> None:
    """Out-of-sample backtest: QLIKE (variance), MSE/MAE (vol), Mincer-Zarnowitz R², Diebold-Mariano t vs HAR.

    With --walk-forward also the 80 % interval coverage, the pinball loss of the 10/50/90 % quantiles and
    the 10 % Model Confidence Set (* marks its members).
    """
    from crypto_mlops.data.sources.csv_source import load_csv

    names = parse_models(models)
    market = load_csv(data)
    if walk_forward:
        _walk_forward(
            market,
            data,
            names,
            train_frac,
            refit_every,
            window,
            har_window,
            start,
            warm_start,
            bilstm_config_from(epochs, tiny, seed),
            as_json,
            predictions_out,
        )
        return
    from crypto_mlops.models.backtest import prepare, run_backtest

    with progress_console.status(f"preparing {market.symbol} {market.timeframe} ({len(market.frame)} candles)") as st:
        prepared = prepare(market.frame, market.timeframe)
        try:
            result = run_backtest(
                prepared,
                train_frac,
                names,
                bilstm_config_from(epochs, tiny, seed),
                on_model=lambda n: show_step(st, f"fitting and forecasting {n}"),
            )
        except (ValueError, KeyError) as exc:
            raise InvalidInput(str(exc).strip("'\"")) from None
    if _write_outputs(result, market, data, train_frac, predictions_out, as_json):
        return
    s = result.split
    console.print(results_table(result.table, f"{market.symbol} {market.timeframe}: out-of-sample RV24 forecasts"))
    console.print(
        f"train {s['train_start']} → {s['train_end']} · test {s['test_start']} → {s['test_end']} "
        f"({s['test_origins']} origins) · DM: QLIKE loss vs {s['dm_reference']}, Newey-West "
        f"{s['dm_hac_lags']} lags (t < 0: better than HAR)"
    )
    console.print("MSE/MAE on RV24 (volatility), QLIKE on variance; DM t: QLIKE loss vs har.")
    console.print(f"fit+forecast seconds: {result.fit_seconds}")
    if predictions_out is not None:
        console.print(f"forecasts written to {predictions_out}")
    console.print("[dim]Research only — not trading advice.[/]")


def _walk_forward(
    market: Any,
    data: Path,
    names: list[str] | None,
    train_frac: float,
    refit_every: str,
    window: str,
    har_window: str | None,
    start: str | None,
    warm_start: bool,
    bilstm_config: BiLSTMConfig,
    as_json: bool,
    predictions_out: Path | None,
) -> None:
    import pandas as pd

    from crypto_mlops.models.backtest import prepare
    from crypto_mlops.models.walkforward import WalkForwardConfig, parse_span, parse_window, run_walk_forward

    try:
        config = WalkForwardConfig(
            refit_every=parse_span(refit_every),
            window=parse_window(window),
            har_window=parse_window(har_window) if har_window else None,
            start=pd.Timestamp(start) if start else None,
            train_frac=train_frac,
            warm_start=warm_start,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    progress_console.print(f"preparing {market.symbol} {market.timeframe} ({len(market.frame)} candles)")
    prepared = prepare(market.frame, market.timeframe)
    try:
        result = run_walk_forward(prepared, config, names, bilstm_config)
    except (ValueError, KeyError) as exc:
        raise InvalidInput(str(exc).strip("'\"")) from None
    if _write_outputs(result, market, data, train_frac, predictions_out, as_json):
        return
    s = result.split
    title = f"{market.symbol} {market.timeframe}: walk-forward RV24 ({s['window']}, refit every {s['refit_every']})"
    console.print(results_table(result.table, title))
    console.print(walk_forward_table(result.table, s["mcs_size"]))
    console.print(
        f"{s['refits']} refits from {s['first_refit']} · test {s['test_start']} → {s['test_end']} "
        f"({s['test_origins']} origins) · DM t: QLIKE loss vs {s['dm_reference']} (t < 0: better than HAR)"
    )
    if predictions_out is not None:
        console.print(f"forecasts written to {predictions_out}")
    console.print("[dim]Research only — not trading advice.[/]")


def _write_outputs(
    result: ForecastTable,
    market: MarketData,
    data: Path,
    train_frac: float,
    predictions_out: Path | None,
    as_json: bool,
) -> bool:
    """The predictions file when asked, and the JSON answer; True when JSON was printed (nothing else to show)."""
    if predictions_out is not None:
        predictions_out.parent.mkdir(parents=True, exist_ok=True)
        result.predictions_csv().to_csv(predictions_out, float_format="%.8g")
    if as_json:
        payload = {"data": str(data), "symbol": market.symbol, "train_frac": train_frac, **result.to_dict()}
        typer.echo(json.dumps(payload, indent=2))
    return as_json
