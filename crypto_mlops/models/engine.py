"""Which engine runs a saved network model: torch, or ONNX Runtime without torch (`MODEL_ENGINE`).

- `auto` (default): ONNX Runtime when the saved model has `net.onnx` and onnxruntime is installed,
  else torch (a model saved before the export existed, or an install without the `onnx` extra);
- `onnx`: ONNX Runtime or a clear refusal (`EngineUnavailable`) saying what to install or change;
- `torch`: torch, as before.

Only the BiLSTMs have a network; every other model loads the same under every engine (none needs
torch). Importing this module imports neither engine.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal, get_args

from crypto_mlops.models.onnx_export import ONNX_FILE

Engine = Literal["auto", "torch", "onnx"]
ENGINES: tuple[str, ...] = get_args(Engine)

# Saved models (by their state's name) that `crypto_mlops.models.bilstm_onnx` can run without torch.
ONNX_MODELS = ("bilstm", "bilstm_pooled")


class EngineUnavailable(RuntimeError):
    """MODEL_ENGINE=onnx asked for a model that ONNX Runtime cannot run in this install."""


def onnxruntime_installed() -> bool:
    """Without importing it (onnxruntime takes a while to load)."""
    return importlib.util.find_spec("onnxruntime") is not None


def use_onnx(name: str, directory: Path, engine: str) -> bool:
    """Whether the model `name` saved in `directory` is run by ONNX Runtime under `engine`.

    Raises `EngineUnavailable` for `onnx` when it cannot be, and ValueError for an unknown engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown model engine {engine!r}; choose from {', '.join(ENGINES)}")
    if engine == "torch" or name not in ONNX_MODELS:
        return False
    has_net = (directory / ONNX_FILE).is_file()
    if engine == "auto":
        return has_net and onnxruntime_installed()
    if not has_net:
        raise EngineUnavailable(
            f"MODEL_ENGINE=onnx, but the saved {name} model has no {ONNX_FILE} (saved before the ONNX export, or "
            "where the onnx package was not installed): register it again from an install with "
            "pip install 'crypto-mlops[onnx]', or set MODEL_ENGINE=auto to serve it with torch"
        )
    if not onnxruntime_installed():
        raise EngineUnavailable(
            "MODEL_ENGINE=onnx, but onnxruntime is not installed: pip install 'crypto-mlops[onnx]', "
            "or set MODEL_ENGINE=auto to serve with torch"
        )
    return True
