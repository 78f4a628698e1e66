"""The backtest's tables as the terminal shows them (one-pair and multi-pair runs share them)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

progress_console = Console(stderr=True)


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
