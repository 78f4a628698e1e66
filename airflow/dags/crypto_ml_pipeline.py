"""crypto_ml_pipeline: extract -> process -> validate (one mapped task per symbol) -> train ->
evaluate -> deploy (gated) -> reload the API, every 6 hours.

Only wiring lives here: every task calls one function of `crypto_mlops.pipeline.tasks`. The same
steps run without Airflow via `crypto-mlops pipeline run`. See docs/orchestration.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from crypto_mlops.pipeline import tasks as steps

Payload = dict[str, Any]


@dag(
    dag_id="crypto_ml_pipeline",
    schedule="0 */6 * * *",  # every 6 hours, at 00, 06, 12 and 18 UTC
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["crypto-mlops", "volatility"],
    doc_md=__doc__,
)
def crypto_ml_pipeline() -> None:
    @task
    def plan() -> Payload:
        return steps.plan(str(get_current_context()["run_id"]))

    @task
    def symbols(context: Payload) -> list[str]:
        return steps.symbols(context)

    @task(retries=3, retry_delay=timedelta(minutes=1))  # the exchange may be briefly unreachable
    def extract(context: Payload, symbol: str) -> Payload:
        return steps.extract(context, symbol)

    @task
    def process(manifest: Payload) -> Payload:
        return steps.process(manifest)

    @task(retries=0)  # bad data stays bad: fail at once with the quality report's reasons
    def validate(manifest: Payload) -> Payload:
        return steps.validate(manifest)

    @task(execution_timeout=timedelta(hours=2))
    def train(context: Payload, manifests: list[Payload]) -> Payload:
        return steps.train(context, manifests)

    @task
    def evaluate(trained: Payload) -> Payload:
        return steps.evaluate(trained)

    @task(retries=0)  # the gate is deterministic; a retry would only race a newer run
    def deploy(evaluated: Payload) -> Payload:
        return steps.deploy(evaluated)

    @task
    def notify(deployed: Payload) -> Payload:
        return steps.notify(deployed)

    context = plan()
    extracted = extract.partial(context=context).expand(symbol=symbols(context))
    validated = validate.expand(manifest=process.expand(manifest=extracted))
    notify(deploy(evaluate(train(context, validated))))


crypto_ml_pipeline()
