"""A real freqtrade in its own cached virtualenv, a user_data folder, and backtests read back.

The virtualenv is built once per freqtrade version under `.cache/freqtrade-venv/<version>` (or
$FREQTRADE_VENV_CACHE/<version>) and never touches the project's environment. Freqtrade runs through
`integrations/freqtrade/offline.py`, which gives it static markets so no exchange is contacted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "integrations" / "freqtrade"
FREQTRADE_VERSION = os.environ.get("FREQTRADE_VERSION", "2026.9")
NETWORK_ERRORS = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Name or service not known|"
    r"Network is unreachable|ConnectTimeout|ProxyError|No matching distribution found",
)


class RegistryUnreachable(RuntimeError):
    pass


def venv_dir() -> Path:
    base = Path(os.environ.get("FREQTRADE_VENV_CACHE", ROOT / ".cache" / "freqtrade-venv"))
    return base / FREQTRADE_VERSION


def ensure_venv() -> Path:
    """The cached freqtrade virtualenv's python, built (pip install freqtrade==VERSION) when missing."""
    target = venv_dir()
    python = target / "bin" / "python"
    if (target / ".complete").exists():
        return python
    shutil.rmtree(target, ignore_errors=True)  # a half-built one from an interrupted run
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, capture_output=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, f"freqtrade=={FREQTRADE_VERSION}"], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        output = done.stdout + done.stderr
        if NETWORK_ERRORS.search(output):
            raise RegistryUnreachable(f"pip could not reach the package registry: {output.strip()[-300:]}")
        raise RuntimeError(f"pip install freqtrade=={FREQTRADE_VERSION} failed:\n{output[-2000:]}")
    (target / ".complete").write_text(FREQTRADE_VERSION)
    return python


def write_candles(frame: pd.DataFrame, datadir: Path, pair: str) -> Path:
    """Candles (UTC index, OHLCV) in freqtrade's feather layout: <datadir>/BTC_USDT-1h.feather."""
    datadir.mkdir(parents=True, exist_ok=True)
    out = frame.reset_index().rename(columns={frame.index.name or "index": "date"})
    path = datadir / f"{pair.replace('/', '_')}-1h.feather"
    out[["date", "open", "high", "low", "close", "volume"]].to_feather(path)
    return path


def make_user_data(root: Path) -> Path:
    """`root/user_data` with the example strategy and the mix-in copied into `strategies/`."""
    strategies = root / "user_data" / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    for name in ("VolTargetStrategy.py", "crypto_mlops_forecasts.py"):
        shutil.copy(INTEGRATION / name, strategies / name)
    return root / "user_data"


def backtest_config(pairs: list[str], forecasts: str | None, **crypto_mlops: Any) -> dict[str, Any]:
    config = json.loads((INTEGRATION / "config.backtest.json").read_text())
    config["exchange"]["pair_whitelist"] = pairs
    config["crypto_mlops"] = {"forecasts": forecasts, **crypto_mlops}
    return config


def freqtrade(python: Path, cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run `freqtrade <args>` through the offline launcher; raise with its output on failure."""
    cmd = [str(python), str(INTEGRATION / "offline.py"), *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args[:1])} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    return done


def run_backtest(python: Path, cwd: Path, config: dict[str, Any], timerange: str, tag: str) -> dict[str, Any]:
    """One `freqtrade backtesting` run; returns the strategy's result block (trades, totals)."""
    config_path = cwd / f"config-{tag}.json"
    config_path.write_text(json.dumps(config, indent=2))
    results = cwd / f"results-{tag}"
    results.mkdir(exist_ok=True)
    freqtrade(
        python,
        cwd,
        "backtesting",
        "--config",
        str(config_path),
        "--strategy",
        "VolTargetStrategy",
        "--timerange",
        timerange,
        "--fee",
        "0.001",
        "--export",
        "trades",
        "--backtest-directory",
        str(results),
    )
    (archive,) = results.glob("*.zip")
    with zipfile.ZipFile(archive) as z:
        name = next(n for n in z.namelist() if n.endswith(".json") and not n.endswith("_config.json"))
        block: dict[str, Any] = json.loads(z.read(name))["strategy"]["VolTargetStrategy"]
    return block
