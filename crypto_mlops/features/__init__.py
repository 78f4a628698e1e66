"""Features: the one causal feature function shared by training and serving."""

from crypto_mlops.features.core import compute_features, model_features

__all__ = ["compute_features", "model_features"]
