"""Every model, by name: importing this module registers all model classes in the catalog.

Use it where any model may be asked for (backtest, training, loading a registered model); code that
only needs the baselines imports `baselines` and `catalog` and so does not load torch.
"""

from __future__ import annotations

import importlib

from crypto_mlops.models.baselines import BASELINES, REFERENCE
from crypto_mlops.models.catalog import MODEL_CLASSES, load_model, make_model, missing_model, model_class

try:  # the learned model needs torch, which only the `train` extra installs
    importlib.import_module("crypto_mlops.models.bilstm")
except ModuleNotFoundError as exc:
    if exc.name != "torch":
        raise
    missing_model("bilstm", "the BiLSTM needs torch: pip install 'crypto-mlops[train]'")

LEARNED = [name for name in MODEL_CLASSES if name not in BASELINES]

__all__ = [
    "BASELINES",
    "LEARNED",
    "MODEL_CLASSES",
    "REFERENCE",
    "load_model",
    "make_model",
    "model_class",
]
