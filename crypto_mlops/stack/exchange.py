"""Is the exchange reachable? (decides live prices or the simulator when the stack starts)

Known exchanges are probed by host name, without importing ccxt: the supervisor lives as long as the
stack, and ccxt would stay in its memory (~50 MB) for one DNS lookup. Others ask ccxt for the host.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

API_HOSTS = {
    "binance": "api.binance.com",
    "binanceus": "api.binance.us",
    "bitfinex": "api.bitfinex.com",
    "bitstamp": "www.bitstamp.net",
    "bybit": "api.bybit.com",
    "coinbase": "api.coinbase.com",
    "kraken": "api.kraken.com",
    "kucoin": "api.kucoin.com",
    "okx": "www.okx.com",
}


def api_host(exchange: str) -> str:
    """The host of the exchange's REST API (from ccxt for an exchange not in API_HOSTS)."""
    if exchange in API_HOSTS:
        return API_HOSTS[exchange]
    import ccxt

    client = getattr(ccxt, exchange)()
    urls = client.urls.get("api")
    url = urls if isinstance(urls, str) else next(v for v in (urls or {}).values() if isinstance(v, str))
    return urlparse(url.replace("{hostname}", str(getattr(client, "hostname", "") or ""))).hostname or ""


def exchange_reachable(exchange: str, timeout: float) -> tuple[bool, str]:
    """Can we open a TCP connection to the exchange's API host? (DNS + connect, no request.)"""
    try:
        host = api_host(exchange)
        with socket.create_connection((host, 443), timeout=timeout):
            return True, host
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:120]
