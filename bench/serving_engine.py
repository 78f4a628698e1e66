"""Serving a saved BiLSTM with torch vs ONNX Runtime (MODEL_ENGINE): memory, latency, agreement (not a test).

1. fits a BiLSTM with the default network sizes (window 168, hidden 24; few epochs: memory and latency
   do not depend on how well it is trained) on the newest candles of the BTC development file
   (`../shared/data`, else synthetic candles), and saves it as registration would (state.json,
   weights.pt, net.onnx); with `--registry` also logs it to a temporary SQLite MLflow registry as the
   `champion`;
2. per engine, in a fresh interpreter as the API would: imports `crypto_mlops.models.inference`
   (what a process serving a baseline holds already), then loads the model with that engine
   (`catalog.load_model`, or `load_predictor` from the registry with `--registry`), and forecasts
   through `ModelPredictor.predict` on the service's 1500 candles, `--calls` times (1 thread);
3. records resident memory (RSS) after the import, after the load and after the calls, the latency
   of a whole forecast (features + model) and of the model alone (the last origin), the heavy modules
   in the process, and compares the engines' forecasts at the last 200 origins.

    nice -n 19 .venv/bin/python bench/serving_engine.py [--calls 200] [--registry] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared" / "data" / "Binance_BTCUSDT_1h.csv"
CANDLES = 1500  # what the service's cache holds per pair (service/market.py CACHE_BARS)
COMPARE = 200  # origins whose forecasts are compared between the engines

SERVE = r"""
import json, os, sys, time
import psutil
proc = psutil.Process()
engine, folder, calls, uri = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
start = proc.memory_info().rss
import numpy as np, pandas as pd
from crypto_mlops.models.inference import ModelPredictor
imported = proc.memory_info().rss
candles = pd.read_pickle(f"{folder}/candles.pkl")
t0 = time.perf_counter()
if uri:
    from crypto_mlops.config import Settings
    from crypto_mlops.models.inference import load_predictor
    predictor = load_predictor(Settings(MLFLOW_TRACKING_URI=uri, MODEL_ENGINE=engine))
else:
    from pathlib import Path
    from crypto_mlops.models.catalog import load_model
    predictor = ModelPredictor(load_model(Path(folder) / "model", engine), "crypto-predictor", "1")
load_s = time.perf_counter() - t0
loaded = proc.memory_info().rss
from crypto_mlops.features import model_features
features = model_features(candles, 1.0)
compare = predictor.forecast_rows(features, 1.0, n=COMPARE_N).rv_24h
mask = np.zeros(len(features), bool)
mask[-1] = True
whole, model_only = [], []
for _ in range(calls):
    t = time.perf_counter()
    predictor.predict(candles, "bench")
    whole.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    predictor.model.predict(features, mask)
    model_only.append((time.perf_counter() - t) * 1000)
whole.sort(); model_only.sort()
q = lambda xs, p: round(xs[min(len(xs) - 1, int(p * len(xs)))], 3)
heavy = {"torch", "onnxruntime", "mlflow", "pandas", "sklearn"}
print(json.dumps({
    "engine": engine,
    "model_class": type(predictor.model).__name__,
    "load_s": round(load_s, 3),
    "rss_start_mb": round(start / 2**20, 1),
    "rss_after_import_mb": round(imported / 2**20, 1),
    "rss_loaded_mb": round(loaded / 2**20, 1),
    "rss_after_calls_mb": round(proc.memory_info().rss / 2**20, 1),
    "forecast_p50_ms": q(whole, 0.5), "forecast_p99_ms": q(whole, 0.99),
    "model_p50_ms": q(model_only, 0.5), "model_p99_ms": q(model_only, 0.99),
    "heavy_modules": sorted({m.split(".")[0] for m in sys.modules} & heavy),
    "forecasts": compare,
}))
""".replace("COMPARE_N", str(COMPARE))


def candles() -> tuple[Any, str]:
    from crypto_mlops.data.loader import load_market_data

    if CSV.is_file():
        return load_market_data("csv", "BTC/USDT", "1h", limit=8000, csv_path=CSV).frame, CSV.name
    from crypto_mlops.data.sources.synthetic import simulate

    return simulate(n_bars=8000, seed=7).frame, "synthetic"


def prepare(folder: Path, registry: bool) -> dict[str, Any]:
    """Fit and save the model (and register it); the serving processes read `folder`."""
    from crypto_mlops.models.backtest import prepare as prepare_frame
    from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel
    from crypto_mlops.models.target import chronological_split

    frame, source = candles()
    frame.iloc[-CANDLES:].to_pickle(folder / "candles.pkl")
    p = prepare_frame(frame.iloc[:-CANDLES], "1h")
    config = BiLSTMConfig(epochs=2, max_train_seconds=60, threads=1, progress=False)
    model = BiLSTMModel(config)
    split = chronological_split(len(p.features), 0.8, p.horizon)
    model.fit(p.features, p.target, split.train_mask(), p.bar_hours)
    model.calibrate(p.features, p.target, split.test_mask())
    model.save(folder / "model")
    files = {f.name: f.stat().st_size for f in sorted((folder / "model").iterdir())}
    info: dict[str, Any] = {"candles": source, "train_seconds": round(model.train_seconds, 1), "files": files}
    info["config"] = {"window": config.window, "hidden": config.hidden, "head_hidden": config.head_hidden}
    if registry:
        info["registry_uri"] = register(model, folder)
    return info


def register(model: Any, folder: Path) -> str:
    import mlflow

    from crypto_mlops.config import Settings
    from crypto_mlops.models.pyfunc import log_pyfunc
    from crypto_mlops.models.registry import get_client

    os.chdir(folder)  # embedded registry: ./mlruns beside the SQLite file
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    settings = Settings(MLFLOW_TRACKING_URI=uri)
    client = get_client(settings)
    mlflow.set_experiment("serving-engine-bench")
    with mlflow.start_run():
        info = log_pyfunc(model, folder / "work", registered_model_name=settings.model_name)
    client.set_registered_model_alias(settings.model_name, settings.model_alias, str(info.registered_model_version))
    return uri


def serve(engine: str, folder: Path, calls: int, uri: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", SERVE, engine, str(folder), str(calls), uri],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=folder,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if out.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--registry", action="store_true", help="load through load_predictor from an MLflow registry")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out_json = args.json.resolve() if args.json is not None else None  # registering changes the directory
    folder = Path(tempfile.mkdtemp(prefix="serving-engine-"))
    result: dict[str, Any] = {"calls": args.calls, **prepare(folder, args.registry)}
    uri = result.get("registry_uri", "")
    for engine in ("torch", "onnx"):
        result[engine] = serve(engine, folder, args.calls, uri)
    a, b = (np.array(result[e].pop("forecasts")) for e in ("torch", "onnx"))
    result["compared_origins"] = len(a)
    result["max_abs_diff"] = float(np.max(np.abs(a - b)))
    result["max_rel_diff"] = float(np.max(np.abs(a - b) / np.abs(a)))
    result["rss_saved_mb"] = round(result["torch"]["rss_loaded_mb"] - result["onnx"]["rss_loaded_mb"], 1)
    result.pop("registry_uri", None)
    result["loaded_by"] = "load_predictor (MLflow registry)" if uri else "catalog.load_model + ModelPredictor"
    text = json.dumps(result, indent=2)
    print(text)
    if out_json is not None:
        out_json.write_text(text + "\n")


if __name__ == "__main__":
    main()
