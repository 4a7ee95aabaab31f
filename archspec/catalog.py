"""The shipped specs, by name: `archspec build tiny`, `extends: alexnet`, `archspec.build("tiny")`.

They are package data (`archspec/architectures/`, the repository's `architectures/` folder), so
names work after a plain `pip install` in any folder. A path that exists always wins over a name.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SUFFIX = ".yaml"


def shipped_folder() -> Path:
    return Path(__file__).resolve().parent / "architectures"


@cache
def shipped_specs() -> dict[str, Path]:
    """Every shipped spec: name (the file's stem) -> file, sorted by name."""
    folder = shipped_folder()
    return {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}"))} if folder.is_dir() else {}


def shipped_name(value: str | Path) -> str | None:
    """The name `value` gives to a shipped spec, if it is one: `tiny` or `tiny.yaml`, with no
    folder in it (a path with a folder means that file)."""
    text = str(value)
    if not text or "/" in text or "\\" in text:
        return None
    name = text.removesuffix(SUFFIX)
    return name if name in shipped_specs() else None


def spec_path(value: str | Path) -> Path:
    """The file `value` names: itself if it exists, else the shipped spec of that name, else
    itself (so that reading it says it is not found, listing the names)."""
    path = Path(value)
    if path.exists():
        return path
    name = shipped_name(value)
    return shipped_specs()[name] if name is not None else path


def names_hint() -> str:
    names = ", ".join(shipped_specs())
    return f"or name a shipped spec ({names}; `archspec models` lists them)" if names else ""
