"""The version `archspec --version` prints: the installed package's, else the source tree's."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from archspec.distribution import DISTRIBUTION

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def archspec_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    # Run from a checkout that was never installed (PYTHONPATH=.): pyproject.toml says it.
    try:
        text = PYPROJECT.read_text(encoding="utf-8")
    except OSError:
        return "unknown (not installed)"
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    found = project and re.search(r'^version\s*=\s*"([^"]+)"', project[1], re.MULTILINE)
    return f"{found[1]} (source tree, not installed)" if found else "unknown (not installed)"
