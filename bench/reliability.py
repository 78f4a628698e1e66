"""Benchmark: reliability of the stated confidence, out of sample, on the development candles (not a test).

    .venv/bin/python bench/reliability.py [--data FILE ...] [--start 2020-01-01] [--end YYYY-MM-DD]
        [--models har_xsq,har_x] [--single-split [--train-frac 0.7]] [--half-life 2880] [--shrink 720]
        [--threads N] [--out FILE]

Per pair and model: a weekly walk-forward with an expanding window (`models/walkforward.py`); at every
refit the confidence model is re-fitted on the errors known then (`confidence.block_confidence`,
seeded by the first fit's training tail), and scores the origins until the next refit. The table
groups origins by stated confidence: count, mean stated, observed hit rate (realized RV24 within
±25 % of the forecast), gap in points. `--end` scores only origins up to that date (the validation
run that chose the half-life and the shrinkage ends 2019-12-31). `--single-split` fits each model once
on the first `--train-frac` (as `crypto-mlops backtest` does) and re-estimates only the confidence
weekly over the test part: the cheap protocol for the BiLSTM. `--half-life 1440` is the confidence of
the first round (60 days), `--half-life 0 --shrink 30` the one before it (unweighted, light shrinkage).
Prints the tables (fixed-width bins and quintiles of stated confidence) and writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.data.sources.csv_source import load_csv
from crypto_mlops.features.volatility import bars
from crypto_mlops.models import confidence
from crypto_mlops.models.backtest import WARMUP_HOURS, Prepared, prepare, run_backtest
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.reliability import reliability_table
from crypto_mlops.models.target import chronological_split
from crypto_mlops.models.walkforward import WalkForwardConfig, parse_span, refit_blocks, run_walk_forward

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAIRS = [DATA / "Binance_BTCUSDT_1h.csv", DATA / "Binance_ETHUSDT_1h.csv"]


Stated = tuple[pd.DataFrame, dict[str, np.ndarray]]  # predictions (realized + one column per model), stated


def walk_forward(prepared: Prepared, names: list[str], config: WalkForwardConfig) -> Stated:
    result = run_walk_forward(prepared, config, names, BiLSTMConfig())
    return result.predictions, result.confidence


def single_split(prepared: Prepared, names: list[str], train_frac: float, every: pd.Timedelta) -> Stated:
    """Models fitted once; the confidence re-fitted every `every` on the test errors known by then."""
    result = run_backtest(prepared, train_frac, names, BiLSTMConfig())
    f, h = prepared.features, prepared.horizon
    realized = prepared.target.to_numpy(float)
    split = chronological_split(len(f), train_frac, h)
    train = split.train_mask() & (np.arange(len(f)) >= bars(WARMUP_HOURS, prepared.bar_hours))
    rows = pd.DatetimeIndex(f.index).get_indexer(pd.DatetimeIndex(result.predictions.index))
    blocks = refit_blocks(pd.DatetimeIndex(f.index), int(rows[0]), int(rows[-1]) + 1, every)
    stated = {}
    for name in names:
        fc = np.full(len(f), np.nan)
        fc[rows] = result.predictions[name].to_numpy()
        seed = confidence.tail_sample(result.models[name], f, realized, train)
        stated[name] = confidence.block_confidence(f, realized, fc, blocks, h, seed)[rows]
    return result.predictions, stated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", help="candle CSV (repeatable; default BTC and ETH)")
    ap.add_argument("--start", default="2020-01-01", help="first walk-forward origin")
    ap.add_argument("--end", default=None, help="score origins up to this date only")
    ap.add_argument("--refit-every", default="7d")
    ap.add_argument("--single-split", action="store_true", help="fit once on --train-frac, not walk-forward")
    ap.add_argument("--train-frac", type=float, default=0.7)
    ap.add_argument("--models", default="har_xsq,har_x", help="comma-separated")
    ap.add_argument("--half-life", type=float, default=confidence.HALF_LIFE, help="origins; 0 = unweighted")
    ap.add_argument("--shrink", type=float, default=confidence.SHRINK, help="pseudo-origins per bin")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (bilstm)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "reliability.json")
    args = ap.parse_args()
    names = args.models.split(",")
    if args.threads and "bilstm" in names:
        import torch

        torch.set_num_threads(args.threads)
    # An experiment knob: block_confidence reads the module's half-life at call time.
    confidence.HALF_LIFE = args.half_life or None  # type: ignore[assignment]
    confidence.SHRINK = args.shrink
    config = WalkForwardConfig(refit_every=parse_span(args.refit_every), start=pd.Timestamp(args.start), mcs_reps=100)
    report: dict[str, Any] = {
        "protocol": {
            "mode": "single-split" if args.single_split else "walk-forward",
            "start": None if args.single_split else args.start,
            "train_frac": args.train_frac if args.single_split else None,
            "end": args.end,
            "refit_every": args.refit_every,
            "window": "expanding",
            "half_life": args.half_life,
            "calibration_origins": confidence.CAL_ORIGINS,
            "band": confidence.BAND,
            "shrink": args.shrink,
            "models": names,
        },
        "pairs": {},
    }
    for path in args.data or PAIRS:
        market = load_csv(path)
        start = time.perf_counter()
        prepared = prepare(market.frame, market.timeframe)
        if args.single_split:
            predictions, stated_by = single_split(prepared, names, args.train_frac, config.refit_every)
        else:
            predictions, stated_by = walk_forward(prepared, names, config)
        wall = time.perf_counter() - start
        index = pd.DatetimeIndex(predictions.index)
        scored = np.ones(len(index), dtype=bool)
        if args.end is not None:
            scored &= index <= pd.Timestamp(args.end, tz="UTC") + pd.Timedelta(hours=23)
        pair: dict[str, Any] = {"wall_seconds": round(wall, 1), "load_avg_1m": round(os.getloadavg()[0], 2)}
        for name in names:
            stated = stated_by[name][scored]
            hit = confidence.hits(predictions["realized"].to_numpy()[scored], predictions[name].to_numpy()[scored])
            width = reliability_table(stated, hit)
            quintiles = reliability_table(stated, hit, binning="quantile", n_bins=5)
            first, last = index[scored][0], index[scored][-1]
            pair[name] = {"first": first.isoformat(), "last": last.isoformat()}
            pair[name] |= {"width_bins": width.to_dict(), "quintile_bins": quintiles.to_dict()}
            print(f"\n== {market.symbol} {name}: {first:%Y-%m-%d} .. {last:%Y-%m-%d}")
            print("\n".join([*width.lines(), "quintiles of stated confidence:", *quintiles.lines()[:-2]]))
        report["pairs"][market.symbol] = pair
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
