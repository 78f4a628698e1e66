"""A core install (no `train` extra, so no torch) still backtests and serves the baselines, and says why
the BiLSTM is missing instead of failing at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter where `import torch` fails as it would without the package.
_WITHOUT_TORCH = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
"""


def _run(body: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH + body], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_baselines_backtest_without_torch_and_the_bilstm_says_what_to_install() -> None:
    out = _run(
        "from crypto_mlops.data.sources.synthetic import simulate\n"
        "from crypto_mlops.models.backtest import prepare, run_backtest\n"
        "from crypto_mlops.models.zoo import make_model\n"
        "result = run_backtest(prepare(simulate(n_bars=2000, seed=3).frame), models=['ewma', 'har'], train_frac=0.7)\n"
        "print(sorted(r['model'] for r in result.table))\n"
        "try:\n"
        "    make_model('bilstm')\n"
        "except KeyError as exc:\n"
        "    print(exc)\n"
    )
    lines = out.splitlines()
    assert lines[0] == "['ewma', 'har']"
    assert "crypto-mlops[train]" in lines[1]


def test_the_api_builds_and_serves_a_baseline_without_torch() -> None:
    out = _run(
        "from crypto_mlops.api.app import create_app\n"
        "from crypto_mlops.models.inference import baseline_predictor\n"
        "from crypto_mlops.data.sources.synthetic import simulate\n"
        "create_app(start_service=False)\n"
        "p = baseline_predictor('har').predict(simulate(n_bars=1200, seed=1).frame, 'synthetic')\n"
        "print(p.model_name, p.predicted_rv_24h > 0, 'torch' in sys.modules)\n"
    )
    assert out == "baseline-har True False"


def test_loading_a_saved_baseline_through_the_pyfunc_module_does_not_import_torch(tmp_path: Path) -> None:
    # Torch is installed here: the point is that serving a baseline champion never pays for it.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from crypto_mlops.data.sources.synthetic import simulate\n"
        "from crypto_mlops.features import model_features\n"
        "from crypto_mlops.models.catalog import make_model\n"
        "from crypto_mlops.models.target import realized_vol_target\n"
        "import crypto_mlops.models.pyfunc as pyfunc\n"
        "f = model_features(simulate(n_bars=2000, seed=3).frame)\n"
        "y = realized_vol_target(f['log_ret'], 24)\n"
        "m = make_model('har_x').fit(f, y, y.notna().to_numpy())\n"
        f"m.save(Path({str(tmp_path)!r}))\n"
        f"loaded = pyfunc.load_model(Path({str(tmp_path)!r}))\n"
        "print(loaded.name, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "har_x False"
