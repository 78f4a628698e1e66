"""deploy/: the compose file is valid for docker-compose 1.29 and says what the stack needs.

`docker-compose config` needs no Docker engine: it validates, merges env_file and resolves
anchors offline. It runs on a throw-away copy of deploy/ with `.env` made from `.env.example`,
so the developer's own .env is never read or required.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ENV_EXAMPLE = REPO / ".env.example"

SERVICES = {
    "postgres",
    "minio",
    "bucket-init",
    "mlflow",
    "kafka",
    "airflow",
    "api",
    "grpc",
    "graphql",
    "producer",
    "consumer",
}
APP_SERVICES = {"mlflow", "airflow", "api", "grpc", "graphql", "producer", "consumer"}
EXPECTED_DEPENDS = {
    "bucket-init": {"minio": "service_healthy"},
    "mlflow": {
        "postgres": "service_healthy",
        "minio": "service_healthy",
        "bucket-init": "service_completed_successfully",
    },
    "airflow": {"postgres": "service_healthy", "mlflow": "service_healthy"},
    "api": {"postgres": "service_healthy", "mlflow": "service_healthy"},
    "graphql": {"postgres": "service_healthy", "mlflow": "service_healthy"},
    "grpc": {"postgres": "service_healthy", "mlflow": "service_healthy"},
    "producer": {"kafka": "service_healthy"},
    "consumer": {"kafka": "service_healthy", "mlflow": "service_healthy"},
}


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed (Debian: apt-get install -y docker-compose)")
    project = tmp_path_factory.mktemp("compose")
    shutil.copytree(DEPLOY, project / "deploy")
    shutil.copy(ENV_EXAMPLE, project / ".env")
    (project / "airflow" / "dags").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    res = subprocess.run(
        [binary, "-f", "deploy/docker-compose.yml", "config"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, f"docker-compose config failed:\n{res.stderr}"
    config: dict[str, Any] = yaml.safe_load(res.stdout)
    return config


def test_every_service_is_defined(compose_config: dict[str, Any]) -> None:
    assert set(compose_config["services"]) == SERVICES


def test_long_running_services_have_healthchecks(compose_config: dict[str, Any]) -> None:
    for name, svc in compose_config["services"].items():
        if name == "bucket-init":
            assert svc.get("restart") == "no"  # one-shot
            continue
        check = svc.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}


def test_depends_on_waits_for_health(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    for name, expected in EXPECTED_DEPENDS.items():
        got = {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
        for dep, condition in expected.items():
            assert got.get(dep) == condition, f"{name} -> {dep}: {got}"
    for name in ("postgres", "minio", "kafka"):
        assert "depends_on" not in services[name]


def test_app_services_use_the_image_and_env_file(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    commands = {name: " ".join(services[name]["command"]) for name in APP_SERVICES}
    assert commands["api"].startswith("crypto-mlops serve api")
    assert commands["graphql"].startswith("crypto-mlops serve graphql")
    assert commands["grpc"].startswith("crypto-mlops serve grpc")
    assert commands["producer"] == "crypto-mlops stream produce --mode simulate"
    assert commands["consumer"] == "crypto-mlops stream consume"
    assert commands["airflow"] == "airflow standalone"
    assert "--artifacts-destination s3://mlflow/artifacts" in commands["mlflow"]
    assert "--serve-artifacts" in commands["mlflow"]
    for name in APP_SERVICES:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile" and svc["image"] == "crypto-mlops:latest"
        env = svc["environment"]
        # env_file (../.env) was merged in; container addresses override the host defaults.
        assert env["API_KEY"] == "dev-api-key"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert env["POSTGRES_HOST"] == "postgres" and env["MINIO_ENDPOINT"] == "http://minio:9000"
    mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in services["airflow"]["volumes"]]
    assert any("/airflow/dags:/app/airflow/dags" in m for m in mounts), mounts
    assert services["airflow"]["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] == "/app/airflow/dags"


def test_published_ports_are_loopback_only(compose_config: dict[str, Any]) -> None:
    published: dict[str, list[str]] = {}
    for name, svc in compose_config["services"].items():
        for port in svc.get("ports", []):
            text = port if isinstance(port, str) else f"{port.get('host_ip')}:{port['published']}"
            assert text.startswith("127.0.0.1:"), f"{name} publishes {text} beyond loopback"
            published.setdefault(name, []).append(text.split(":")[1])
    for name, port in {
        "api": 8800,
        "graphql": 4000,
        "grpc": 50051,
        "mlflow": 5000,
        "airflow": 8080,
        "kafka": 9092,
        "minio": 9000,
        "postgres": 5432,
    }.items():
        assert str(port) in published[name], (name, published.get(name))


def test_no_credentials_in_compose_file_or_image() -> None:
    compose_text = (DEPLOY / "docker-compose.yml").read_text()
    assert "version:" not in [line.split(" ")[0] for line in compose_text.splitlines()]
    assert not re.search(r"\$\{[A-Z_]*(PASSWORD|SECRET|USER)", compose_text)
    assert not re.search(r"(PASSWORD|SECRET_ACCESS_KEY|API_KEY)\s*[:=]\s*\S", compose_text)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert not re.search(r"^\s*(ENV|ARG)\b.*(PASSWORD|SECRET|API_KEY|ACCESS_KEY)", dockerfile, re.M)
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in dockerfile


def test_entrypoint_builds_urls_from_compose_variables() -> None:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "POSTGRES_HOST": "postgres",
        "POSTGRES_USER": "ml",
        "POSTGRES_PASSWORD": "p@ss/w:rd",
        "MINIO_ENDPOINT": "http://minio:9000",
        "MINIO_ROOT_USER": "mu",
        "MINIO_ROOT_PASSWORD": "mp",
    }
    res = subprocess.run(
        ["sh", str(DEPLOY / "docker-entrypoint.sh"), "env"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    out = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
    base = "postgresql+psycopg://ml:p%40ss%2Fw%3Ard@postgres:5432"
    assert out["DATABASE_URL"] == f"{base}/cryptodb"
    assert out["MLFLOW_BACKEND_STORE_URI"] == f"{base}/mlflow"
    assert out["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"{base}/airflow"
    assert (out["MLFLOW_S3_ENDPOINT_URL"], out["AWS_ACCESS_KEY_ID"], out["AWS_SECRET_ACCESS_KEY"]) == (
        "http://minio:9000",
        "mu",
        "mp",
    )
    # Outside compose the environment passes through untouched.
    res = subprocess.run(
        ["sh", str(DEPLOY / "docker-entrypoint.sh"), "env"],
        env={"PATH": env["PATH"], "DATABASE_URL": "sqlite:///x.db"},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert "DATABASE_URL=sqlite:///x.db" in res.stdout and "MLFLOW_BACKEND_STORE_URI" not in res.stdout


def test_env_example_documents_every_setting() -> None:
    from crypto_mlops.config import Settings

    lines = ENV_EXAMPLE.read_text().splitlines()
    documented: dict[str, int] = {}
    for i, line in enumerate(lines):
        m = re.match(r"^#?\s?([A-Z][A-Z0-9_]+)=", line)
        if m:
            documented[m.group(1)] = i
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}  # sections: tests/config
    missing = aliases - set(documented)
    assert not missing, f".env.example lacks {sorted(missing)}"
    for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        assert name in documented
    for name, i in documented.items():  # each variable has a comment right above it
        assert i > 0 and lines[i - 1].startswith("#"), f"{name} has no comment"
    settings = Settings(_env_file=str(ENV_EXAMPLE))  # the example itself is a valid configuration
    assert settings.api_port == 8800


@pytest.mark.integration
def test_postgres_init_script_creates_the_databases(postgres_server) -> None:
    psql = shutil.which("psql")
    bindir = getattr(postgres_server, "bindir", None)
    if bindir is not None and (Path(bindir) / "psql").exists():
        psql = str(Path(bindir) / "psql")
    if psql is None:
        pytest.skip("psql client not installed")
    script = DEPLOY / "postgres-init" / "01-databases.sql"
    env = {**os.environ, "PGPASSWORD": postgres_server.password}
    cmd = [
        psql,
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        postgres_server.host,
        "-p",
        str(postgres_server.port),
        "-U",
        postgres_server.user,
        "-d",
        "postgres",
        "-f",
        str(script),
    ]
    for _ in range(2):  # re-runnable
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert res.returncode == 0, res.stderr
    import psycopg

    with psycopg.connect(postgres_server.url("postgres", driver=None)) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        names = {row[0] for row in cur.fetchall()}
    assert {"mlflow", "airflow", "cryptodb"} <= names
