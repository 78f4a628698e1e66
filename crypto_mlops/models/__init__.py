"""Volatility models: baselines, BiLSTM, backtest, MLflow registry and the inference API."""
