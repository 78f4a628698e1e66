"""Structure of the models and pipeline packages: no import cycles, one way to move the champion."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_architecture import import_cycles, module_graph, package_modules

PACKAGE = Path(__file__).resolve().parents[2] / "crypto_mlops"
OWN = ("crypto_mlops.models", "crypto_mlops.pipeline", "crypto_mlops.features")
# Modules outside those packages whose model use is checked too.
ALSO = ("crypto_mlops.service.model_holder", "crypto_mlops.streaming.processor")


def test_no_import_cycle_touches_the_model_packages() -> None:
    # Imports made only for annotations count here too: the model packages stay acyclic even for mypy.
    graph = module_graph(type_checking=True)
    ours = {m for m in graph if m.startswith(OWN) or m in ALSO}
    assert len(ours) > 20
    cycles = [c for c in import_cycles(graph) if ours & set(c)]
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_base_class_names_no_model_and_inference_loads_no_torch_or_mlflow() -> None:
    graph = module_graph(type_checking=True)
    assert graph["crypto_mlops.models.base"] <= {"crypto_mlops.models.confidence", "crypto_mlops.models.target"}
    heavy = {"crypto_mlops.models.bilstm", "crypto_mlops.models.zoo", "crypto_mlops.models.pyfunc"}
    top_level = _top_level_imports(PACKAGE / "models" / "inference.py")
    assert not top_level & heavy and not any(name.startswith(("torch", "mlflow")) for name in top_level)


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _calls(name: str) -> set[str]:
    """Modules of the package that call a function or method called `name`."""
    out = set()
    for module, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called == name:
                    out.add(module)
    return out


def test_only_the_promotion_path_registers_gates_and_moves_the_champion() -> None:
    registry, promotion = "crypto_mlops.models.registry", "crypto_mlops.models.promotion"
    # registry.promote / rollback are the manual moves; everything automatic goes through promotion.
    assert _calls("set_champion") <= {registry, promotion}
    assert _calls("set_model_version_tag") <= {registry, promotion}
    assert _calls("log_pyfunc") == {promotion}
    assert _calls("gate_decision") == {promotion}


def test_serving_a_baseline_loads_neither_torch_nor_mlflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import crypto_mlops.pipeline.tasks, crypto_mlops.service.model_holder, crypto_mlops.streaming.processor\n"
        "from crypto_mlops.data.sources.synthetic import simulate\n"
        "from crypto_mlops.models.inference import baseline_predictor\n"
        "baseline_predictor('har').predict(simulate(n_bars=1200, seed=1).frame, 'synthetic')\n"
        "print(sorted(m for m in ('torch', 'mlflow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"
