"""The closed set of layer kinds a spec may use: a plain dict filled by a decorator.

A spec names kinds by string; only names registered here resolve, so a spec can never reach an
arbitrary class or import path. Adding a kind means writing one schema with `@register_layer`.

Installed packages may add kinds through the `archspec.layers` entry-point group (the way pytest
finds its plugins), one schema class per kind, named after it:

    [project.entry-points."archspec.layers"]
    Mish = "my_package.layers:Mish"

Installing the package is the user's act of trust; a spec still only names a kind. A plugin may
not take the name of a built-in kind, nor of another plugin's.
"""

from __future__ import annotations

import difflib
from importlib.metadata import EntryPoint, entry_points

from archspec.document_tree import LAYER_ID
from archspec.errors import UserError
from archspec.layers.base import LayerSpec

PLUGIN_GROUP = "archspec.layers"
BUILT_IN = "built-in"

LAYER_KINDS: dict[str, type[LayerSpec]] = {}
KIND_ORIGINS: dict[str, str] = {}  # kind -> "built-in", or the distribution that installed it


def register_layer(cls: type[LayerSpec], origin: str = BUILT_IN) -> type[LayerSpec]:
    name = cls.kind()
    if name in LAYER_KINDS:
        raise ValueError(f"layer kind '{name}' is already registered ({LAYER_KINDS[name]!r})")
    if not hasattr(cls, "torch_class"):
        raise TypeError(f"layer kind '{name}' must set torch_class")
    if LAYER_ID in cls.model_fields:
        raise TypeError(
            f"layer kind '{name}' has a field named {LAYER_ID}, which specs use to name layers"
        )
    LAYER_KINDS[name] = cls
    KIND_ORIGINS[name] = origin
    return cls


def load_plugin_kinds() -> None:
    """Register the kinds of every installed `archspec.layers` entry point, or refuse."""
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        origin = _distribution(entry)
        if entry.name in LAYER_KINDS:
            other = KIND_ORIGINS[entry.name]
            owner = "a built-in kind" if other == BUILT_IN else f"already added by {other}"
            raise UserError(
                f"the package {origin} adds the layer kind '{entry.name}', which is {owner}; "
                "a plugin cannot replace a kind: uninstall one of them, or ask its author to "
                "rename the kind"
            )
        try:
            cls = entry.load()
        except Exception as e:  # any failure of third-party code: report it, name the package
            raise UserError(
                f"the package {origin} adds the layer kind '{entry.name}' ({entry.value}), "
                f"which cannot be imported: {type(e).__name__}: {e}"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, LayerSpec)) or cls.kind() != entry.name:
            raise UserError(
                f"the package {origin} adds the layer kind '{entry.name}' as {entry.value}, "
                f"which is not an archspec LayerSpec class named {entry.name}"
            )
        try:
            register_layer(cls, origin)
        except TypeError as e:
            raise UserError(f"the package {origin} cannot add a layer kind: {e}") from None


def _distribution(entry: EntryPoint) -> str:
    dist = entry.dist
    return f"{dist.name} {dist.version}" if dist is not None else entry.value


def list_layer_kinds() -> list[str]:
    return sorted(LAYER_KINDS)


def suggest_kind(name: str) -> str | None:
    """The registered kind the user most likely meant, e.g. 'conv2d' -> 'Conv2d'."""
    by_lower = {k.lower(): k for k in LAYER_KINDS}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None
