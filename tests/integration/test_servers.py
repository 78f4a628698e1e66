"""The server fixtures start real servers and those servers really work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crypto_mlops.stack.ports import free_port, is_port_free, wait_until
from crypto_mlops.stack.postgres import PostgresServer
from crypto_mlops.stack.process import ServiceError
from crypto_mlops.stack.seaweed import SeaweedS3
from crypto_mlops.stack.tansu import TansuBroker

pytestmark = pytest.mark.integration


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_postgres_sql_round_trip(postgres_server) -> None:
    import sqlalchemy as sa

    url = postgres_server.create_database("roundtrip")
    assert postgres_server.create_database("roundtrip") == url  # idempotent
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t (k text PRIMARY KEY, v double precision)"))
            conn.execute(sa.text("INSERT INTO t VALUES ('btc', 1.5), ('eth', -2.25) ON CONFLICT DO NOTHING"))
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT k, v FROM t ORDER BY k")).all())
    finally:
        engine.dispose()
    assert rows == {"btc": 1.5, "eth": -2.25}


def test_postgres_refuses_a_wrong_password(postgres_server) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host=postgres_server.host,
            port=postgres_server.port,
            user=postgres_server.user,
            password="wrong-" + uuid.uuid4().hex,
            dbname="postgres",
            connect_timeout=3,
        )


def test_s3_put_get_and_wrong_key_rejected(s3_server) -> None:
    from botocore.exceptions import ClientError

    bucket = "it-" + uuid.uuid4().hex[:8]
    s3_server.create_bucket(bucket)
    s3_server.create_bucket(bucket)  # idempotent
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="dir/blob.bin", Body=b"\x00\x01payload")
    assert client.get_object(Bucket=bucket, Key="dir/blob.bin")["Body"].read() == b"\x00\x01payload"
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]]
    assert keys == ["dir/blob.bin"]

    import boto3
    from botocore.config import Config

    intruder = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key="not-the-secret",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as err:
        intruder.get_object(Bucket=bucket, Key="dir/blob.bin")
    assert err.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"}
    assert s3_server.env()["MLFLOW_S3_ENDPOINT_URL"] == s3_server.endpoint_url


def test_kafka_produce_and_consume(kafka_broker) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = "it-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).values():
        future.result(timeout=10)

    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap, "partitioner": "murmur2_random"})
    sent = {f"msg-{i}" for i in range(20)}
    for i, value in enumerate(sorted(sent)):
        producer.produce(topic, key=f"k{i % 4}", value=value.encode())
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_broker.bootstrap,
            "group.id": "it-" + uuid.uuid4().hex[:6],
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    received: set[str] = set()
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while received != sent and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                received.add(msg.value().decode())
    finally:
        consumer.close()
    assert received == sent


def test_mlflow_logs_a_metric_and_reads_it_back(mlflow_server, s3_server) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    exp_id = client.create_experiment("it-" + uuid.uuid4().hex[:8])
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "rmse", 0.125, step=3)
    client.log_text(run.info.run_id, "hello artifacts", "notes/hello.txt")
    client.set_terminated(run.info.run_id)

    fetched = client.get_run(run.info.run_id)
    assert fetched.data.metrics == {"rmse": 0.125}
    assert fetched.info.status == "FINISHED"
    # Artifacts are proxied by the server into the S3 fixture's `mlflow` bucket.
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/notes/hello.txt") for k in keys), keys


def test_two_seaweed_instances_do_not_collide(s3_server, servers_dir: Path) -> None:
    """Every internal weed mini port is moved, so a second instance runs beside the first."""
    with SeaweedS3(servers_dir / "second-s3", access_key="a2", secret_key="s2") as second:
        assert second.is_healthy() and s3_server.is_healthy()
        assert second.endpoint_url != s3_server.endpoint_url
        assert set(second.ports.values()).isdisjoint(s3_server.ports.values())
        second.create_bucket("only-here")
        assert "only-here" not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}
        pid, port = second.pid, second.port
    assert pid is not None and _gone(pid) and is_port_free(port)


def test_stop_by_pid_frees_the_port(servers_dir: Path) -> None:
    broker = TansuBroker(log_path=servers_dir / "tansu-stop.log").start()
    pid, port = broker.pid, broker.port
    assert pid is not None and broker.is_healthy()
    broker.stop()
    assert _gone(pid) and is_port_free(port) and not broker.is_healthy() and broker.pid is None


def test_start_failure_reports_the_log(servers_dir: Path) -> None:
    # This tansu build has no postgres storage engine: it exits at once with a reason.
    broker = TansuBroker(storage="postgres://nobody@127.0.0.1:1/none", log_path=servers_dir / "tansu-bad.log")
    with pytest.raises(ServiceError, match=r"(?s)exited.*FeatureNotEnabled"):
        broker.start(timeout=10)
    assert broker.pid is None


def test_a_busy_port_is_refused(kafka_broker, servers_dir: Path) -> None:
    with pytest.raises(ServiceError, match="already in use"):
        TansuBroker(kafka_broker.port, log_path=servers_dir / "tansu-busy.log").start()


def test_postgres_data_survives_a_restart(servers_dir: Path) -> None:
    try:
        server = PostgresServer(servers_dir / "pg-restart", port=free_port()).start()
    except ServiceError as exc:  # ServiceUnavailable included
        pytest.skip(str(exc))
    import psycopg

    try:
        url = server.create_database("keep").replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept AS SELECT 42 AS answer")
        conn.close()
        server.stop()
        server.start()
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT answer FROM kept")
            assert cur.fetchone() == (42,)
        conn.close()
    finally:
        server.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_servers_die_with_a_killed_parent(servers_dir: Path) -> None:
    """A test run killed by SIGKILL leaves no server behind (die_with_parent)."""
    script = (
        "import sys, time; from pathlib import Path; from crypto_mlops.stack.tansu import TansuBroker\n"
        f"b = TansuBroker(log_path=Path({str(servers_dir / 'tansu-orphan.log')!r})); b.die_with_parent = True\n"
        "b.start(); print(b.pid, b.port, flush=True); time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid, port = (int(x) for x in parent.stdout.readline().split())
        assert not _gone(pid)
    finally:
        parent.kill()
        parent.wait()
    wait_until(lambda: _gone(pid) or _zombie(pid), 10, "orphaned tansu to exit")
    wait_until(lambda: is_port_free(port), 10, "port to be released")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True
