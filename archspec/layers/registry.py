"""The closed set of layer kinds a spec may use: a plain dict filled by a decorator.

A spec names kinds by string; only names registered here resolve, so a spec can never reach an
arbitrary class or import path. Adding a kind means writing one schema with `@register_layer`.
"""

from __future__ import annotations

import difflib

from archspec.layers.base import LayerSpec

LAYER_KINDS: dict[str, type[LayerSpec]] = {}


def register_layer(cls: type[LayerSpec]) -> type[LayerSpec]:
    name = cls.kind()
    if name in LAYER_KINDS:
        raise ValueError(f"layer kind '{name}' is already registered ({LAYER_KINDS[name]!r})")
    if not hasattr(cls, "torch_class"):
        raise TypeError(f"layer kind '{name}' must set torch_class")
    LAYER_KINDS[name] = cls
    return cls


def list_layer_kinds() -> list[str]:
    return sorted(LAYER_KINDS)


def suggest_kind(name: str) -> str | None:
    """The registered kind the user most likely meant, e.g. 'conv2d' -> 'Conv2d'."""
    by_lower = {k.lower(): k for k in LAYER_KINDS}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None
