"""Blocks: residual and parallel blocks, reusable blocks with parameters, repeat, nesting.

Each construct is compiled and run, and compared with the same module written by hand.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

from archspec.compiler import compile_spec
from archspec.shapes import resolve
from archspec.spec import spec_from_text


def compiled(text: str, num_classes: int = 3) -> tuple[nn.Module, object]:
    resolved = resolve(spec_from_text(textwrap.dedent(text)), num_classes)
    return compile_spec(resolved).eval(), resolved


def merges(resolved) -> list[tuple[str, str]]:
    return [(r.what, r.note) for r in resolved.rows if not hasattr(r, "layer")]


BASIC_BLOCK = """
name: Net
input_shape: [4, 8, 8]
blocks:
  Basic:
    params: {planes: required, stride: 1}
    Residual:
      body:
        conv1: {Conv2d: {out_channels: $planes, kernel_size: 3, stride: $stride, padding: 1,
                         bias: false}}
        bn1: BatchNorm2d
        relu: {ReLU: {inplace: true}}
        conv2: {Conv2d: {out_channels: $planes, kernel_size: 3, padding: 1, bias: false}}
        bn2: BatchNorm2d
      shortcut: auto
      after:
        relu: {ReLU: {inplace: true}}
sections:
  stage:
    - Basic: {planes: %s}
      repeat: 2
      first: {stride: %s}
"""


class HandBasic(nn.Module):
    """torchvision's BasicBlock, as one writes it."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@pytest.mark.parametrize(("planes", "stride"), [(4, 1), (8, 2)], ids=["identity", "projection"])
def test_residual_block_matches_the_hand_written_one(planes: int, stride: int) -> None:
    model, resolved = compiled(BASIC_BLOCK % (planes, stride))
    hand = nn.Sequential(HandBasic(4, planes, stride), HandBasic(planes, planes)).eval()
    for block in hand:
        block._get_name = lambda: "Basic"  # the spec's block name
    assert repr(model.stage) == repr(hand)
    model.load_state_dict({f"stage.{k}": v for k, v in hand.state_dict().items()})
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(model(x), hand(x))
    auto = (
        "shortcut auto: identity"
        if stride == 1
        else ("shortcut auto: 1x1 conv stride 2 + BatchNorm2d")
    )
    assert merges(resolved)[0] == ("add", auto)
    assert merges(resolved)[1] == ("add", "shortcut auto: identity")  # the repeat, stride 1


def test_residual_in_place_first_layer_keeps_the_identity() -> None:
    model, _ = compiled(
        """
        name: Net
        input_shape: [2, 4, 4]
        sections:
          f:
            - Residual: {body: [{ReLU: {inplace: true}}], shortcut: identity}
        """
    )
    x = torch.tensor([-1.0, 2.0]).repeat(16).view(1, 2, 4, 4)
    expected = torch.relu(x) + x  # before the model's in-place ReLU changes x
    assert torch.equal(model(x), expected)


PARALLEL = """
name: Net
input_shape: [3, 6, 6]
sections:
  f:
    - Parallel:
        merge: %s
        branches:
          a: [{Conv2d: {out_channels: 4, kernel_size: 1}}]
          b: [{Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}, ReLU]
"""


@pytest.mark.parametrize("merge", ["concat", "sum"])
def test_parallel_block_concatenates_or_sums(merge: str) -> None:
    model, resolved = compiled(PARALLEL % merge)
    block = model.f[0]
    x = torch.randn(2, 3, 6, 6)
    a, b = block.a(x), block.b(x)
    expected = torch.cat([a, b], 1) if merge == "concat" else a + b
    assert torch.equal(model(x), expected)
    assert resolved.output_shape == ((8 if merge == "concat" else 4), 6, 6)
    assert [name for name, _ in block.named_children()] == ["a", "b"]


def test_blocks_nest_and_take_arithmetic_on_parameters() -> None:
    model, resolved = compiled(
        """
        name: Net
        input_shape: [8, 6, 6]
        blocks:
          Inner:
            params: {width: required}
            layers:
              - Conv2d: {out_channels: "${width * 2}", kernel_size: 1}
              - ReLU
          Outer:
            params: {width: required, scale: 2}
            Residual:
              body:
                reduce: {Conv2d: {out_channels: "${width / scale}", kernel_size: 1}}
                inner: {Inner: {width: "${(width - width % 3 + 2) // scale}"}}
              shortcut: identity
        sections:
          f:
            - Outer: {width: 8}
        """
    )
    outer = model.f[0]
    assert type(outer).__name__ == "ResidualBlock" and outer._get_name() == "Outer"
    assert outer.reduce.out_channels == 4  # 8 / 2, exact, so an integer
    # (8 - 8 % 3 + 2) // 2 = 4, doubled: 8 channels, which the identity shortcut adds to x
    assert outer.inner._get_name() == "Inner" and outer.inner[0].out_channels == 8
    assert [r.path for r in resolved.layers] == ["f.0.reduce", "f.0.inner.0", "f.0.inner.1"]
    x = torch.randn(1, 8, 6, 6)
    assert torch.equal(model(x), outer.inner(outer.reduce(x)) + x)


def test_repeat_makes_copies_and_first_changes_only_the_first() -> None:
    model, resolved = compiled(
        """
        name: Net
        input_shape: [3, 16, 16]
        sections:
          f:
            - Conv2d: {out_channels: 5, kernel_size: 3, padding: 1}
              repeat: 3
              first: {stride: 2}
            - ReLU
        """
    )
    convs = [m for m in model.f if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
    assert [c.in_channels for c in convs] == [3, 5, 5]
    assert [r.path for r in resolved.layers] == ["f.0", "f.1", "f.2", "f.3"]
    assert resolved.output_shape == (5, 8, 8)


def test_block_defaults_and_substitution_in_every_field() -> None:
    model, _ = compiled(
        """
        name: Net
        input_shape: [3, 9, 9]
        blocks:
          Down:
            params: {channels: required, kernel: 3, pad: true}
            layers:
              conv: {Conv2d: {out_channels: $channels, kernel_size: [$kernel, 1], bias: $pad}}
        sections:
          f:
            - Down: {channels: 6}
            - Down: {channels: 2, kernel: 5, pad: false}
        """
    )
    first, second = model.f
    assert first.conv.kernel_size == (3, 1) and first.conv.bias is not None
    assert second.conv.kernel_size == (5, 1) and second.conv.bias is None
    assert repr(first).startswith("Down(\n  (conv): Conv2d(3, 6, kernel_size=(3, 1)")


def test_sections_as_mappings_name_their_layers() -> None:
    model, _ = compiled(
        """
        name: Net
        input_shape: [3, 8, 8]
        sections:
          stem: {conv1: {Conv2d: {out_channels: 4, kernel_size: 3}}, relu: ReLU}
          fc: {out: {Linear: {out_features: num_classes}}}
        """
    )
    assert [name for name, _ in model.named_modules()][1:] == [
        "stem",
        "stem.conv1",
        "stem.relu",
        "fc",
        "fc.out",
    ]
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 3)


def test_to_data_keeps_blocks_and_round_trips() -> None:
    spec = spec_from_text(textwrap.dedent(BASIC_BLOCK % (8, 2)))
    data = spec.to_data()
    assert "blocks" in data and data["sections"]["stage"][0]["repeat"] == 2
    from archspec.spec import spec_from_data

    assert spec_from_data(data) == spec


def test_layers_describes_the_block_kinds(cli) -> None:
    result = cli("layers", "Residual", "Parallel")
    assert result.code == 0, result.err
    assert "shortcut: default auto" in result.out and "merge: default concat" in result.out
    assert "Sequential  [a block of layers]" in cli("layers").out
