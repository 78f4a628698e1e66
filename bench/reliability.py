"""Benchmark: reliability of the stated confidence, out of sample, on the development candles (not a test).

    .venv/bin/python bench/reliability.py [--data FILE ...] [--start 2020-01-01] [--end YYYY-MM-DD]
        [--models har_xsq,har_x] [--half-life 720] [--binning width|quantile] [--out FILE]

Per pair and model: a weekly walk-forward with an expanding window (`models/walkforward.py`); at every
refit the confidence model is re-fitted on the errors known then (`confidence.block_confidence`,
seeded by the first fit's training tail), and scores the origins until the next refit. The table
groups origins by stated confidence: count, mean stated, observed hit rate (realized RV24 within
±25 % of the forecast), gap in points. `--end` scores only origins up to that date (the validation
run that chose the half-life ends 2019-12-31). Prints the tables and writes JSON to --out.
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
from crypto_mlops.models import confidence
from crypto_mlops.models.backtest import prepare
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.reliability import reliability_table
from crypto_mlops.models.walkforward import WalkForwardConfig, parse_span, run_walk_forward

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAIRS = [DATA / "Binance_BTCUSDT_1h.csv", DATA / "Binance_ETHUSDT_1h.csv"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, action="append", help="candle CSV (repeatable; default BTC and ETH)")
    ap.add_argument("--start", default="2020-01-01", help="first walk-forward origin")
    ap.add_argument("--end", default=None, help="score origins up to this date only")
    ap.add_argument("--refit-every", default="7d")
    ap.add_argument("--models", default="har_xsq,har_x", help="comma-separated")
    ap.add_argument("--half-life", type=float, default=confidence.HALF_LIFE, help="origins; 0 = unweighted")
    ap.add_argument("--binning", choices=["width", "quantile"], default="width")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (bilstm)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "reliability.json")
    args = ap.parse_args()
    names = args.models.split(",")
    if args.threads and "bilstm" in names:
        import torch

        torch.set_num_threads(args.threads)
    # An experiment knob: block_confidence reads the module's half-life at call time.
    confidence.HALF_LIFE = args.half_life or None  # type: ignore[assignment]
    config = WalkForwardConfig(refit_every=parse_span(args.refit_every), start=pd.Timestamp(args.start), mcs_reps=100)
    report: dict[str, Any] = {
        "protocol": {
            "start": args.start,
            "end": args.end,
            "refit_every": args.refit_every,
            "window": "expanding",
            "half_life": args.half_life,
            "calibration_origins": confidence.CAL_ORIGINS,
            "band": confidence.BAND,
            "binning": args.binning,
            "models": names,
        },
        "pairs": {},
    }
    for path in args.data or PAIRS:
        market = load_csv(path)
        start = time.perf_counter()
        prepared = prepare(market.frame, market.timeframe)
        result = run_walk_forward(prepared, config, names, BiLSTMConfig())
        wall = time.perf_counter() - start
        index = pd.DatetimeIndex(result.predictions.index)
        scored = np.ones(len(index), dtype=bool)
        if args.end is not None:
            scored &= index <= pd.Timestamp(args.end, tz="UTC") + pd.Timedelta(hours=23)
        pair: dict[str, Any] = {"wall_seconds": round(wall, 1), "load_avg_1m": round(os.getloadavg()[0], 2)}
        for name in names:
            stated = result.confidence[name][scored]
            hit = confidence.hits(result.predictions["realized"].to_numpy()[scored], result.predictions[name][scored])
            table = reliability_table(stated, hit, binning=args.binning, n_bins=5)
            first, last = index[scored][0], index[scored][-1]
            pair[name] = table.to_dict() | {"first": first.isoformat(), "last": last.isoformat()}
            print(f"\n== {market.symbol} {name}: {first:%Y-%m-%d} .. {last:%Y-%m-%d}")
            print("\n".join(table.lines()))
        report["pairs"][market.symbol] = pair
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
