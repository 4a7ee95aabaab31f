"""The shipped specs, by name: `archspec build tiny`, `extends: alexnet`, `archspec.build("tiny")`.

They are package data (`archspec/architectures/`, the repository's `architectures/` folder, and
its `zoo/` of torchvision's models), so names work after a plain `pip install` in any folder. A
path that exists always wins over a name.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

SUFFIX = ".yaml"
HINT_NAMES = 6  # names a message lists; `archspec models` lists them all
ZOO = "zoo"  # torchvision's classification models, under torchvision's names


def shipped_folder() -> Path:
    return Path(__file__).resolve().parent / "architectures"


def zoo_folder() -> Path:
    return shipped_folder() / ZOO


@cache
def zoo_specs() -> dict[str, Path]:
    """The zoo: torchvision's model name -> its spec, sorted by name."""
    folder = zoo_folder()
    return {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}"))} if folder.is_dir() else {}


@cache
def shipped_specs() -> dict[str, Path]:
    """Every shipped spec: name (the file's stem) -> file, the zoo first, then the study's
    specs, each sorted by name. A zoo name wins: `alexnet` is torchvision's AlexNet, and the
    study's own AlexNet is architectures/alexnet.yaml, by path."""
    folder = shipped_folder()
    study = {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}"))} if folder.is_dir() else {}
    zoo = zoo_specs()
    return {**zoo, **{name: path for name, path in study.items() if name not in zoo}}


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


def names_hint(near: str | Path = "") -> str:
    """The names to offer: those close to `near` (a name mistyped) first, then the first few."""
    names = list(shipped_specs())
    if not names:
        return ""
    stem = Path(str(near)).name.removesuffix(SUFFIX) if near else ""
    close = difflib.get_close_matches(stem, names, n=3) if stem else []
    shown = close + [n for n in names if n not in close][: max(0, HINT_NAMES - len(close))]
    listed = ", ".join(shown) + (", ..." if len(names) > len(shown) else "")
    return f"or name a shipped spec ({listed}; `archspec models` lists all {len(names)})"
