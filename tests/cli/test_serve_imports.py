"""Serving starts lean: importing the servers loads no training, Airflow, plotting or torch code.

Checked in a fresh interpreter (this test process has imported everything already). Torch is only
imported when the champion is the BiLSTM (models.catalog.LAZY), never at start.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crypto_mlops.cli import serve
from crypto_mlops.service import heap

# Third-party packages serving never needs at start, and our own modules that only training uses.
NOT_AT_START = ("torch", "airflow", "plotly", "matplotlib", "onnx", "sklearn", "mlflow", "ccxt")
OURS_NOT_AT_START = ("crypto_mlops.pipeline", "crypto_mlops.models.training", "crypto_mlops.models.backtest")


def _modules_after(statement: str) -> list[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    [
        "import crypto_mlops.cli.main",  # what every `crypto-mlops serve ...` child imports first
        "import crypto_mlops.cli.serve_all",  # REST + GraphQL + gRPC apps, uvicorn, the service layer
        "from crypto_mlops.api.app import create_app",
        "import crypto_mlops.rpc.server",
    ],
)
def test_serving_imports_leave_training_and_plotting_out(statement: str) -> None:
    modules = _modules_after(statement)
    heavy = sorted({m.split(".")[0] for m in modules} & set(NOT_AT_START))
    ours = sorted(m for m in modules if m.startswith(OURS_NOT_AT_START))
    assert not heavy and not ours, (heavy, ours)
    assert not any(m.startswith("crypto_mlops.models.bilstm") for m in modules)


def test_the_lean_supervisor_entry_imports_no_data_stack() -> None:
    modules = _modules_after("import crypto_mlops.stack.__main__")
    assert not {"pandas", "sqlalchemy", "ccxt", "mlflow", "crypto_mlops.service"} & set(modules)


def test_serve_names_the_gc_setting_like_the_service() -> None:
    assert serve.GC_FREEZE_ENV == heap.GC_FREEZE_ENV
