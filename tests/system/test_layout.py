"""The shape of the code, as the README's layout table describes it: subsystem packages,
no import circles (type-only imports count), a light `check-config`, seams that say what
the pipeline reads, and short functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 60
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "types.py", "errors.py"}


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules it imports anywhere in its text (type-only and lazy ones too),
    plus the package `__init__`s an import of a submodule runs."""
    files = {module_name(root, f): f for pkg in packages for f in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, file in files.items():
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        deps = set()
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                step = ".".join(parts[:i])
                inside = name == step or name.startswith(step + ".")
                if step in files and not inside:  # a package's own modules run its init
                    deps.add(step)
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round about (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_edge_lists_its_subsystems_not_its_modules():
    entries = {p.name for p in (ROOT / "edge").iterdir() if p.name != "__pycache__"}
    others = sorted(entries - TOP_LEVEL_MODULES)
    assert len(others) <= 8, others
    assert all((ROOT / "edge" / name / "__init__.py").is_file() for name in others), others


def test_no_import_circle_in_edge_or_convert():
    assert circles(import_graph(ROOT, ("edge", "convert"))) == []


def test_the_circle_finder_finds_a_type_only_circle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.b import B\n")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\nB = 1\n"
    )
    (pkg / "c.py").write_text("def late():\n    from pkg import a\n")  # not in a circle
    assert circles(import_graph(tmp_path, ("pkg",))) == [["pkg.a", "pkg.sub", "pkg.sub.b"]]


def test_edge_does_not_import_the_pc_side_tools():
    graph = import_graph(ROOT, ("edge", "convert"))
    reaching = {m: sorted(d for d in deps if d.startswith("convert")) for m, deps in graph.items()}
    # edge/app/bench builds a VGG19 for its comparison with TensorFlow, lazily, on a PC
    offenders = {m: d for m, d in reaching.items() if m.startswith("edge") and d}
    assert set(offenders) <= {"edge.app.bench"}, offenders


def test_check_config_imports_no_opencv_or_numpy():
    code = (
        "import sys\n"
        "from edge.app.cli import main\n"
        "code = main(['check-config', 'config.yaml'])\n"
        "print(code, sorted(m for m in ('cv2', 'numpy', 'paho') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout


def _calls(tree: ast.AST, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


@pytest.mark.parametrize("package", ["edge/app", "edge/pipeline"])
def test_the_assembly_reads_declared_seams_not_guesses(package):
    """Stages and outputs are used through their Protocols: no getattr() probing them,
    no isinstance() asking which sink this is (argparse's Namespace is read with vars())."""
    found = []
    for file in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        found += [f"{file.relative_to(ROOT)}:{n} getattr" for n in _calls(tree, "getattr")]
        found += [f"{file.relative_to(ROOT)}:{n} isinstance" for n in _calls(tree, "isinstance")]
    assert found == []


def test_no_function_is_longer_than_a_screen():
    long = []
    for package in ("edge", "convert"):
        for file in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{file.relative_to(ROOT)}:{node.lineno} {node.name} {lines}")
    assert long == []
