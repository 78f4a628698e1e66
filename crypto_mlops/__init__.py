"""crypto-mlops: risk and volatility signals for crypto pairs (research only)."""

__version__ = "0.1.0"
