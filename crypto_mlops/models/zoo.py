"""Every model, by name: importing this module registers all model classes in the catalog.

Use it where every model is listed (backtest, training); code that loads one model by name
(serving, the pyfunc) imports `baselines` and `catalog`, and torch loads only for a BiLSTM.
"""

from __future__ import annotations

from crypto_mlops.models.baselines import BASELINES, REFERENCE
from crypto_mlops.models.catalog import MODEL_CLASSES, import_all, load_model, make_model, model_class

import_all()  # the learned model needs torch, which only the `train` extra installs

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
