"""The spec commands (validate, schema, layers, expand, diff) never import torch, torchvision,
torchinfo or matplotlib: run in a fresh interpreter, they must leave them out of sys.modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from spec_test_paths import ARCHITECTURES, REPO, SHIPPED_SPECS, ZOO

CHILD = """
import contextlib, io, json, sys
from archspec_cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
heavy = ("torch", "torchvision", "torchinfo", "matplotlib")
print(json.dumps({"code": code, "heavy": [m for m in heavy if m in sys.modules]}))
"""

COMMANDS = {
    "validate": ["validate", *map(str, SHIPPED_SPECS)],
    "schema": ["schema"],
    "layers": ["layers"],
    "expand": ["expand", str(ZOO / "resnet18.yaml")],
    "diff": [
        "diff",
        str(ARCHITECTURES / "alexnet.yaml"),
        str(ZOO / "squeezenet1_1.yaml"),
    ],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_spec_command_imports_no_torch(command: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *COMMANDS[command]],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] in (0, 1), result.stderr
    assert report["heavy"] == [], f"archspec {command} imported {report['heavy']}"
