"""The import layers read top-down: a module imports only its own layer and those below it.

archspec (the language) < runner.data < runner.figures < runner.training < runner.visualize <
runner.compare < runner.deploy < runner.launch < runner.study < archspec_cli (the command line).
Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runner.helpers import SMALL_SPEC

REPO = Path(__file__).resolve().parents[1]
LAYERS = [
    "archspec",
    "runner.data",
    "runner.figures",
    "runner.training",
    "runner.visualize",
    "runner.compare",
    "runner.deploy",
    "runner.launch",
    "runner.study",
    "archspec_cli",
]
# `python -m archspec` must start the command line: the entry point, which nothing imports.
ENTRY_POINTS = {"archspec/__main__.py"}
# The runner's package root holds only its docstring; its subpackages are the layers.
ROOTS = {"runner"}
# The language loads, expands, validates and infers shapes without torch; only the compile stage
# imports it at module level (building modules, loading weights into them).
TORCH_IN_ARCHSPEC = ("archspec/compiler.py", "archspec/modules.py", "archspec/weights.py")


def layer_of(module: str) -> int | None:
    """The index of the layer `module` belongs to (the longest matching prefix)."""
    matches = [
        i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")
    ]
    return max(matches, key=lambda i: len(LAYERS[i])) if matches else None


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in `tree`, relative ones resolved against `package`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *filter(None, [base])])
            found.append((node.lineno, base))
    return found


def sources() -> list[Path]:
    return sorted(
        p for top in ("archspec", "runner", "archspec_cli") for p in (REPO / top).rglob("*.py")
    )


def test_every_package_has_a_layer() -> None:
    loose = [m for m in map(module_name, sources()) if layer_of(m) is None and m not in ROOTS]
    assert loose == [], "add these to LAYERS (README: Architecture): " + ", ".join(loose)


def test_no_layer_imports_a_higher_one() -> None:
    upward = []
    for path in sources():
        relative = path.relative_to(REPO).as_posix()
        if relative in ENTRY_POINTS:
            continue
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        own = layer_of(module)
        if own is None:  # a root: test_every_package_has_a_layer says if it may be
            continue
        for line, target in imported(ast.parse(path.read_text()), package):
            theirs = layer_of(target)
            if theirs is not None and theirs > own:
                upward.append(
                    f"{relative}:{line} ({LAYERS[own]}) imports {target} ({LAYERS[theirs]})"
                )
    assert upward == [], "imports that run back up:\n" + "\n".join(upward)


def test_the_language_imports_torch_only_where_it_compiles() -> None:
    """At module level: a function may import torch when it is called (a lazy import)."""
    found = []
    for path in sorted((REPO / "archspec").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith(TORCH_IN_ARCHSPEC):
            continue
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            found += [
                f"{relative}:{node.lineno} imports {n}" for n in names if n.split(".")[0] == "torch"
            ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("module", "layer"),
    [("archspec.expand", "archspec"), ("runner.training.train", "runner.training"),
     ("archspec_cli", "archspec_cli"), ("runner.trainingx", None)],
)  # fmt: skip
def test_layer_of(module: str, layer: str | None) -> None:
    index = layer_of(module)
    assert (LAYERS[index] if index is not None else None) == layer


def test_a_spec_loads_and_its_shapes_resolve_without_torch(tmp_path: Path) -> None:
    """The module-level check above, run for real: no torch in sys.modules after the language's
    stages up to shapes (a lazy import would show here)."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SMALL_SPEC)
    code = (
        "import sys, archspec\n"
        "from archspec.spec import load_spec\nfrom archspec.shapes import resolve\n"
        f"resolved = resolve(load_spec({str(spec)!r}), 7)\n"
        "assert resolved.output_shape == (7,), resolved.output_shape\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
