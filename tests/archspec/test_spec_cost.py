"""Receptive fields, effective strides and cost, all from the shapes: checked by hand and
against torchinfo, which runs the real model."""

from __future__ import annotations

import math
import textwrap
import time

import pytest
import torchinfo
from spec_test_paths import ARCHITECTURES, BUILT_SPECS

from archspec.compiler import compile_spec
from archspec.shapes import resolve
from archspec.spec import load_spec, spec_from_text


def test_alexnet_receptive_fields_are_the_known_ones() -> None:
    resolved = resolve(load_spec(ARCHITECTURES / "alexnet.yaml"), 4)
    by_kind = [r for r in resolved.layers if r.layer.kind() in ("Conv2d", "MaxPool2d")]
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert len(by_kind) == len(names)
    assert [r.rf[0] for r in by_kind] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [r.jump[0] for r in by_kind] == [4, 8, 8, 16, 16, 16, 16, 32]


def test_dilated_stack_by_hand() -> None:
    resolved = resolve(
        spec_from_text(
            textwrap.dedent(
                """
                name: Dilated
                input_shape: [1, 64, 48]
                sections:
                  f:
                    - Conv2d: {out_channels: 2, kernel_size: 3, dilation: 2, padding: 2}
                    - Conv2d: {out_channels: 2, kernel_size: [3, 5], stride: 2, dilation: 4}
                    - MaxPool2d: {kernel_size: 2}
                    - Conv2d: {out_channels: 2, kernel_size: 3, dilation: 3}
                """
            )
        ),
        None,
    )
    # rf += (k - 1) * d * jump; jump *= stride, along each axis (height, width)
    rf1 = (1 + 2 * 2, 1 + 2 * 2)  # 5, 5
    rf2 = (rf1[0] + 2 * 4 * 1, rf1[1] + 4 * 4 * 1)  # 13, 21; jump 2
    rf3 = (rf2[0] + 1 * 2, rf2[1] + 1 * 2)  # 15, 23; jump 4
    rf4 = (rf3[0] + 2 * 3 * 4, rf3[1] + 2 * 3 * 4)  # 39, 47; jump 4
    assert [r.rf for r in resolved.layers] == [rf1, rf2, rf3, rf4]
    assert [r.jump for r in resolved.layers] == [(1, 1), (2, 2), (4, 4), (4, 4)]


def test_parallel_branches_report_the_larger_receptive_field(cli, write_spec) -> None:
    path = write_spec(
        """
        name: Net
        input_shape: [3, 16, 16]
        sections:
          f:
            - Parallel:
                branches:
                  - [{Conv2d: {out_channels: 2, kernel_size: 1}}]
                  - [{Conv2d: {out_channels: 2, kernel_size: 5, padding: 2}}]
        """
    )
    result = cli("build", path)
    assert result.code == 0, result.err
    concat = next(line for line in result.out.splitlines() if line.startswith("concat"))
    assert concat.split()[5:8] == ["4x16x16", "5", "1"]


@pytest.mark.parametrize("path", BUILT_SPECS, ids=lambda p: p.stem)
def test_cost_agrees_with_torchinfo(path) -> None:
    resolved = resolve(load_spec(path), 7)
    model = compile_spec(resolved).eval()
    stats = torchinfo.summary(
        model, input_size=(1, *resolved.spec.input_shape), verbose=0, device="cpu"
    )
    assert resolved.total_params == stats.total_params
    assert resolved.total_mult_adds == stats.total_mult_adds
    leaves = [info for info in stats.summary_list if info.is_leaf_layer]
    assert [tuple(info.output_size[1:]) for info in leaves] == [
        r.out_shape for r in resolved.layers
    ]
    measured = 4 * sum(math.prod(info.output_size[1:]) for info in leaves)
    assert resolved.activation_bytes == measured
    assert resolved.total_params == sum(p.numel() for p in model.parameters())


def test_build_allocates_no_weights_for_a_trillion_parameters(cli, write_spec) -> None:
    path = write_spec(
        """
        name: Huge
        input_shape: [1, 1000, 1000]
        sections:
          fc:
            - Linear: {out_features: 1000000}
        """
    )
    start = time.perf_counter()
    result = cli("build", path)
    assert time.perf_counter() - start < 5  # 4 TB of weights were never allocated
    assert result.code == 0, result.err
    assert "Total params: 1,000,001,000,000" in result.out
    assert "Weights: 4.0 TB (float32)" in result.out
