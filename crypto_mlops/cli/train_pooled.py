"""`crypto-mlops train --data A.csv --data B.csv` (or `--symbols A,B`): one pooled candidate, per-pair report."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from crypto_mlops.cli.common import console
from crypto_mlops.cli.tables import progress_console, results_table
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.models.bilstm_config import BiLSTMConfig

if TYPE_CHECKING:
    from crypto_mlops.data.market import MarketData


def train_pooled(
    markets: list[MarketData], train_frac: float, candidate: str, bilstm_config: BiLSTMConfig, as_json: bool
) -> None:
    """Logs one MLflow run (no registration: per-pair champions go through the promotion path)."""
    from crypto_mlops.models.training_pooled import train_pooled_logged

    with progress_console.status("training") as status:
        try:
            result = train_pooled_logged(
                markets, None, train_frac, candidate, bilstm_config, on_step=lambda s: status.update(s)
            )
        except (ValueError, KeyError) as exc:
            raise InvalidInput(str(exc).strip("'\"")) from None
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2, default=str))
        return
    for pair, backtest in result.backtests.items():
        console.print(results_table(backtest.table, f"{pair}: validation window ({result.candidate} on all pairs)"))
    console.print(f"MLflow run {result.run_id} · {result.candidate} trained on {', '.join(result.pairs)}")
    console.print("not registered: a pooled candidate goes through the per-pair promotion path")
