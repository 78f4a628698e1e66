"""`stack logs`, `stack urls`, `stack health` and `stack down` as a user calls them from another shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app
from crypto_mlops.stack.ports import free_port


@pytest.fixture
def stack_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / ".stack"
    (home / "logs").mkdir(parents=True)
    monkeypatch.setenv("STACK_HOME", str(home))
    for key in ("API_PORT", "GRAPHQL_PORT", "GRPC_PORT", "MLFLOW_PORT"):
        monkeypatch.setenv(key, str(free_port()))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    return home


def test_logs_show_the_tail_of_one_or_all_components(stack_home: Path) -> None:
    (stack_home / "logs" / "api.log").write_text("\n".join(f"api line {i}" for i in range(100)))
    (stack_home / "logs" / "grpc.log").write_text("grpc started\n")
    runner = CliRunner()
    one = runner.invoke(app, ["stack", "logs", "api", "-n", "5"])
    assert one.exit_code == 0 and "api line 99" in one.output and "api line 94" not in one.output
    both = runner.invoke(app, ["stack", "logs"])
    assert "grpc started" in both.output and "api line 99" in both.output
    missing = runner.invoke(app, ["stack", "logs", "nope"])
    assert missing.exit_code == 2 and "no log named 'nope'" in missing.output


def test_health_and_urls_without_a_running_stack(stack_home: Path) -> None:
    runner = CliRunner()
    health = runner.invoke(app, ["stack", "health", "--json"])
    assert health.exit_code == 1
    report = json.loads(health.stdout)
    assert report["healthy"] is False and report["supervisor_running"] is False
    assert {c["name"] for c in report["components"]} == {"api", "graphql", "grpc", "mlflow", "broker"}
    assert all(not c["ok"] and c["probe"] for c in report["components"])
    urls = runner.invoke(app, ["stack", "urls"])
    assert urls.exit_code == 0 and "/docs" in urls.output and "/graphql" in urls.output
    down = runner.invoke(app, ["stack", "down"])
    assert down.exit_code == 0 and "no running stack" in down.output
