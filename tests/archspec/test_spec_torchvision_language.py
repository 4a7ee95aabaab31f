"""The constructs the torchvision zoo is written with, each checked on a small spec against what
torchvision's own modules (or a hand-written forward) compute: gates, channel splits, residuals
that exist only where the shape is kept, stochastic depth on the sum, widths from the incoming
shape, the network-wide block position, torchvision's rounding; and their misuse, which ends in
a located message and exit code 2."""

from __future__ import annotations

import random
import textwrap

import pytest
import torch
import torchvision
import yaml
from torchvision.models._utils import _make_divisible
from torchvision.models.shufflenetv2 import channel_shuffle

import archspec
from archspec.params import ParamError, evaluate

EXIT_USER_ERROR = 2


def spec(text: str) -> dict:
    return yaml.safe_load(textwrap.dedent(text))


def built(text: str, num_classes: int = 4) -> torch.nn.Module:
    return archspec.build(spec(text), num_classes=num_classes).eval()


def section(model: torch.nn.Module, name: str) -> torch.nn.Module:
    return getattr(model, name)


SQUEEZE_EXCITATION = """
name: Gate
input_shape: [8, 6, 6]
blocks:
  SqueezeExcitation:
    params: {squeeze: required, channels: required}
    Parallel:
      merge: multiply
      branches:
        - identity
        - avgpool: {AdaptiveAvgPool2d: {output_size: 1}}
          fc1: {Conv2d: {out_channels: $squeeze, kernel_size: 1}}
          activation: ReLU
          fc2: {Conv2d: {out_channels: $channels, kernel_size: 1}}
          scale_activation: Sigmoid
sections:
  se: {SqueezeExcitation: {squeeze: 2, channels: $in_channels}}   # the gate's input's
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_a_multiply_merge_is_torchvisions_squeeze_excitation() -> None:
    model = built(SQUEEZE_EXCITATION)
    reference = torchvision.ops.SqueezeExcitation(8, 2).eval()
    gate = model.se
    assert str(gate).startswith("SqueezeExcitation(")
    assert list(gate.state_dict()) == list(reference.state_dict())
    gate.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        assert torch.allclose(gate(x), reference(x), atol=1e-6)


def test_a_multiply_merge_counts_its_products_in_the_mult_adds() -> None:
    resolved = archspec.validate_spec(spec(SQUEEZE_EXCITATION), num_classes=4)
    from archspec.shapes import MergeRow

    merges = [r for r in resolved.rows if isinstance(r, MergeRow)]
    assert [m.mult_adds for m in merges] == [8 * 6 * 6]  # one product per output element


SHUFFLE_UNIT = """
name: Shuffle
input_shape: [8, 5, 5]
sections:
  unit:
    - Parallel:
        split: true
        branches:
          - identity
          - conv: {Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}
            relu: ReLU
    - ChannelShuffle: {groups: 2}
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_a_split_feeds_each_branch_its_share_and_channel_shuffle_interleaves() -> None:
    model = built(SHUFFLE_UNIT)
    split, _ = model.unit
    conv = split.conv  # flat branches: their layers are the Parallel's own children
    assert conv.in_channels == 4  # half of the 8 channels
    x = torch.randn(2, 8, 5, 5)
    x1, x2 = x.chunk(2, dim=1)
    expected = channel_shuffle(torch.cat((x1, torch.relu(conv(x2))), dim=1), 2)
    with torch.no_grad():
        assert torch.equal(model.unit(x), expected)


def residual(stride: int, out: int) -> str:
    return f"""
    name: Res
    input_shape: [4, 6, 6]
    sections:
      features:
        - Residual:
            body:
              - Conv2d: {{out_channels: {out}, kernel_size: 1, stride: {stride}}}
            drop_path:
              - StochasticDepth: {{p: 1.0, mode: row}}
            shortcut: identity_or_none
      classifier:
        - Flatten
        - Linear: {{out_features: num_classes}}
    """


def test_identity_or_none_sums_only_where_the_shape_is_kept() -> None:
    x = torch.randn(2, 4, 6, 6)
    kept = built(residual(1, 4)).features
    conv = kept[0].get_submodule("0")
    with torch.no_grad():
        assert torch.allclose(kept(x), x + conv(x), atol=1e-6)
    strided = built(residual(2, 4)).features
    conv = strided[0].get_submodule("0")
    with torch.no_grad():
        assert torch.equal(strided(x), conv(x))  # no sum, no shortcut


def test_drop_path_is_numbered_after_the_body_as_torchvisions_stochastic_depth_is() -> None:
    unit = built(residual(1, 4)).features[0]
    assert [type(m).__name__ for _, m in unit.named_children()] == ["Conv2d", "StochasticDepth"]
    assert [name for name, _ in unit.named_children()] == ["0", "1"]


def test_drop_path_drops_the_body_of_a_sum_and_nothing_else() -> None:
    x = torch.randn(2, 4, 6, 6)
    kept = built(residual(1, 4)).features.train()
    with torch.no_grad():
        assert torch.equal(kept(x), x)  # p = 1: only the identity survives
    widened = built(residual(1, 8)).features.train()
    conv = widened[0].get_submodule("0")
    with torch.no_grad():
        assert torch.equal(widened(x), conv(x))  # no sum, so no stochastic depth either


ANCHORED = """
name: Anchored
input_shape: [3, 8, 8]
blocks:
  Unit:
    params: {out: required}
    layers:
      - Conv2d: {out_channels: 16, kernel_size: 1}
      - Conv2d: {out_channels: $in_channels, kernel_size: 3, padding: 1, groups: $in_channels}
      - Conv2d: {out_channels: $out, kernel_size: 1}
sections:
  features:
    - Unit: {out: "${in_channels * 2}"}
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_in_channels_is_the_layers_input_or_at_a_use_the_blocks() -> None:
    convs = [m for m in built(ANCHORED).features.modules() if isinstance(m, torch.nn.Conv2d)]
    # the depthwise conv sees the 16 channels entering it; `out` the 3 entering the block
    assert [(c.in_channels, c.out_channels, c.groups) for c in convs] == [
        (3, 16, 1),
        (16, 16, 16),
        (16, 6, 1),
    ]


AT_THE_USE = """
name: AtTheUse
input_shape: [3, 12, 12]
blocks:
  Pool:
    params: {h: required}
    layers:
      - AvgPool2d: {kernel_size: "${h // 3}"}     # the height where the block was used, / 3
  Unit:
    params: {h: required}
    layers:
      - Conv2d: {out_channels: 4, kernel_size: 3, padding: 1, stride: 2}
      - Pool: {h: "${h // 2}"}                    # passed on: still the height at Unit's use
sections:
  features:
    - Unit: {h: $in_height}
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_a_shape_given_at_a_use_takes_part_in_arithmetic_inside_the_block() -> None:
    model = built(AT_THE_USE)
    (pool,) = [m for m in model.modules() if isinstance(m, torch.nn.AvgPool2d)]
    assert pool.kernel_size == 12 // 2 // 3  # from the 12 entering Unit, not the conv's 6


def test_a_division_that_only_stand_in_values_make_zero_is_not_refused() -> None:
    model = built(AT_THE_USE.replace('"${h // 3}"', '"${6 // floor(h / 4)}"'))
    (pool,) = [m for m in model.modules() if isinstance(m, torch.nn.AvgPool2d)]
    assert pool.kernel_size == 6  # h is 6 here; a trial with h = 1 would divide by zero


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (
            ('"${h // 3}"', '"${h // in_height}"'),
            ("line 7", "mixed with this layer's own in_height"),
        ),
        (('"${h // 3}"', '"${h // 3 + block_index}"'), ("this layer's own block_index",)),
        (
            ('{kernel_size: "${h // 3}"}', '{kernel_size: ["${h // 3}", 1]}'),
            ("kernel_size: ${h // 3} depends on the input's shape, which only a field's whole",),
        ),
        (
            ('- AvgPool2d: {kernel_size: "${h // 3}"}', '- ReLU: {}\n        repeat: "${h // 3}"'),
            ("repeat: ${h // 3} depends on the input's shape, and the number of copies",),
        ),
        (
            ("h: $in_height}", "h: $in_tokens}"),
            ("in_tokens is not known here: the input 3x12x12 where the block is used has no",),
        ),
    ],
    ids=["shape-here", "position-here", "inside-a-list", "repeat", "missing-at-the-use"],
)
def test_a_shape_given_at_a_use_is_refused_where_it_cannot_apply(
    change, fragments, cli, write_spec
) -> None:
    text = AT_THE_USE.replace(*change)
    assert text != AT_THE_USE
    result = cli("validate", write_spec(text))
    assert result.code == EXIT_USER_ERROR and "Traceback" not in result.text
    assert "Deferred(" not in result.text  # no internal value in the message
    for fragment in fragments:
        assert fragment in result.text, result.text


def test_regnets_widths_and_depths_are_torchvisions_for_any_settings() -> None:
    from torchvision.models.regnet import BlockParams

    from archspec.regnet_widths import regnet_depth, regnet_width

    generator = random.Random(0)
    for _ in range(300):
        depth, w_0 = generator.randint(4, 40), 8 * generator.randint(1, 60)
        w_a, w_m = round(generator.uniform(0, 200), 2), round(generator.uniform(1.05, 3.5), 2)
        group = generator.choice([8, 16, 24, 48, 128])
        expected = BlockParams.from_init_params(depth, w_0, w_a, w_m, group)
        stages = len(expected.widths)
        settings = (stages, depth, w_0, w_a, w_m)
        widths = [regnet_width(s, *settings, group) for s in range(1, stages + 1)]
        assert widths == expected.widths, (depth, w_0, w_a, w_m, group)
        assert [regnet_depth(s, *settings) for s in range(1, stages + 1)] == expected.depths
        assert [min(group, w) for w in widths] == expected.group_widths


STAGES = """
name: Stages
input_shape: [3, 8, 8]
blocks:
  Stage:
    params: {stage: required, depth: required}
    layers:
      - Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
        names: conv{stage}-0
      - ReLU: {}
        repeat: ${depth - 1}                      # none for a stage of depth 1
        names: relu{stage}-{n}
sections:
  features:
    s1: {Stage: {stage: 1, depth: 1}}
    s2: {Stage: {stage: 2, depth: 3}}
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_names_write_in_a_blocks_parameter_and_a_computed_repeat_may_be_none() -> None:
    model = built(STAGES)
    assert [name for name, _ in model.features.s1.named_children()] == ["conv1-0"]
    assert [name for name, _ in model.features.s2.named_children()] == [
        "conv2-0",
        "relu2-1",
        "relu2-2",
    ]


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("depth=40", ("give 5 stages, and the spec writes 4", "fix: choose numbers that give 4")),
        ("w_m=0.5", ("w_m = 0.5 make no RegNet: it needs w_a >= 0, w_m > 1", "RegNetX-400MF")),
        ("w_0=20", ("w_0 = 20", "w_0 a positive multiple of 8")),
    ],
)
def test_settings_that_make_no_regnet_are_located_and_exit_2(setting, fragments, cli) -> None:
    result = cli("validate", "regnet_x_400mf", "--set", f"trunk_output.Trunk.{setting}")
    assert result.code == EXIT_USER_ERROR and "Traceback" not in result.text
    assert "regnet_width:" in result.text and "(in trunk_output Trunk used on line" in result.text
    for fragment in fragments:
        assert fragment in result.text, result.text


@pytest.mark.parametrize("divisor", [8, 4])
def test_make_divisible_is_torchvisions(divisor: int) -> None:
    for channels in (16, 24, 32, 40, 80, 112, 192, 320, 1280):
        for width in (0.25, 0.5, 0.75, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6, 1.8, 2.0):
            expected = _make_divisible(channels * width, divisor)
            text = f"make_divisible({channels} * {width}, {divisor})"
            assert evaluate(text, {}) == expected, text


def test_round_is_pythons_and_ceil_and_floor_are_maths() -> None:
    # Python's round goes to the even neighbour, as the papers' reference code does
    assert [evaluate(f"round({v})", {}) for v in (0.5, 1.5, 2.5, 2.6)] == [0, 2, 2, 3]
    assert evaluate("ceil(3 * 1.1)", {}) == 4  # EfficientNet-B1's depth of a 3-block stage
    assert evaluate("floor(2.9) + int(1.9)", {}) == 3
    assert evaluate("max(1, 7 // 4 // 4) + min(3, 2)", {}) == 3


def test_an_unknown_function_is_named_with_the_ones_there_are() -> None:
    with pytest.raises(ParamError, match="unknown function 'sqrt'") as error:
        evaluate("sqrt(4)", {})
    assert "make_divisible" in error.value.hint


POSITIONS = """
name: Positions
input_shape: [4, 4, 4]
blocks:
  A:
    %(counter)s
    layers:
      - StochasticDepth: {p: "${block_index / block_count}", mode: row}
  B:
    %(counter)s
    layers:
      - StochasticDepth: {p: "${block_index / block_count}", mode: batch}
  Stage:
    layers:
      - A: {}
        repeat: 2
sections:
  features:
    - Stage: {}
      repeat: 2
    - B: {}
      repeat: 2
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def depths(model: torch.nn.Module) -> list[tuple[float, str]]:
    found = model.modules()
    return [(m.p, m.mode) for m in found if isinstance(m, torchvision.ops.StochasticDepth)]


def test_block_index_counts_the_uses_of_a_block_through_repeats_and_nesting() -> None:
    model = built(POSITIONS % {"counter": ""})
    assert depths(model) == [
        (0.0, "row"),
        (0.25, "row"),
        (0.5, "row"),
        (0.75, "row"),
        (0.0, "batch"),
        (0.5, "batch"),
    ]


def test_blocks_with_one_counter_are_numbered_together() -> None:
    model = built(POSITIONS % {"counter": "counter: stage_blocks"})
    assert [p for p, _ in depths(model)] == [i / 6 for i in range(6)]


NAMED_COPIES = """
name: Copies
input_shape: [4, 4, 4]
blocks:
  Layer:
    class: _DenseLayer
    layers:
      conv: {Conv2d: {out_channels: 4, kernel_size: 1}}
sections:
  block:
    - Layer: {}
      repeat: 3
      names: %s
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("denselayer{n}", ["denselayer1", "denselayer2", "denselayer3"]),
        ("block1-{i}", ["block1-0", "block1-1", "block1-2"]),
    ],
)
def test_names_name_a_repeats_copies(pattern: str, names: list[str]) -> None:
    model = built(NAMED_COPIES % pattern)
    assert [name for name, _ in model.block.named_children()] == names
    assert f"({names[0]}): _DenseLayer(" in str(model)
    assert f"block.{names[2]}.conv.weight" in model.state_dict()


POST_NORM = """
name: PostNorm
input_shape: [4, 3, 3]
blocks:
  PostNormBlock:
    holds: [norm, conv]
    Residual:
      body:
        conv: {Conv2d: {out_channels: 4, kernel_size: 1}}
        norm: BatchNorm2d
      shortcut: identity
sections:
  block: PostNormBlock
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_holds_orders_how_a_module_holds_its_children_and_the_written_order_how_they_run():
    model = built(POST_NORM)
    block = model.block
    assert [name for name, _ in block.named_children()] == ["norm", "conv"]
    assert list(model.state_dict())[:2] == ["block.norm.weight", "block.norm.bias"]
    x = torch.randn(2, 4, 3, 3)
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.norm(block.conv(x)), atol=1e-6)
    resolved = archspec.validate_spec(spec(POST_NORM), num_classes=4)
    assert [r.layer.kind() for r in resolved.layers[:2]] == ["Conv2d", "BatchNorm2d"]


def test_expand_keeps_the_order_they_run_and_holds() -> None:
    from archspec.expanded_spec import expanded_data
    from archspec.spec import spec_from_data

    data = expanded_data(archspec.load_spec(spec(POST_NORM)), 4)
    residual = data["sections"]["block"]["Residual"]
    assert list(residual["body"]) == ["conv", "norm"]
    assert residual["holds"] == ["norm", "conv"]
    again = archspec.build(spec_from_data(data), num_classes=4)
    assert list(again.state_dict()) == list(built(POST_NORM).state_dict())


MISTAKES = """\
name: Net
input_shape: [6, 8, 8]
blocks:
  Unit:
%(block)s
    layers:
      - Conv2d: {out_channels: 6, kernel_size: 1}
      - StochasticDepth: {p: "${block_index / block_count}", mode: row}
sections:
  features:
%(items)s
  classifier:
    - Flatten
    - Linear: {out_features: 10}
"""


def mistake(id: str, items: str, *fragments: str, block: str = "    params: {}"):
    return pytest.param(MISTAKES % {"block": block, "items": items}, fragments, id=id)


MISTAKE_CASES = [
    mistake(
        "split-does-not-divide",
        "    - Parallel: {split: true, branches: [[ReLU], [ReLU], [ReLU], [ReLU]]}",
        "line 11, features[0]: split: the input 6x8x8 cannot be split into 4 equal shares",
        "fix: make the channels a multiple of 4",
    ),
    mistake(
        "shuffle-groups-do-not-divide",
        "    - ChannelShuffle: {groups: 4}",
        "line 11, features[0] ChannelShuffle-1.groups: 6x8x8 has 6 channels, which 4 groups do "
        "not divide",
    ),
    mistake(
        "multiply-does-not-broadcast",
        """\
    - Parallel:
        merge: multiply
        branches:
          - identity
          - pool: {AdaptiveAvgPool2d: {output_size: 2}}""",
        "line 11, features[0]: the branches cannot be merged by multiply: identity 6x8x8, "
        "branch 1 (pool) 6x2x2",
        "a Cx1x1 gate on a CxHxW map",
    ),
    mistake(
        "unnamed-branch-among-named-ones",
        """\
    - Parallel:
        branches:
          - a: ReLU
          - [ReLU]""",
        "line 14: in a list of branches written as mappings of named layers, every branch is "
        "such a mapping (or identity)",
    ),
    mistake(
        "block-index-outside-a-block",
        '    - StochasticDepth: {p: "${block_index / 4}", mode: row}',
        "line 11, features[0] StochasticDepth-1.p: p: block_index is not known here: the layer "
        "is in no block",
    ),
    mistake(
        "computed-width-is-zero",
        '    - Conv2d: {out_channels: "${in_channels // 32}", kernel_size: 1}',
        "line 11, features[0] Conv2d-1.out_channels",
        "(out_channels = 0 from ${in_channels // 32})",
    ),
    mistake(
        "computed-width-is-a-fraction",
        '    - Conv2d: {out_channels: "${in_channels / 4}", kernel_size: 1}',
        "got 1.5 (out_channels = 1.5 from ${in_channels / 4})",
    ),
    mistake(
        "unknown-function",
        '    - Conv2d: {out_channels: "${sqrt(in_channels)}", kernel_size: 1}',
        "line 11, features[0] Conv2d.out_channels: out_channels: unknown function 'sqrt'",
        "fix: the functions are make_divisible, ceil",
    ),
    mistake(
        "make-divisible-arguments",
        '    - Conv2d: {out_channels: "${make_divisible(in_channels)}", kernel_size: 1}',
        "make_divisible takes 2 to 3 arguments, got 1",
    ),
    mistake(
        "names-without-a-number",
        "    - Unit: {}\n      repeat: 2\n      names: unit",
        "line 13: names: unit gives the 2 copies one name",
        "fix: put {i} (from 0) or {n} (from 1) in it",
    ),
    mistake(
        "names-with-an-unknown-field",
        "    - Unit: {}\n      repeat: 2\n      names: unit{k}",
        "line 13: names must be a name with {i} or {n} in it, got unit{k}",
    ),
    mistake(
        "unknown-shortcut",
        "    - Residual: {body: [ReLU], shortcut: identity_or_nothing}",
        "line 11: shortcut must be auto, identity, identity_or_none, or layers",
    ),
    mistake(
        "holds-that-are-not-the-children",
        "    - Residual:\n        body: {conv: {Conv2d: {out_channels: 6, kernel_size: 1}}}\n"
        "        holds: [conv, relu]",
        "line 13: holds must name the module's own children once each (conv; downsample "
        "optional), in the order "
        "the module holds them; got [conv, relu]",
    ),
    mistake(
        "class-not-camel-case",
        "    - Unit: {}",
        "line 5: the class of block Unit must be a CamelCase name, got 'unit'",
        block="    class: unit",
    ),
    mistake(
        "counter-not-a-name",
        "    - Unit: {}",
        "line 5: the counter of block Unit must be a name, got 3",
        block="    counter: 3",
    ),
]


@pytest.mark.parametrize(("text", "fragments"), MISTAKE_CASES)
def test_misuse_is_located_and_exits_2(text: str, fragments, cli, write_spec) -> None:
    path = write_spec(text)
    result = cli("validate", path)
    assert result.code == EXIT_USER_ERROR, result.text
    assert "Traceback" not in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"
    # one mistake, one message: a bad class or counter does not also orphan the block's uses
    assert "1 problem" in result.text, result.text
