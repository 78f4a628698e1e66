"""notify: POST /v1/ml/model/reload with X-API-Key; a down or refusing API is a warning, never a failure."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crypto_mlops.pipeline import layout
from crypto_mlops.pipeline.manifests import Deployment, DeployOutcome
from crypto_mlops.pipeline.notify import notify
from crypto_mlops.pipeline.store import open_store

PROMOTED = DeployOutcome(
    run_id="r1", done=True, reason="bilstm v3 is now champion", details=Deployment(champion_version="3")
)


@pytest.fixture
def fake_api(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    calls: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append({"path": self.path, "key": self.headers.get("X-API-Key")})
            ok = self.headers.get("X-API-Key") == "test-api-key"
            body = json.dumps({"reloaded": True, "model_version": "3"} if ok else {"detail": "wrong key"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("API_KEY", "test-api-key")
    from crypto_mlops.config import get_settings

    get_settings.cache_clear()
    yield calls
    server.shutdown()


def test_reload_is_requested_with_the_api_key_and_recorded(fake_api: list[dict]) -> None:
    outcome = notify(PROMOTED)
    assert outcome.done and "reloaded" in outcome.reason
    assert fake_api == [{"path": "/v1/ml/model/reload", "key": "test-api-key"}]
    record = open_store().get_json(layout.MODELS, outcome.key)
    assert record["details"]["status_code"] == 200


def test_refused_or_unreachable_api_is_a_warning(fake_api: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    from crypto_mlops.config import get_settings
    from crypto_mlops.stack.ports import free_port

    monkeypatch.setenv("API_KEY", "wrong")
    get_settings.cache_clear()
    refused = notify(PROMOTED)
    assert not refused.done and refused.reason.startswith("warning: reload answered 401")
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    down = notify(PROMOTED)
    assert not down.done and down.reason.startswith("warning: API not reachable")


def test_no_reload_when_the_champion_did_not_move(fake_api: list[dict]) -> None:
    outcome = notify(
        DeployOutcome(run_id="r2", done=False, reason="champion unchanged", details=Deployment(champion_version="1"))
    )
    assert not outcome.done and "no reload needed" in outcome.reason and fake_api == []
