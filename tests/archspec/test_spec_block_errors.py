"""Mistakes with blocks, repeats and parameters, and hostile files: each ends with exit code 2,
a message located at the line where it was written, no traceback, and quickly."""

from __future__ import annotations

import time

import pytest

EXIT_USER_ERROR = 2

BLOCK = """\
name: Net
input_shape: [3, 16, 16]
blocks:
  Unit:
    params: {channels: required, stride: 1}
    layers:
      conv: {Conv2d: {out_channels: $channels, kernel_size: 3, stride: $stride, padding: 1}}
      relu: ReLU
sections:
  features:
%s
  classifier:
    - Linear: {out_features: 10}
"""


def case(id: str, sections: str, *fragments: str, text: str | None = None, build: bool = False):
    spec = text if text is not None else BLOCK % sections
    return pytest.param(spec, build, fragments, id=id)


CASES = [
    case(
        "branches-cannot-be-concatenated",
        """\
    - Parallel:
        branches:
          wide: [{Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}]
          small: [{Conv2d: {out_channels: 4, kernel_size: 3, stride: 2}}]""",
        "line 11, features[0]: the branches cannot be merged by concat: wide 4x16x16, small 4x7x7",
        "fix: change the branches' strides",
    ),
    case(
        "branches-cannot-be-summed",
        """\
    - Parallel:
        merge: sum
        branches:
          - [{Conv2d: {out_channels: 4, kernel_size: 1}}]
          - [{Conv2d: {out_channels: 6, kernel_size: 1}}]""",
        "the branches cannot be merged by sum: 0 4x16x16, 1 6x16x16",
    ),
    case(
        "shortcut-cannot-be-inferred",
        """\
    - Residual:
        body: [{Conv2d: {out_channels: 4, kernel_size: 5}}]""",
        "line 11, features[0]: the shortcut cannot be inferred: the body maps 3x16x16 to 4x12x12",
        "fix: write the shortcut's layers out",
    ),
    case(
        "identity-shortcut-with-another-shape",
        """\
    - Residual:
        body: [{Conv2d: {out_channels: 4, kernel_size: 1}}]
        shortcut: identity""",
        "line 13, features[0]: an identity shortcut cannot add the input 3x16x16 to the body's "
        "output 4x16x16",
    ),
    case(
        "undefined-block",
        "    - Uint: {channels: 4}",
        "line 11, features[0]: unknown layer kind 'Uint'",
        "did you mean Unit?",
    ),
    case(
        "missing-parameter",
        "    - Unit: {stride: 2}",
        "line 11: block Unit needs parameter 'channels'",
        "fix: add it: Unit: {channels: ...}",
    ),
    case(
        "unknown-parameter",
        "    - Unit: {channels: 4, strides: 2}",
        "line 11: block Unit has no parameter 'strides'",
        "did you mean stride?",
    ),
    case(
        "ill-typed-parameter",
        "    - Unit: {channels: four}",
        # reported where the value was given, with the field it fills
        "line 11, features[0].conv Conv2d.out_channels: out_channels must be a positive "
        "integer, or num_classes",
        "got four (in features[0] Unit used on line 11)",
    ),
    case(
        "unknown-parameter-in-an-expression",
        "    - Unit: {channels: 4}",
        "line 7, features[0].conv Conv2d.stride: stride: unknown parameter 'strid'",
        text=(BLOCK % "    - Unit: {channels: 4}").replace("stride: $stride", 'stride: "${strid}"'),
    ),
    case(
        "expression-outside-the-grammar",
        "    - Unit: {channels: 4}",
        "line 7, features[0].conv Conv2d.out_channels: out_channels: cannot read ''os')",
        "only numbers, parameter names, + - * / // % and parentheses",
        text=(BLOCK % "    - Unit: {channels: 4}").replace(
            "$channels", "\"${__import__('os').getcwd()}\""
        ),
    ),
    case(
        "block-uses-itself",
        "    - Unit: {channels: 4}",
        "block Unit uses itself (Unit -> Unit)",
        text=(BLOCK % "    - Unit: {channels: 4}").replace(
            "      relu: ReLU", "      relu: ReLU\n      again: {Unit: {channels: 4}}"
        ),
    ),
    case(
        "blocks-use-each-other",
        "",
        "line 9: block Ping uses itself (Ping -> Pong -> Ping)",
        text="""\
name: Net
input_shape: [3, 16, 16]
blocks:
  Ping:
    params: {}
    layers: [Pong]
  Pong:
    params: {}
    layers: [Ping]
sections:
  features: [Ping]
""",
    ),
    case(
        "first-with-an-unknown-parameter",
        "    - Unit: {channels: 4}\n      repeat: 2\n      first: {channel: 8}",
        "line 13: block Unit has no parameter 'channel'",  # the line of `first:`
        "did you mean channels?",
    ),
    case(
        "first-without-repeat",
        "    - Unit: {channels: 4}\n      first: {stride: 2}",
        "line 12: first changes the first of the copies that repeat makes, and this item has no "
        "repeat",
        "fix: add repeat: N beside it, or write these fields into the layer itself",
        build=True,
    ),
    case(
        "first-on-a-layer-without-repeat",
        "    - Conv2d: {out_channels: 4, kernel_size: 3}\n      first: {stride: 2}",
        "line 12: first changes the first of the copies",
        build=True,
    ),
    case(
        "first-empty",
        "    - Unit: {channels: 4}\n      repeat: 2\n      first: {}",
        "line 13: first is empty: it changes nothing",
        "fix: remove it",
    ),
    case(
        "first-on-a-sequential",
        "    - Sequential: [ReLU]\n      repeat: 2\n      first: {inplace: true}",
        "line 13: first changes fields or block parameters, and a Sequential has neither",
        "fix: define the group as a block with params",
    ),
    case(
        "class-inside-a-block",
        "",
        "line 7: block Unit prints under its own name, so this class: would be ignored",
        "fix: remove class: here, or name the block Other",
        text=BLOCK.replace(
            "    layers:\n      conv:",
            "    Residual:\n      class: Other\n      body:\n        conv:",
        ).replace("      relu: ReLU", "        relu: ReLU")
        % "    - Unit: {channels: 3}",
    ),
    case(
        "block-parameter-never-used",
        "",
        "line 5: block Unit declares the parameter 'groups' and never uses it",
        "fix: use it in a field as $groups, or remove it from params",
        text=BLOCK.replace("stride: 1}", "stride: 1, groups: 1}") % "    - Unit: {channels: 4}",
    ),
    case(
        "repeat-zero",
        "    - Unit: {channels: 4}\n      repeat: 0",
        "line 12: repeat must be a positive integer, got 0",
    ),
    case(
        "repeat-not-an-integer",
        "    - Unit: {channels: 4}\n      repeat: 2.5",
        "line 12: repeat must be a positive integer, got 2.5",
    ),
    case(
        "repeat-far-too-many",
        "    - ReLU:\n      repeat: 1000000000",
        "line 12: repeat 1,000,000,000 is beyond 100,000 layers",
    ),
    case(
        "yaml-nested-thousands-deep",
        "",
        "line 3: the YAML is nested more than 100 levels deep",
        text="name: Net\nsections:\n  f: " + "[" * 5000 + "]" * 5000 + "\n",
    ),
    case(
        "nul-byte",
        "",
        "line 4: a NUL byte at column 11: a YAML file is plain text",
        text="name: Net\nsections:\n  f:\n    - ReLU\x00\n",
    ),
    case(
        "flatten-overflows-64-bits",
        "",
        "line 4, section fc: flattening gives 9,000,000,000,000,000,000,000,000,000,000 features",
        text="name: Net\ninput_shape: [9, 1000000000000000, 1000000000000000]\n"
        "sections:\n  fc: [{Linear: {out_features: 2}}]\n",
    ),
    case(
        "a-name-used-for-two-modules",
        """\
    - Residual:
        body: {conv: {Conv2d: {out_channels: 3, kernel_size: 1}}}
        after: {conv: {Conv2d: {out_channels: 3, kernel_size: 1}}}""",
        "line 13: 'conv' names two different modules of one Residual",
    ),
]


@pytest.mark.parametrize(("text", "build", "fragments"), CASES)
def test_block_mistake_is_reported(text: str, build: bool, fragments, cli, write_spec) -> None:
    path = write_spec(text)
    start = time.perf_counter()
    result = cli("build" if build else "validate", path, "--num-classes", "3")
    assert time.perf_counter() - start < 3
    assert result.code == EXIT_USER_ERROR, result.text
    assert "Traceback" not in result.text
    assert str(path) in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ('    - Unit: {channels: "${4 +}"}', "channels: the expression ends too early"),
        ('    - Unit: {channels: "${4 ** 2}"}', "channels: unexpected '*'"),
        ('    - Unit: {channels: "$4"}', "is neither $name nor ${expression}"),
        ('    - Unit: {channels: "${(4}"}', "a '(' is not closed"),
        ('    - Unit: {channels: "${4 / (1 - 1)}"}', "division by zero"),
        ('    - Unit: {channels: "${4 @ 2}"}', "cannot read '@ 2'"),
        ('    - Conv2d: {out_channels: "$width", kernel_size: 3}', "unknown parameter 'width'"),
        ('    - ReLU:\n      repeat: "${2 * n}"', "repeat: unknown parameter 'n'"),
        ('    - Residual: {body: [ReLU], shortcut: "$kind"}', "shortcut: unknown parameter"),
        ('    - Parallel: {branches: [[ReLU], [ReLU]], merge: "${m}"}', "merge: unknown parameter"),
    ],
)
def test_every_expression_error_ends_with_a_fix(item: str, message: str, cli, write_spec) -> None:
    result = cli("validate", write_spec(BLOCK % item))
    assert result.code == EXIT_USER_ERROR, result.text
    lines = result.text.splitlines()
    found = [i for i, line in enumerate(lines) if message in line]
    assert found, f"{message!r} not in:\n{result.text}"
    assert lines[found[0] + 1].startswith("    fix: "), result.text
