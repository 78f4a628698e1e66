"""XCom-friendly wrappers for the Airflow DAG: plain dicts in, plain dicts out.

Each function is one step of the pipeline; the DAG file only wires them. Typed callers (the
runner, tests) use `ingest`, `modelling` and `notify` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crypto_mlops.pipeline import ingest, modelling
from crypto_mlops.pipeline.manifests import DeployOutcome, EvaluateOutcome, RunContext, SymbolManifest, TrainOutcome
from crypto_mlops.pipeline.notify import notify as _notify

Payload = dict[str, Any]


def plan(airflow_run_id: str) -> Payload:
    """The run context; the Airflow run id (made key-safe) keys every object the run writes."""
    return ingest.plan_run(run_id=airflow_run_id).model_dump(mode="json")


def symbols(context: Payload) -> list[str]:
    return list(RunContext.model_validate(context).symbols)


def extract(context: Payload, symbol: str) -> Payload:
    return ingest.extract(context, symbol).model_dump(mode="json")


def process(manifest: Payload) -> Payload:
    return ingest.process(manifest).model_dump(mode="json")


def validate(manifest: Payload) -> Payload:
    return ingest.validate(manifest).model_dump(mode="json")


def train(context: Payload, manifests: Iterable[Payload]) -> Payload:
    validated = [SymbolManifest.model_validate(m) for m in manifests]
    return modelling.train(RunContext.model_validate(context), validated).model_dump(mode="json")


def evaluate(trained: Payload) -> Payload:
    return modelling.evaluate(TrainOutcome.model_validate(trained)).model_dump(mode="json")


def deploy(evaluated: Payload) -> Payload:
    return modelling.deploy(EvaluateOutcome.model_validate(evaluated)).model_dump(mode="json")


def notify(deployed: Payload) -> Payload:
    return _notify(DeployOutcome.model_validate(deployed)).model_dump(mode="json")
