"""The real DAG under real Airflow: `airflow db migrate` + `airflow dags test crypto_ml_pipeline`.

Airflow's metadata in the PostgreSQL fixture, MLflow = the `mlflow_server` fixture (PostgreSQL
backend, artifacts on SeaweedFS), buckets on the SeaweedFS fixture, candles from the shared BTC
file. Training is kept small through PIPELINE_TRAIN_MAX_BARS and the model's tiny test config.
Afterwards the buckets, the registry and the gate's recorded decision are checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crypto_mlops.stack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.data]

REPO = Path(__file__).resolve().parents[2]
BUCKETS = ("raw-data", "processed-data", "quality-reports", "models")


def _keys(client, bucket: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _run(cmd: list[str], env: dict[str, str], timeout: float, log: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
    return result


def test_dag_runs_every_step_against_real_servers(
    tmp_path: Path, postgres_server, s3_server, mlflow_server, btc_csv: Path
) -> None:
    for bucket in BUCKETS:
        s3_server.create_bucket(bucket)
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(s3_server.env())
    env.update(
        {
            "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "airflow" / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_server.create_database("airflow_dag_test"),
            "MLFLOW_TRACKING_URI": mlflow_server.tracking_uri,
            "DATA_SOURCE": "csv",
            "DATA_CSV_PATH": str(btc_csv),
            "DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_SYMBOLS": "BTC/USDT",
            "PIPELINE_TRAIN_MAX_BARS": "2500",
            "PIPELINE_TRAIN_PROFILE": "tiny",
            "API_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens: notify must only warn
        }
    )

    started = time.monotonic()
    migrate = _run(["airflow", "db", "migrate"], env, 300, tmp_path / "migrate.log")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    test = _run(["airflow", "dags", "test", "crypto_ml_pipeline"], env, 900, tmp_path / "dags-test.log")
    seconds = time.monotonic() - started
    output = test.stdout + test.stderr
    assert test.returncode == 0, output[-5000:]
    assert "failed" not in output.lower().split("dagrun finished")[-1][:200]
    print(f"airflow db migrate + dags test: {seconds:.1f} s")

    s3 = s3_server.client()
    raw, processed = _keys(s3, "raw-data"), _keys(s3, "processed-data")
    models = _keys(s3, "models")
    commits = [k for k in raw if k.startswith("csv/BTCUSDT/1h/commits/")]
    assert len(commits) == 1 and any(k.startswith("csv/BTCUSDT/1h/runs/") for k in raw)
    run_id = Path(commits[0]).stem
    assert run_id.startswith("manual__")
    assert f"csv/BTCUSDT/1h/{run_id}.parquet" in processed
    report = json.loads(s3.get_object(Bucket="quality-reports", Key=f"csv/BTCUSDT/1h/{run_id}.json")["Body"].read())
    assert report["passed"] is True and report["rows"] > 30_000 and report["duplicates_removed"] == 0
    assert {f"runs/{run_id}/{step}.json" for step in ("train", "evaluate", "deploy", "notify")} <= set(models)
    assert any(k.startswith("training-log/csv/BTCUSDT/1h/") for k in models)

    def record(step: str) -> dict:
        return json.loads(s3.get_object(Bucket="models", Key=f"runs/{run_id}/{step}.json")["Body"].read())

    train, deploy, notify = record("train"), record("deploy"), record("notify")
    assert train["done"] is True
    assert "no champion" in train["reason"] or "no training recorded" in train["reason"]
    assert deploy["reason"], "the gate must say why it moved champion or not"
    assert notify["done"] is False  # the API is down: a warning, not a failed run
    assert notify["reason"].startswith("warning") or "unchanged" in notify["reason"]

    from mlflow import MlflowClient

    uri = mlflow_server.tracking_uri  # registry too: other tests may have set a global registry URI
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name='crypto-predictor'")
    assert versions, "training registered no version"
    champion = client.get_model_version_by_alias("crypto-predictor", "champion")
    assert str(champion.version) == str(deploy["details"]["champion_version"])
    candidate = str(train["details"]["trained"]["candidate_version"])
    assert any(str(v.version) == candidate for v in versions)
    tags = client.get_model_version("crypto-predictor", candidate).tags
    assert any("gate" in key for key in tags), tags
