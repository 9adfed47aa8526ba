"""Imports run one way: no circles, no upward import, training and argparse only where they belong.

A short AST walk over `genre_core/`, `pages/`, `app.py` and `beetsplug/`. Every import counts, also
those inside functions and under `TYPE_CHECKING`: a deferred import is still a dependency.
The layers, lowest first (docs/architecture.md shows the same tree):

    signal    config errors audio windows features aggregate preview library reference
    models    genre_core/models/  (networks, registry, checkpoint format, ONNX export and runtime)
    services  classifier explain export tagging similarity ... report, bench/ (measurements), tags/ (writing into files)
    training  genre_core/training/
    front     genre_core/cli/, genre_core/__main__, pages/, app.py, beetsplug/
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("signal", "models", "services", "training", "front")
SIGNAL = {"config", "errors", "audio", "windows", "features", "aggregate", "preview", "library", "reference"}
MAX_LINES = 450


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported project module
    file: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files(root: Path) -> list[Path]:
    files = [root / "app.py"] if (root / "app.py").is_file() else []
    for folder in ("genre_core", "pages", "beetsplug"):
        files += sorted((root / folder).rglob("*.py"))
    return files


def layer(module: str) -> str:
    parts = module.split(".")
    if (
        parts[0] in ("pages", "app", "beetsplug")
        or module == "genre_core.__main__"
        or parts[:2] == ["genre_core", "cli"]
    ):
        return "front"
    if parts[:2] == ["genre_core", "training"]:
        return "training"
    if parts[:2] == ["genre_core", "models"]:
        return "models"
    if len(parts) == 2 and parts[1] in SIGNAL:
        return "signal"
    return "services"  # the other genre_core modules, and the package's public API itself


def imports_of(path: Path, root: Path, modules: set[str]) -> Iterator[tuple[str | None, int]]:
    """Every imported name as a module path: a project module (resolved) or an outside one (its top name)."""
    me = module_name(path, root)
    package = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{stem}.{alias.name}"
                yield (full if full in modules else stem), node.lineno


def project_imports(root: Path) -> tuple[list[Import], list[Import]]:
    """(imports between project modules, imports of argparse)."""
    files = project_files(root)
    modules = {module_name(f, root) for f in files}
    inside, argparse_uses = [], []
    for path in files:
        source = module_name(path, root)
        for target, line in imports_of(path, root, modules):
            rel = str(path.relative_to(root))
            if target == "argparse":
                argparse_uses.append(Import(source, target, rel, line))
                continue
            # `import genre_core.models.onnx` names a module; `from genre_core import X` names the package.
            while target and target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != source:
                inside.append(Import(source, target, rel, line))
    return inside, argparse_uses


def violations(root: Path) -> list[str]:
    """Every broken rule, one readable line each: which file, which import, which rule."""
    inside, argparse_uses = project_imports(root)
    found = []
    for imp in inside:
        where = f"{imp.file}:{imp.line} imports {imp.target}"
        mine, theirs = layer(imp.source), layer(imp.target)
        if LAYERS.index(mine) < LAYERS.index(theirs):
            found.append(f"{where}: the {mine} layer must not import the higher {theirs} layer")
        if theirs == "training" and mine != "training" and not imp.source.startswith("genre_core.cli"):
            found.append(f"{where}: only cli/ and training/ itself import training (pages, classifier, library never)")
        if mine == "models" and imp.target.split(".")[1:2] in (["classifier"], ["training"], ["cli"]):
            found.append(f"{where}: models/ never imports classifier, training or cli")
    for imp in argparse_uses:
        if not imp.source.startswith("genre_core.cli"):
            found.append(f"{imp.file}:{imp.line} imports argparse: only cli/ parses arguments; take typed arguments")
    found += [f"import circle: {' -> '.join(cycle)}" for cycle in circles(inside)]
    return found


def circles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each shown as a closed path."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.source, set()).add(imp.target)
        graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group) + [sorted(group)[0]])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_imports_run_one_way() -> None:
    broken = violations(ROOT)
    assert not broken, "layering rules broken:\n" + "\n".join(broken)


def test_no_source_module_is_over_450_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for folder in ("genre_core", "pages")
        for p in (ROOT / folder).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_every_module_has_a_layer_and_the_walk_sees_the_real_imports() -> None:
    """The walk is not vacuous: it finds the imports the code really has, in every layer."""
    inside, _ = project_imports(ROOT)
    pairs = {(i.source, i.target) for i in inside}
    assert ("genre_core.classifier", "genre_core.models.checkpoint") in pairs
    assert ("genre_core.models.checkpoint", "genre_core.models.onnx") in pairs
    assert ("genre_core.training.transfer", "genre_core.training.bank") in pairs
    assert ("pages.dashboard", "genre_core") in pairs
    assert {layer(i.source) for i in inside} == set(LAYERS)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in ("genre_core", "pages", "beetsplug"):
        (root / folder).mkdir(exist_ok=True)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # an upward import, deferred inside a function
            {
                "genre_core/__init__.py": "",
                "genre_core/models/__init__.py": "",
                "genre_core/models/onnx.py": "def f():\n    from ..classifier import GenreClassifier\n",
                "genre_core/classifier.py": "from .models import onnx\n",
            },
            "genre_core/models/onnx.py:2 imports genre_core.classifier: the models layer must not import the higher "
            "services layer",
        ),
        (  # a page reaching into training
            {
                "genre_core/__init__.py": "",
                "genre_core/training/__init__.py": "",
                "genre_core/training/report.py": "",
                "pages/model.py": "from genre_core.training.report import render\n",
            },
            "pages/model.py:1 imports genre_core.training.report: only cli/ and training/ itself import training",
        ),
        (  # a library function parsing arguments
            {"genre_core/__init__.py": "", "genre_core/bench.py": "import argparse\n"},
            "genre_core/bench.py:1 imports argparse: only cli/ parses arguments",
        ),
        (  # a circle through a typing-only import
            {
                "genre_core/__init__.py": "",
                "genre_core/models/__init__.py": "",
                "genre_core/models/checkpoint.py": "from .onnx import export\n",
                "genre_core/models/onnx.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from .checkpoint import Checkpoint\n",
            },
            "import circle: genre_core.models.checkpoint -> genre_core.models.onnx -> genre_core.models.checkpoint",
        ),
    ],
)
def test_the_walk_names_the_file_the_import_and_the_rule(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    found = violations(write_tree(tmp_path, files))
    assert any(line.startswith(expected) for line in found), found


def test_help_and_predict_load_no_training_code() -> None:
    """The CLI imports a command's library code only when it runs: `--help` and `predict` never load training."""
    import subprocess
    import sys

    from conftest import CLIPS

    code = (
        "import contextlib, io, sys\n"
        "from genre_core.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert main(['predict', sys.argv[1], '--format', 'json', '--quiet']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('genre_core.training') or m == 'sklearn'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(CLIPS["jazz"])], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-500:]
