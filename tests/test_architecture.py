"""Architecture rules, checked on the source: no import cycles, and each layer imports only the layers below.

Imports inside functions count too: a lazy import only hides a cycle from the interpreter, not from
the reader. The layer picture these rules encode is drawn in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "crypto_mlops"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
GENERATED = ROOT / "rpc" / "generated"

# Which top-level rooms of the package each room may import (besides itself and the shared leaves).
SHARED = {"config", "data"}
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "data": {"config"},
    "features": SHARED,
    "signals": SHARED | {"features"},
    "models": SHARED | {"features", "signals"},
    "pipeline": SHARED | {"features", "models"},
    "streaming": SHARED | {"features", "signals", "models"},
    "service": SHARED | {"features", "signals", "models", "streaming"},
    "api": SHARED | {"service", "gql", "models"},
    "gql": SHARED | {"service"},
    "rpc": SHARED | {"service"},
    "stack": SHARED,
    "cli": SHARED | {"features", "signals", "models", "pipeline", "service", "streaming", "api", "gql", "rpc", "stack"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {
        _module_name(p): p for p in sorted(ROOT.rglob("*.py")) if GENERATED not in p.parents and p.parent != GENERATED
    }


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, path: Path, known: set[str], type_checking: bool) -> Iterator[str]:
    """Package modules imported anywhere in `path` (top level, functions; TYPE_CHECKING blocks when asked)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if not type_checking and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            names = [f"{target}.{a.name}" for a in node.names] + [target]
        else:
            continue
        for name in names:
            # `from pkg import sub` names a module when `pkg.sub` is one; else the nearest known parent.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith(PACKAGE + ".") and name != module:
                yield name


def module_graph(type_checking: bool = False) -> dict[str, set[str]]:
    """Module -> the package modules it imports (`type_checking`: count imports made for annotations too)."""
    mods = package_modules()
    known = set(mods)
    return {m: set(_imports(m, p, known, type_checking)) for m, p in mods.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def edges_into_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exports its modules; importing `pkg` is not a dependency of `pkg.mod`.
    return {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}


def test_the_checker_sees_the_package() -> None:
    graph = module_graph()
    assert len(graph) > 50
    assert any(graph.values()), "no package import found at all: the resolver is broken"


def test_checker_finds_a_cycle() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    cycles = import_cycles(edges_into_packages(module_graph()))
    assert not cycles, "import cycles (lazy imports included):\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_layers(room: str) -> None:
    graph = module_graph()
    bad = sorted(
        f"{m} imports {t}"
        for m, targets in graph.items()
        if _room(m) == room
        for t in targets
        if _room(t) not in ALLOWED[room] | {room, ""}
    )
    assert not bad, f"{room} may import only {sorted(ALLOWED[room])}:\n" + "\n".join(bad)


def test_every_room_has_a_rule() -> None:
    rooms = {_room(m) for m in module_graph()} - {""}
    assert rooms <= set(ALLOWED), f"rooms without a layer rule: {sorted(rooms - set(ALLOWED))}"
