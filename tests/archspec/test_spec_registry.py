"""The layer registry: closed, refuses duplicates, suggests what a misspelt kind meant."""

from __future__ import annotations

import pytest
from torch import nn

from archspec.layers import LAYER_KINDS, LayerSpec, register_layer, suggest_kind


def test_registering_a_kind_twice_is_refused_by_name() -> None:
    class ReLU(LayerSpec):  # the name of a kind that is already registered
        torch_class = nn.ReLU

    with pytest.raises(ValueError, match="'ReLU' is already registered"):
        register_layer(ReLU)
    assert LAYER_KINDS["ReLU"] is not ReLU


def test_a_kind_without_a_torch_class_is_refused() -> None:
    class Nothing(LayerSpec):
        pass

    with pytest.raises(TypeError, match="'Nothing' must set torch_class"):
        register_layer(Nothing)
    assert "Nothing" not in LAYER_KINDS


def test_a_new_kind_is_one_class_and_one_decorator() -> None:
    class Softplus(LayerSpec):
        torch_class = nn.Softplus

    try:
        register_layer(Softplus)
        assert LAYER_KINDS["Softplus"] is Softplus
        assert suggest_kind("softplus") == "Softplus"
    finally:
        del LAYER_KINDS["Softplus"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("conv2d", "Conv2d"), ("Conv2D", "Conv2d"), ("MaxPool", "MaxPool2d"), ("Relu", "ReLU")],
)
def test_close_matches_are_suggested(typed: str, meant: str) -> None:
    assert suggest_kind(typed) == meant


def test_nothing_is_suggested_for_an_unrelated_name() -> None:
    assert suggest_kind("TransformerEncoder") is None
