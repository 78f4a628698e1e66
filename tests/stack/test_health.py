"""Health probes: they report failures instead of raising, and look inside nested statuses."""

from __future__ import annotations

import json

from crypto_mlops.stack import health


def test_health_probes_report_instead_of_raising() -> None:
    from crypto_mlops.stack.ports import free_port

    port = free_port()
    for spec in (
        {"type": "http", "url": f"http://127.0.0.1:{port}/health"},
        {"type": "graphql", "url": f"http://127.0.0.1:{port}/graphql"},
        {"type": "grpc", "target": f"127.0.0.1:{port}"},
        {"type": "kafka", "bootstrap": f"127.0.0.1:{port}"},
        {"type": "process", "pid": 2**22 + 1},
        {"type": "nonsense"},
    ):
        result = health.check(spec, timeout=1.0)
        assert result.ok is False and result.detail, spec


def test_http_probe_reads_nested_component_statuses() -> None:
    """Airflow answers 200 even when its scheduler is down; the probe must look inside."""
    import http.server
    import threading

    bodies = {
        "/ok": {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}},
        "/bad": {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "unhealthy"}},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = json.dumps(bodies[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ok = health.check({"type": "http", "url": f"{base}/ok"})
        bad = health.check({"type": "http", "url": f"{base}/bad"})
    finally:
        server.shutdown()
    assert ok.ok and "scheduler ok" in ok.detail
    assert not bad.ok and "scheduler=unhealthy" in bad.detail
