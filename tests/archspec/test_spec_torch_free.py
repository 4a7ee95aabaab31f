"""Reading, expanding, validating and resolving a spec never imports torch: only compile does."""

from __future__ import annotations

import os
import subprocess
import sys

from spec_test_paths import REPO, ZOO

CHILD = """
import sys
from archspec.memory import memory_need
from archspec.schema import spec_json_schema
from archspec.shapes import resolve
from archspec.spec import load_spec
from archspec.summary import summarize_resolved
resolved = resolve(load_spec(sys.argv[1]), 10)
summarize_resolved(resolved).render()
memory_need(resolved, 8, training=True)
spec_json_schema()
print("torch" in sys.modules)
"""


def test_no_torch_before_compile() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(ZOO / "resnet18.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
