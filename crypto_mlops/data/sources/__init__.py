"""Candle sources: csv files, the synthetic simulator and ccxt exchanges."""
