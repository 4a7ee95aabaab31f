"""Every registered layer kind, from its `example`: inferred shapes, printout, round trip, defaults.

Parametrised over the registry itself, so a kind added later is tested without editing this file.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
import torch
import yaml

from archspec.compiler import compile_spec
from archspec.layers import LAYER_KINDS, NUM_CLASSES, LayerSpec
from archspec.layers.base import HWC, WINDOWS, channels_of, laid
from archspec.shapes import resolve
from archspec.spec import Spec, spec_from_data, spec_from_text

NUM = 3  # what num_classes is bound to, should an example use it
SPATIAL = (4, 9, 11)  # an odd, non-square input catches height/width mix-ups
FLAT = (3, 2, 2)  # the model flattens it to (12,) before a fully connected section
INPUT_FORMS = {
    "spatial": ("spatial",),
    "flat": ("flat",),
    "last": ("flat", "channels_last", "tokens"),
    "channels_last": ("channels_last",),
    "tokens": ("tokens",),
    "windows": ("windows",),
    "any": ("spatial", "flat"),
}
# Fields torchvision takes as a list of two, which a spec may write as one int.
AS_LISTS = {
    "ShiftedWindowAttention": ("window_size", "shift_size"),
    "ShiftedWindowAttentionV2": ("window_size", "shift_size"),
}
# Kinds for any layout whose example is for one of them.
FORMS_OF = {"Permute": ("spatial",), "Flatten": ("spatial",)}
# Sections that turn the CxHxW input into the layout a form needs.
TO_LAYOUT = {
    "channels_last": [{"Permute": {"dims": [0, 2, 3, 1]}}],  # (9, 11, 4)
    "tokens": [{"Flatten": {"start_dim": 2}}, {"Permute": {"dims": [0, 2, 1]}}],  # (99, 4)
    "windows": [  # (9, 9, 4): 3x3 windows of a 9x9 map
        {"AdaptiveAvgPool2d": {"output_size": 9}},
        {"WindowPartition": {"p": 3}},
    ],
}
# The shape of each learnable tensor for the input `shape` its layer gets, as torchvision
# makes them (ViT's class_token and pos_embedding, ConvNeXt's layer_scale).
LEARNED_SHAPES = {
    "ClassToken": lambda shape: (1, 1, shape[-1]),
    "PositionEmbedding": lambda shape: (1, *shape),
    "LayerScale": lambda shape: (shape[0], 1, 1) if len(shape) == 3 else (shape[-1],),
}


def cases() -> list:
    return [
        pytest.param(kind, form, id=f"{kind}-{form}")
        for kind, schema in sorted(LAYER_KINDS.items())
        for form in FORMS_OF.get(kind, INPUT_FORMS[schema.accepts])
    ]


def example_of(schema: type[LayerSpec]) -> dict[str, Any]:
    return json.loads(json.dumps(schema.example))  # as YAML would give it: lists, not tuples


def probe_data(kind: str, form: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    """A spec whose last section holds only this kind, and the shape that layer gets."""
    schema = LAYER_KINDS[kind]
    layer = {kind: example_of(schema)}
    if form == "spatial":
        channels = SPATIAL[0] * schema.example.get("groups", 1)  # divisible by groups
        shape: tuple[int, ...] = (channels, *SPATIAL[1:])
        sections = {"probe": [layer]}
    elif form in TO_LAYOUT:
        c, h, w = SPATIAL
        shape = {
            "channels_last": laid((h, w, c), HWC),
            "tokens": (h * w, c),
            "windows": laid((9, 9, c), WINDOWS),
        }[form]
        sections = {"layout": TO_LAYOUT[form], "probe": [layer]}
        return {"name": f"Probe{kind}", "input_shape": list(SPATIAL), "sections": sections}, shape
    elif schema.accepts in ("flat", "last"):  # the model flattens the input before this section
        shape = (FLAT[0] * FLAT[1] * FLAT[2],)
        sections = {"probe": [layer]}
        if schema.accepts == "last" and not schema.flattens_maps:  # LayerNorm: flattened first
            sections = {"flatten": ["Flatten"], "probe": [layer]}
    else:  # a layer for any shape stays spatial unless a fully connected layer comes first
        shape = (12,)
        sections = {"fc": [{"Linear": {"out_features": 12}}], "probe": [layer]}
    input_shape = shape if form == "spatial" else FLAT
    return {"name": f"Probe{kind}", "input_shape": list(input_shape), "sections": sections}, shape


def hand_built(kind: str, in_shape: tuple[int, ...]) -> torch.nn.Module:
    """The PyTorch module written directly from the example, in-size filled in by hand."""
    schema = LAYER_KINDS[kind]
    kwargs = {k: NUM if v == NUM_CLASSES else v for k, v in schema.example.items()}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}  # as written
    for name in AS_LISTS.get(kind, ()):  # an int for both sides, given to torchvision as a list
        kwargs[name] = [kwargs[name]] * 2
    if schema.in_size_field:
        kwargs[schema.in_size_field] = channels_of(in_shape)
    return schema.torch_type()(**kwargs)


@pytest.mark.parametrize(("kind", "form"), cases())
def test_inferred_shape_matches_a_forward_pass(kind: str, form: str) -> None:
    data, in_shape = probe_data(kind, form)
    resolved = resolve(spec_from_data(data), NUM)
    model = compile_spec(resolved)
    assert resolved.layers[-1].in_shape == in_shape
    for training in (True, False):
        model.train(training)
        with torch.no_grad():
            out = model(torch.randn(2, *resolved.spec.input_shape))
        assert tuple(out.shape) == (2, *resolved.output_shape), f"training={training}"


@pytest.mark.parametrize(("kind", "form"), cases())
def test_builds_the_module_pytorch_builds_from_the_example(kind: str, form: str) -> None:
    data, in_shape = probe_data(kind, form)
    model = compile_spec(resolve(spec_from_data(data), NUM))
    if LAYER_KINDS[kind].parameter:  # a tensor of the section's own, under the layer's name
        built = model.probe.get_parameter("0")
        assert isinstance(built, torch.nn.Parameter)
        assert tuple(built.shape) == LEARNED_SHAPES[kind](in_shape)
        return
    built, expected = model.probe[0], hand_built(kind, in_shape)
    assert type(built) is LAYER_KINDS[kind].torch_type()
    assert repr(built) == repr(expected)
    assert {k: v.shape for k, v in built.state_dict().items()} == {
        k: v.shape for k, v in expected.state_dict().items()
    }


@pytest.mark.parametrize(("kind", "form"), cases())
def test_to_data_round_trips(kind: str, form: str) -> None:
    data, _ = probe_data(kind, form)
    spec = spec_from_data(data)
    written = spec.to_data()
    example = example_of(LAYER_KINDS[kind])
    assert written["sections"]["probe"] == [{kind: example}]  # as written
    assert spec_from_data(written) == spec
    assert spec_from_text(yaml.safe_dump(written, sort_keys=False)) == spec
    assert isinstance(spec, Spec) and (
        spec.sections["probe"].children[0].spec == LAYER_KINDS[kind](**example)
    )


@pytest.mark.parametrize("kind", sorted(LAYER_KINDS))
def test_field_names_and_defaults_are_pytorchs(kind: str) -> None:
    schema = LAYER_KINDS[kind]
    parameters = inspect.signature(schema.torch_type()).parameters
    for name, info in schema.model_fields.items():
        if name == schema.in_size_field:
            assert parameters[name].default is inspect.Parameter.empty
            continue
        assert name in parameters, f"{kind}.{name} is not a keyword of {schema.torch_class}"
        torch_default = parameters[name].default
        if info.is_required():
            assert torch_default is inspect.Parameter.empty, f"{kind}.{name}"
        else:
            assert info.default == torch_default, f"{kind}.{name}"
            assert type(info.default) is type(torch_default), f"{kind}.{name}"


@pytest.mark.parametrize("kind", sorted(LAYER_KINDS))
def test_example_sets_only_real_fields(kind: str) -> None:
    """Each example validates (the tests above rely on it) and is how the kind is listed."""
    schema = LAYER_KINDS[kind]
    assert schema.kind() == kind == schema.__name__
    assert set(schema.example) <= set(schema.model_fields)
    assert schema.model_validate(example_of(schema)).model_dump(exclude_unset=True).keys() == set(
        schema.example
    )
