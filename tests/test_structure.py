"""The shape of the house: no import cycle among the repository's modules; the torch-free
modules stay torch-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("auditor", "hashing", "cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def repository_modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The repository modules ``path`` imports anywhere in its body (lazy imports included)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from package import module`` imports the submodule too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = repository_modules()
    known = set(modules)
    return {name: imported_modules(path, name, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a list of modules (first repeated at the end)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_relative_and_lazy_imports() -> None:
    graph = import_graph()
    assert "auditor.report.page" in graph["auditor.report"]
    assert "auditor.report" in graph["auditor.scanning"]  # imported inside write_scan


def test_no_import_cycle_among_the_repository_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize(
    "code",
    [
        "import auditor.report",
        "import auditor.audit_files",
        "import auditor.media",
        "from auditor.report import build_report",
        "import cli.report_command",
        "import auditor.knn",
        "import hashing.neighbours",
    ],
)
def test_report_modules_import_no_torch(code: str) -> None:
    heavy = "sorted(m for m in ('torch', 'cleanlab') if m in sys.modules)"
    check = f"{code}; import sys; print({heavy})"
    output = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]", output


def test_the_registries_list_what_the_factories_accept() -> None:
    from auditor.detectors import DETECTORS, HASHER_DETECTORS, list_detectors
    from auditor.encoders import OFFLINE_SPEC, list_encoders
    from hashing.base import HashMethod
    from hashing.methods import METHODS, list_methods

    assert list(list_methods()) == list(METHODS) == ["plain", "rshnl", "scbch", "nrch"]
    assert list(list_detectors()) == list(DETECTORS)
    assert HASHER_DETECTORS == ("rshnl", "scbch", "nrch")  # the methods with signals
    assert list_detectors()["rshnl"] == "rshnl_hardness, rshnl_weight"
    assert OFFLINE_SPEC in list_encoders()
    # Each hasher's signals are declared once, on its class, with a valid direction.
    for name in HASHER_DETECTORS:
        method: type[HashMethod] = METHODS[name]
        assert [spec.name for spec in DETECTORS[name].signals] == [s.name for s in method.signals]
        assert {s.direction for s in method.signals} <= {"low_is_suspect", "high_is_suspect"}
