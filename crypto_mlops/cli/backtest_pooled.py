"""`crypto-mlops backtest --data A.csv --data B.csv` (or `--symbols A,B`): per-pair and pooled models.

Every model of `--models` is fitted on each pair alone; the poolable ones (`har_x`, `har_xsq`, `bilstm`,
or `--pooled`) are also fitted once on all pairs together and appear as `<name>_pooled`. Scores are per
pair. `--json` prints {"pairs": {symbol: <the one-pair answer>}}; `--predictions-out FILE.csv` writes
one file per pair, `FILE.<SYMBOL>.csv`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from crypto_mlops.cli.common import console
from crypto_mlops.cli.pairs import PairData
from crypto_mlops.cli.tables import progress_console, results_table, walk_forward_table
from crypto_mlops.data.errors import InvalidInput

if TYPE_CHECKING:
    from crypto_mlops.models.backtest import ForecastTable, Prepared
    from crypto_mlops.models.bilstm_config import BiLSTMConfig
    from crypto_mlops.models.walkforward import WalkForwardConfig


@dataclass
class PooledRun:
    data: list[PairData]
    models: list[str] | None
    pooled: str | None
    train_frac: float
    bilstm_config: BiLSTMConfig
    as_json: bool
    predictions_out: Path | None


def pooled_names(pooled: str | None, models: list[str]) -> list[str]:
    """The models to pool: `--pooled` (or 'none'), else every poolable model among `models`."""
    from crypto_mlops.models.pooled import POOLABLE

    if pooled is not None and pooled.strip().lower() == "none":
        return []
    if pooled is None:
        return [m for m in POOLABLE if m in models]
    names = [m.strip().removesuffix("_pooled") for m in pooled.split(",") if m.strip()]
    bad = [m for m in names if m not in POOLABLE]
    if bad:
        raise InvalidInput(f"cannot pool {', '.join(bad)}; poolable: {', '.join(POOLABLE)}")
    return names


def prepare_pairs(pairs: list[PairData]) -> dict[str, Prepared]:
    """Prepared candles per pair, keyed by the pair's name."""
    from crypto_mlops.models.backtest import prepare

    out: dict[str, Prepared] = {}
    for pair in pairs:
        market = pair.market
        progress_console.print(f"preparing {pair.key} {market.timeframe} ({len(market.frame)} candles)")
        out[pair.key] = prepare(market.frame, market.timeframe)
    return out


def pooled_backtest(run: PooledRun, wf_config: WalkForwardConfig | None) -> None:
    from crypto_mlops.models.backtest import contenders
    from crypto_mlops.models.pooled import run_pooled_backtest
    from crypto_mlops.models.walkforward_pooled import run_pooled_walk_forward

    prepared = prepare_pairs(run.data)
    try:
        names = contenders(run.models)
        pooled = pooled_names(run.pooled, names)
        results: dict[str, ForecastTable]
        if wf_config is None:
            results = dict(run_pooled_backtest(prepared, run.train_frac, names, pooled, run.bilstm_config))
        else:
            results = dict(run_pooled_walk_forward(prepared, wf_config, names, pooled, run.bilstm_config))
    except (ValueError, KeyError) as exc:
        raise InvalidInput(str(exc).strip("'\"")) from None
    if run.predictions_out is not None:
        run.predictions_out.parent.mkdir(parents=True, exist_ok=True)
        for pair, result in results.items():
            tag = "".join(ch for ch in pair if ch.isalnum() or ch in "-_.")
            result.predictions_csv().to_csv(run.predictions_out.with_suffix(f".{tag}.csv"), float_format="%.8g")
    if run.as_json:
        payload: dict[str, Any] = {
            "data": [p.origin for p in run.data],
            "train_frac": run.train_frac,
            "pooled": [f"{n}_pooled" for n in pooled],
            "pairs": {pair: result.to_dict() for pair, result in results.items()},
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    for pair, result in results.items():
        table: list[dict[str, Any]] = result.to_dict()["table"]
        mode = "walk-forward" if wf_config is not None else "out-of-sample"
        console.print(results_table(table, f"{pair}: {mode} RV24 forecasts (pooled models: <name>_pooled)"))
        if wf_config is not None:
            console.print(walk_forward_table(table, wf_config.mcs_size))
        split = result.to_dict()["split"]
        console.print(f"test {split['test_start']} → {split['test_end']} ({split['test_origins']} origins)")
    console.print("[dim]Research only — not trading advice.[/]")
