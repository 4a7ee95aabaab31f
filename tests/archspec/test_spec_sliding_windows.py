"""Window arithmetic against PyTorch itself: `sliding_output`, and conv/pooling shape inference.

Where archspec infers a size, PyTorch must produce that size; where archspec refuses a layer,
PyTorch must refuse it too (and the other way round), over a grid of sizes, kernels, strides,
paddings, dilations and ceil_mode on tiny tensors.
"""

from __future__ import annotations

import itertools
import warnings

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.layers import LAYER_KINDS, ShapeError
from archspec.layers.base import sliding_output

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)


def torch_length(size, kernel, stride, padding, dilation, ceil_mode) -> int | None:
    """PyTorch's output length along one axis, or None where PyTorch refuses the window."""
    x = torch.zeros(1, 1, size)
    try:
        if ceil_mode or padding <= kernel // 2:
            out = F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
        else:  # max pooling allows at most half the kernel as padding; convolution any
            out = F.conv1d(x, torch.ones(1, 1, kernel), None, stride, padding, dilation)
    except RuntimeError:
        return None
    return out.shape[-1]


def test_sliding_output_matches_pytorch_on_a_grid() -> None:
    compared = 0
    for size, kernel, stride, padding, dilation, ceil_mode in itertools.product(
        range(1, 11), range(1, 5), range(1, 4), range(3), range(1, 3), (False, True)
    ):
        expected = torch_length(size, kernel, stride, padding, dilation, ceil_mode)
        if expected is None:
            continue
        got = sliding_output(size, kernel, stride, padding, dilation, ceil_mode)
        assert got == expected, (size, kernel, stride, padding, dilation, ceil_mode)
        compared += 1
    assert compared > 1000  # the grid is not vacuous


def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding() -> None:
    # 5 + 2x1 padding, kernel 2, stride 2, ceil: the 4th window would start at the right padding
    assert sliding_output(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert F.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3
    # without padding the last, partial window is kept
    assert sliding_output(6, 3, 2, 0, 1, ceil_mode=True) == 3


pairs = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))
small_pairs = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
paddings = st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)))

conv_fields = st.fixed_dictionaries(
    {
        "out_channels": st.sampled_from([2, 4]),
        "kernel_size": pairs,
        "stride": small_pairs,
        "padding": st.one_of(paddings, st.sampled_from(["same", "valid"])),
        "dilation": small_pairs,
        "groups": st.sampled_from([1, 2]),
        "padding_mode": st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    }
)
max_pool_fields = st.fixed_dictionaries(
    {"kernel_size": pairs, "padding": paddings},
    optional={"stride": small_pairs, "dilation": small_pairs, "ceil_mode": st.booleans()},
)
avg_pool_fields = st.fixed_dictionaries(
    {"kernel_size": pairs, "padding": paddings},
    optional={"stride": small_pairs, "ceil_mode": st.booleans()},
)
layers = st.one_of(
    st.tuples(st.just("Conv2d"), conv_fields),
    st.tuples(st.just("MaxPool2d"), max_pool_fields),
    st.tuples(st.just("AvgPool2d"), avg_pool_fields),
)
input_shapes = st.tuples(st.sampled_from([2, 3, 4]), st.integers(1, 9), st.integers(1, 9))


@SETTINGS
@given(layer=layers, shape=input_shapes)
def test_window_layers_infer_what_pytorch_computes(layer, shape) -> None:
    kind, fields = layer
    spec = LAYER_KINDS[kind].model_validate(fields)
    try:
        inferred = spec.output_shape(shape, 3)
    except ShapeError:
        inferred = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # padding="same" with an even kernel warns
            in_channels = {"in_channels": shape[0]} if kind == "Conv2d" else {}
            module = getattr(torch.nn, kind)(**in_channels, **fields)  # PyTorch's own, directly
            actual = tuple(module(torch.zeros(1, *shape)).shape[1:])
    except (RuntimeError, ValueError):
        actual = None
    assert inferred == actual, (kind, fields, shape)
