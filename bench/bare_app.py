"""The ceiling for `bench_api.py`: a bare FastAPI app under the same uvicorn, one POST route returning a
JSON body of the size an `ml-signal` answer has. Nothing of the project is imported.

    uvicorn bench.bare_app:app --port 8899 --no-access-log
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

BODY_BYTES = int(os.environ.get("BARE_BODY_BYTES", "700"))

app = FastAPI(title="bare ceiling")
_PAYLOAD: dict[str, Any] = {"symbol": "BTC/USDT", "value": 0.0123, "pad": "x" * max(0, BODY_BYTES - 60)}


@app.post("/v1/crypto/ml-signal")
@app.post("/v1/crypto/signal")
async def bare() -> dict[str, Any]:
    return _PAYLOAD


sync_app = FastAPI(title="bare ceiling, sync route")


@sync_app.post("/v1/crypto/ml-signal")
@sync_app.post("/v1/crypto/signal")
def bare_sync() -> dict[str, Any]:
    return _PAYLOAD
