"""Names a spec gives (sections, named layers, Residual parts, branches) against the attributes
of the modules they become: a clash is refused at its line with a fix, never a traceback, and a
name that only looks risky elsewhere builds."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from torch import nn

from archspec.compiler import Block, ParallelBlock, ResidualBlock, SpecModel, compile_spec
from archspec.layers import reserved
from archspec.shapes import resolve
from archspec.spec import spec_from_text

EXIT_USER_ERROR = 2

CONV = "{Conv2d: {out_channels: 3, kernel_size: 3, padding: 1}}"


def module_attributes(module: nn.Module) -> set[str]:
    return set(dir(module)) - set(dir(nn.Module))


def test_instance_attributes_are_those_of_every_module() -> None:
    assert module_attributes(nn.Module()) == reserved.INSTANCE_ATTRIBUTES


def test_sequential_and_block_attributes_are_listed() -> None:
    plain = module_attributes(nn.Sequential()) - reserved.INSTANCE_ATTRIBUTES
    assert plain == reserved.SEQUENTIAL_ATTRIBUTES
    block = module_attributes(Block("Unit", OrderedDict())) - module_attributes(nn.Sequential())
    assert block == reserved.BLOCK_ATTRIBUTES


def test_residual_and_parallel_attributes_are_listed() -> None:
    base = reserved.INSTANCE_ATTRIBUTES
    residual = ResidualBlock("Residual", OrderedDict(), None, OrderedDict())
    assert module_attributes(residual) - base == reserved.RESIDUAL_ATTRIBUTES
    parallel = ParallelBlock("Parallel", OrderedDict(), "sum")
    assert module_attributes(parallel) - base == reserved.PARALLEL_ATTRIBUTES


def test_model_attributes_are_listed() -> None:
    text = "name: Net\ninput_shape: [3, 4, 4]\nsections: {features: [ReLU]}\n"
    model = compile_spec(resolve(spec_from_text(text), 2), device="meta")
    assert isinstance(model, SpecModel)
    own = module_attributes(model) - reserved.INSTANCE_ATTRIBUTES - {"features"}
    assert own == reserved.MODEL_ATTRIBUTES


def test_the_shortcut_is_compiled_under_the_reserved_name() -> None:
    text = (
        "name: Net\ninput_shape: [3, 8, 8]\nsections:\n  features:\n"
        "    - Residual: {body: [{Conv2d: {out_channels: 6, kernel_size: 1}}]}\n"
    )
    block = compile_spec(resolve(spec_from_text(text), 2), device="meta").features[0]
    assert isinstance(getattr(block, reserved.SHORTCUT), nn.Sequential)


SPEC = """\
name: Net
input_shape: [3, 8, 8]
blocks:
  Unit:
    params: {width: 3}
    layers:
      conv: {Conv2d: {out_channels: $width, kernel_size: 1}}
%s
sections:
%s
"""


def case(id: str, sections: str, line: int, name: str, *fragments: str, blocks: str = ""):
    return pytest.param(SPEC % (blocks, sections), line, name, fragments, id=id)


CASES = [
    case(
        "section-named-training",
        "  training: [ReLU]",
        10,
        "training",
        "cannot name a section: every torch.nn.Module has an attribute 'training'",
    ),
    case("section-named-spec-name", "  spec_name: [ReLU]", 10, "spec_name", "keeps its own"),
    case(
        "section-layer-named-append",
        f"  features:\n    append: {CONV}",
        11,
        "append",
        "nn.Sequential, which holds these layers, has a method 'append'",
    ),
    case(
        "block-part-named-class-name",
        "  features: [Other]",
        10,
        "class_name",
        "the module a block compiles to keeps its own 'class_name' attribute",
        blocks="  Other:\n    layers:\n      class_name: ReLU",
    ),
    case(
        "residual-body-named-keep-input",
        f"  features:\n    - Residual:\n        body:\n          keep_input: {CONV}",
        13,
        "keep_input",
        "the module a Residual compiles to keeps its own 'keep_input' attribute",
    ),
    case(
        "residual-body-named-downsample",
        "  features:\n    - Residual:\n        body:\n"
        "          downsample: {Conv2d: {out_channels: 8, kernel_size: 1}}",
        13,
        "downsample",
        "it is the name a Residual gives its shortcut",
    ),
    case(
        "residual-after-named-downsample",
        f"  features:\n    - Residual:\n        body: [{CONV}]\n        after:\n"
        "          downsample: ReLU",
        14,
        "downsample",
        "the name a Residual gives its shortcut",
    ),
    case(
        "residual-body-named-training",
        f"  features:\n    - Residual:\n        body:\n          training: {CONV}",
        13,
        "training",
        "every torch.nn.Module has an attribute 'training'",
    ),
    case(
        "parallel-branch-named-merge",
        f"  features:\n    - Parallel:\n        branches:\n          merge: [{CONV}]\n"
        f"          other: [{CONV}]",
        13,
        "merge",
        "'merge' cannot name a branch: the module a Parallel compiles to keeps its own",
    ),
    case(
        "layer-in-a-branch-named-pop",
        f"  features:\n    - Parallel:\n        branches:\n          one: {{pop: {CONV}}}\n"
        f"          two: [{CONV}]",
        13,
        "pop",
        "has a method 'pop'",
    ),
]


@pytest.mark.parametrize(("text", "line", "name", "fragments"), CASES)
def test_a_name_clash_is_refused_where_it_is_written(
    text, line, name, fragments, cli, write_spec
) -> None:
    result = cli("build", write_spec(text), "--num-classes", "3")
    assert result.code == EXIT_USER_ERROR, result.text
    assert "Traceback" not in result.text
    assert f"line {line}, " in result.text
    assert f"'{name}' cannot name" in result.text
    assert f"fix: rename it, e.g. {name}_\n" in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"


@pytest.mark.parametrize(
    "sections",
    [
        # attributes of other modules than the one these names join
        f"  features:\n    - Residual:\n        body:\n          append: {CONV}\n"
        "          pop: ReLU",
        f"  features:\n    - Parallel:\n        branches:\n          append: [{CONV}]\n"
        f"          body: [{CONV}]",
        f"  features:\n    downsample: {CONV}\n    merge: ReLU",
        f"  body: [{CONV}]\n  after: {{keep_input: ReLU, merge: ReLU}}",
    ],
    ids=["residual-append", "branch-append", "sequential-downsample", "sections-body-after"],
)
def test_names_that_clash_only_elsewhere_build(sections: str, cli, write_spec) -> None:
    text = SPEC % ("", sections)
    result = cli("build", write_spec(text), "--num-classes", "3")
    assert result.code == 0, result.text
    model = compile_spec(resolve(spec_from_text(text), 3), device="meta")
    total = sum(p.numel() for p in model.parameters())
    assert f"Total params: {total:,}\n" in result.out


def test_a_suggested_name_is_free() -> None:
    assert reserved.free_name("training", reserved.SECTION) == "training_"
    assert reserved.name_clash("training_", reserved.SECTION) is None
    assert reserved.free_name("conv1", reserved.LAYER) == "conv1"
