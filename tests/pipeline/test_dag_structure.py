"""The DAG file parses, is scheduled every 6 h without catch-up, maps per symbol and only wires tasks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "airflow" / "dags" / "crypto_ml_pipeline.py"


@pytest.fixture(scope="module")
def dag(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as env:  # no Airflow settings leak into other tests
        env.setenv("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow")))
        env.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAG_FILE.parent))
        assert not bag.import_errors, bag.import_errors
        yield bag.dags["crypto_ml_pipeline"]


def test_schedule_retries_and_wiring(dag) -> None:
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == "0 */6 * * *"
    tasks = {t.task_id: t for t in dag.tasks}
    assert list(tasks) == ["plan", "symbols", "extract", "process", "validate", "train", "evaluate", "deploy", "notify"]
    assert {name for name, t in tasks.items() if type(t).__name__ == "DecoratedMappedOperator"} == {
        "extract",
        "process",
        "validate",
    }
    assert tasks["extract"].retries == 3 and tasks["validate"].retries == 0 and tasks["deploy"].retries == 0
    assert tasks["train"].retries == 1
    assert tasks["train"].upstream_task_ids == {"plan", "validate"}
    assert tasks["notify"].upstream_task_ids == {"deploy"}


def test_dag_file_holds_no_logic() -> None:
    """Every task body is a single `return steps.<function>(...)`."""
    tree = ast.parse(DAG_FILE.read_text())
    tasks = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(getattr(d, "id", getattr(getattr(d, "func", None), "id", None)) == "task" for d in node.decorator_list)
    ]
    assert len(tasks) == 9
    for fn in tasks:
        body = [n for n in fn.body if not isinstance(n, ast.Expr)]  # docstrings aside
        assert len(body) == 1 and isinstance(body[0], ast.Return), fn.name
        call = body[0].value
        assert isinstance(call, ast.Call) and ast.unparse(call.func).startswith("steps."), fn.name
