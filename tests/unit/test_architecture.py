"""The shape of the code: no import cycle between scanner modules, no module over 400 lines, light --help."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SCANNER = Path(__file__).resolve().parents[2] / "scanner"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(SCANNER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SCANNER.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """scanner module -> the scanner modules it imports anywhere (top level, in functions, in classes)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                    ).strip(".")
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    assert "scanner.sources" in graph["scanner.scan"]  # imported inside run_scan only


def test_no_import_cycle_between_scanner_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_no_module_over_400_lines() -> None:
    too_long = {n: c for n, p in _modules().items() if (c := len(p.read_text().splitlines())) > MAX_LINES}
    assert not too_long


def test_every_module_has_a_docstring() -> None:
    missing = [n for n, p in _modules().items() if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing


def test_help_loads_neither_hyperscan_nor_detect_secrets() -> None:
    code = (
        "import sys\n"
        "from scanner.cli import main\n"
        "sys.argv = ['imgscan', '--help']\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('hyperscan', 'detect_secrets'))\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "Usage:" in out.stdout
    assert "HEAVY []" in out.stdout, out.stdout.splitlines()[-1]
