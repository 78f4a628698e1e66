"""`crypto-mlops backtest`: score every volatility model out of sample on a candle CSV.

One chronological split (fit on the first part, forecast the rest), or `--walk-forward`: refit on a
schedule and forecast until the next refit, as the pipeline runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crypto_mlops.cli.common import console, friendly_errors
from crypto_mlops.cli.tables import progress_console, results_table, walk_forward_table
from crypto_mlops.data.errors import InvalidInput

if TYPE_CHECKING:
    from crypto_mlops.data.market import MarketData
    from crypto_mlops.models.backtest import ForecastTable
    from crypto_mlops.models.bilstm_config import BiLSTMConfig
    from crypto_mlops.models.walkforward import WalkForwardConfig


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


@friendly_errors
def backtest(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Candle CSV (CryptoDataDownload, Binance klines, timestamp,open,high,low,close,volume or date,...). "
            "Repeat for several pairs: per-pair and pooled models, scored per pair.",
        ),
    ] = None,
    symbols: Annotated[
        str | None,
        typer.Option(help="Instead of --data: comma-separated pairs fetched from --source (e.g. BTC/USDT,ETH/USDT)."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source of --symbols: ccxt or synthetic (default DATA_SOURCE).")
    ] = None,
    timeframe: Annotated[str | None, typer.Option(help="Candle timeframe of --symbols (default 1h).")] = None,
    limit: Annotated[
        int | None, typer.Option(help="Newest candles per pair of --symbols (ccxt fetches that many).", min=1000)
    ] = None,
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
    retrain_every: Annotated[
        str | None,
        typer.Option(
            help="Walk-forward: learned models keep their fit between refits and are retrained from scratch "
            "at this interval (e.g. 90d); baselines still refit every --refit-every."
        ),
    ] = None,
    pooled: Annotated[
        str | None,
        typer.Option(
            help="With several --data: models also trained on all pairs at once, shown as <name>_pooled "
            "(default: har_x,har_xsq,bilstm among --models; 'none' for none)."
        ),
    ] = None,
    base: Annotated[str, typer.Option(help="Linear base of the BiLSTM: har_x or har_xsq.")] = "har_x",
    pair_embedding: Annotated[
        int, typer.Option(help="Pooled BiLSTM: size of the learned pair embedding (0: none).", min=0)
    ] = 0,
) -> None:
    """Out-of-sample backtest: QLIKE (variance), MSE/MAE (vol), Mincer-Zarnowitz R², Diebold-Mariano t vs HAR.

    With --walk-forward also the 80 % interval coverage, the pinball loss of the 10/50/90 % quantiles and
    the 10 % Model Confidence Set (* marks its members).
    """
    from crypto_mlops.cli.pairs import load_pairs_data

    names = parse_models(models)
    bilstm_config = bilstm_config_from(epochs, tiny, seed)
    if base not in ("har_x", "har_xsq"):
        raise InvalidInput(f"--base must be har_x or har_xsq, got {base!r}")
    bilstm_config.base, bilstm_config.pair_embedding = base, pair_embedding
    wf_config = (
        walk_forward_config(train_frac, refit_every, window, har_window, start, warm_start, retrain_every)
        if walk_forward
        else None
    )
    pairs = load_pairs_data(data, source, symbols, timeframe, limit)
    if len(pairs) > 1:
        from crypto_mlops.cli.backtest_pooled import PooledRun, pooled_backtest

        pooled_backtest(PooledRun(pairs, names, pooled, train_frac, bilstm_config, as_json, predictions_out), wf_config)
        return
    market, data_path = pairs[0].market, pairs[0].origin
    if wf_config is not None:
        _walk_forward(market, data_path, names, wf_config, bilstm_config, as_json, predictions_out)
        return
    from crypto_mlops.models.backtest import prepare, run_backtest

    with progress_console.status(f"preparing {market.symbol} {market.timeframe} ({len(market.frame)} candles)") as st:
        prepared = prepare(market.frame, market.timeframe)
        try:
            result = run_backtest(
                prepared,
                train_frac,
                names,
                bilstm_config,
                on_model=lambda n: show_step(st, f"fitting and forecasting {n}"),
            )
        except (ValueError, KeyError) as exc:
            raise InvalidInput(str(exc).strip("'\"")) from None
    if _write_outputs(result, market, data_path, train_frac, predictions_out, as_json):
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


def walk_forward_config(
    train_frac: float,
    refit_every: str,
    window: str,
    har_window: str | None,
    start: str | None,
    warm_start: bool,
    retrain_every: str | None = None,
) -> WalkForwardConfig:
    import pandas as pd

    from crypto_mlops.models.walkforward import WalkForwardConfig, parse_span, parse_window

    try:
        return WalkForwardConfig(
            refit_every=parse_span(refit_every),
            window=parse_window(window),
            har_window=parse_window(har_window) if har_window else None,
            start=pd.Timestamp(start) if start else None,
            train_frac=train_frac,
            warm_start=warm_start,
            retrain_every=parse_span(retrain_every) if retrain_every else None,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _walk_forward(
    market: Any,
    data: str,
    names: list[str] | None,
    config: WalkForwardConfig,
    bilstm_config: BiLSTMConfig,
    as_json: bool,
    predictions_out: Path | None,
) -> None:
    from crypto_mlops.models.backtest import prepare
    from crypto_mlops.models.walkforward import run_walk_forward

    progress_console.print(f"preparing {market.symbol} {market.timeframe} ({len(market.frame)} candles)")
    prepared = prepare(market.frame, market.timeframe)
    try:
        result = run_walk_forward(prepared, config, names, bilstm_config)
    except (ValueError, KeyError) as exc:
        raise InvalidInput(str(exc).strip("'\"")) from None
    if _write_outputs(result, market, data, config.train_frac, predictions_out, as_json):
        return
    s = result.split
    title = f"{market.symbol} {market.timeframe}: walk-forward RV24 ({s['window']}, refit every {s['refit_every']})"
    if s.get("retrain_every"):
        title = f"{title[:-1]}; learned models retrained every {s['retrain_every']})"
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
    data: str,
    train_frac: float,
    predictions_out: Path | None,
    as_json: bool,
) -> bool:
    """The predictions file when asked, and the JSON answer; True when JSON was printed (nothing else to show)."""
    if predictions_out is not None:
        predictions_out.parent.mkdir(parents=True, exist_ok=True)
        result.predictions_csv().to_csv(predictions_out, float_format="%.8g")
    if as_json:
        payload = {"data": data, "symbol": market.symbol, "train_frac": train_frac, **result.to_dict()}
        typer.echo(json.dumps(payload, indent=2))
    return as_json
