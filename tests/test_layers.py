"""The package's layers: no import cycle, no import from a higher layer, and every module
importable alone in a fresh interpreter (so no hidden order dependence)."""

from __future__ import annotations

import ast
import importlib.util
import random
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"

# Each layer may import only layers of a lower rank (and itself).
RANKS = {
    "errors": 0,
    "scenario": 0,
    "conduct": 1,
    "stats": 1,
    "adam": 1,  # ADaM in and out: reads and writes tables, imports only sim.errors
    "storage": 1,
    "clinic": 2,
    "engine": 3,
    "outputs": 4,
    "api": 5,
    "commands": 6,
    "qualify": 6,  # the reference checks: runs the API and the layers below, as a user would
    "__init__": 7,
    "__main__": 7,
    "app": 7,  # the web page over the API (tests/test_app_units.py: it imports sim, outputs)
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> list[str]:
    return sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(module: str) -> set[str]:
    """Modules of the package that `module` imports, at any depth of its code (function-level
    imports count: a lazy import from a higher layer is still an upward dependency). Imports
    under `if TYPE_CHECKING:` are ignored, as they never run."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    known = set(all_modules())
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "sim")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "sim":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {m for m in found if m != module}


def test_no_module_imports_a_higher_layer():
    upward = []
    for module in all_modules():
        own = RANKS[layer(module)]
        for target in imports_of(module):
            if target == "sim" and layer(module) in ("__init__", "__main__", "api", "app"):
                continue
            if RANKS[layer(target)] > own:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = {m: imports_of(m) - {"sim"} for m in all_modules()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_every_layer_is_a_subpackage():
    for name in (
        "scenario",
        "conduct",
        "clinic",
        "stats",
        "storage",
        "engine",
        "outputs",
        "api",
        "commands",
    ):
        assert (PACKAGE / name / "__init__.py").is_file(), name
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "errors.py"]


def test_every_module_imports_in_a_fresh_interpreter_in_any_order():
    """Each layer's modules first in a fresh interpreter (shuffled), then the whole package
    shuffled: an import that works only after another module was imported fails here."""
    modules = [m for m in all_modules() if m not in ("sim.__main__", "sim.app.__main__")]
    if importlib.util.find_spec("shiny") is None:  # the page needs the `app` extra
        modules.remove("sim.app.page")
    rng = random.Random(20260130)
    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    groups = [[m for m in modules if layer(m) == name] for name in RANKS]
    for group in [*filter(None, groups), modules]:
        order = group[:]
        rng.shuffle(order)
        subprocess.run(
            [sys.executable, "-c", script, *order], check=True, cwd=PACKAGE.parent, timeout=120
        )
