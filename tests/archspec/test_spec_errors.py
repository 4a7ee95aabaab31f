"""User mistakes in spec files: exit code 2, no traceback, a message naming what, where and the fix.

Each case writes a spec to tmp_path and runs `archspec validate` or `archspec build` on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

EXIT_USER_ERROR = 2

GOOD_FEATURES = """\
    name: Net
    input_shape: [3, 32, 32]
    sections:
      features:
        - Conv2d: {out_channels: 8, kernel_size: 3}
        - ReLU
      classifier:
        - Linear: {out_features: 10}
"""


def case(id: str, text: str, *fragments: str, command: tuple[str, ...] = ("validate",)):
    return pytest.param(text, command, fragments, id=id)


CASES = [
    # --- YAML itself -------------------------------------------------------------------------
    case(
        "yaml-unclosed-flow-mapping",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3
            - ReLU
        """,
        "YAML syntax error",
        "flow mapping that starts on line 4",
        "fix: check indentation, colons and brackets",
    ),
    case(
        "yaml-bad-indentation",
        """
        name: Net
        sections:
          features:
            - ReLU
           - Tanh
        """,
        "line 5: YAML syntax error",
        "fix: check indentation",
    ),
    case(
        "yaml-tab-indentation",
        "name: Net\ninput_shape: [3, 4, 4]\n\tsections: {features: [ReLU]}\n",
        "line 3: YAML syntax error",
        "'\\t'",
    ),
    case(
        "yaml-duplicate-keys",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3, kernel_size: 5}
          features: [ReLU]
        """,
        "2 problems",
        "line 4: the key 'kernel_size' appears twice",
        "line 5: the key 'features' appears twice",
        "fix: remove or rename one of them",
    ),
    case(
        "yaml-keys-read-as-booleans",
        """
        name: Net
        sections:
          features:
            yes: ReLU
            on: Tanh
        """,
        "2 problems",  # YAML alone would keep one layer of the two, silently
        "line 4: the key 'yes' is read by YAML as true or false, not as a name",
        "fix: quote it ('yes') or choose another name",
        "line 5: the key 'on' is read by YAML as true or false",
    ),
    case(
        "yaml-empty-key",
        "name: Net\nsections:\n  features:\n    ? \n    : ReLU\n",
        "line 4: a key is missing: YAML reads the empty key as null",
    ),
    case("empty-file", "", "1 problem", "the file is empty", "fix: write a spec"),
    case("comment-only-file", "# nothing here yet\n", "the file is empty"),
    case(
        "not-a-mapping",
        "- Conv2d\n- ReLU\n",
        "line 1: a spec is a mapping with name, input_shape and sections",
    ),
    # --- the top level -----------------------------------------------------------------------
    case(
        "unknown-top-level-key",
        """
        name: Net
        input_shap: [3, 32, 32]
        sections: {features: [ReLU]}
        """,
        "line 2: unknown top-level key 'input_shap'",
        "fix: did you mean 'input_shape'?",
    ),
    case(
        "missing-name",
        "sections: {features: [ReLU]}\n",
        "missing 'name'",
        "fix: add name: AlexNet",
    ),
    case(
        "name-starts-with-a-digit",
        "name: 3Net\nsections: {features: [ReLU]}\n",
        "line 1: name must be a Python-style class name, got 3Net",
        "fix: use letters, digits and underscores",
    ),
    case(
        "name-with-a-space",
        "name: My Net\nsections: {features: [ReLU]}\n",
        "name must be a Python-style class name, got My Net",
    ),
    case(
        "input-shape-two-values",
        "name: Net\ninput_shape: [3, 32]\nsections: {features: [ReLU]}\n",
        "line 2: input_shape must be three positive integers [channels, height, width], "
        "got [3, 32]",
        "fix: e.g. input_shape: [3, 227, 227]",
    ),
    case(
        "input-shape-zero",
        "name: Net\ninput_shape: [3, 0, 32]\nsections: {features: [ReLU]}\n",
        "input_shape must be three positive integers",
        "got [3, 0, 32]",
    ),
    case(
        "input-shape-scalar",
        "name: Net\ninput_shape: 227\nsections: {features: [ReLU]}\n",
        "input_shape must be three positive integers",
        "got 227",
    ),
    case(
        "missing-sections",
        "name: Net\n",
        "missing 'sections'",
        "fix: add sections: {features: [...]}",
    ),
    case(
        "sections-is-a-list",
        "name: Net\nsections: [ReLU]\n",
        "line 2: sections must be a mapping of section names to lists of layers",
    ),
    case(
        "empty-sections",
        "name: Net\nsections: {}\n",
        "line 2: sections is empty",
        "fix: add at least one section",
    ),
    # --- sections ----------------------------------------------------------------------------
    case(
        "empty-section",
        """
        name: Net
        sections:
          features: []
        """,
        "line 3, section features: section features is empty",
        "fix: add layers to it or remove the section",
    ),
    case(
        "section-without-layers",
        """
        name: Net
        sections:
          features: [ReLU]
          classifier:
        """,
        "line 4: section classifier must be a list of layers",
        "fix: write each layer on its own line starting with '- '",
    ),
    case(
        "section-named-forward",
        """
        name: Net
        sections:
          forward: [ReLU]
        """,
        "line 3, section forward: 'forward' cannot name a section",
        "every torch.nn.Module has an attribute 'forward'",
        "fix: rename it, e.g. forward_",
    ),
    case(
        "section-named-to",
        """
        name: Net
        sections:
          features: [ReLU]
          to: [ReLU]
        """,
        "line 4, section to: 'to' cannot name a section",
    ),
    # --- a layer item ------------------------------------------------------------------------
    case(
        "layer-item-is-a-list",
        """
        name: Net
        sections:
          features:
            - [Conv2d, ReLU]
        """,
        "line 4, features[0]: a layer is written as `Kind: {field: value}` or as a bare `Kind`",
        "got [Conv2d, ReLU]",
        "fix: e.g. - Conv2d: {out_channels: 64, kernel_size: 3}",
    ),
    case(
        "layer-item-with-two-kinds",
        """
        name: Net
        sections:
          features:
            - ReLU
            - Conv2d: {out_channels: 8, kernel_size: 3}
              ReLU: {}
        """,
        "line 5, features[1]: a layer is written as",
        "got {Conv2d: {out_channels: 8, kernel_size: 3}, ReLU: {}}",
    ),
    case(
        "layer-fields-not-a-mapping",
        """
        name: Net
        sections:
          features:
            - Conv2d: 3
        """,
        "line 4, features[0] Conv2d: the fields of Conv2d must be a mapping, got 3",
        "fix: e.g. - Conv2d: {out_channels: 6, kernel_size: 3",
    ),
    case(
        "unknown-kind-lowercase",
        """
        name: Net
        sections:
          features:
            - conv2d: {out_channels: 8, kernel_size: 3}
        """,
        "line 4, features[0]: unknown layer kind 'conv2d'",
        "fix: did you mean Conv2d?",
    ),
    case(
        "unknown-kind-Conv2D",
        """
        name: Net
        sections:
          features:
            - ReLU
            - Conv2D: {out_channels: 8, kernel_size: 3}
        """,
        "line 5, features[1]: unknown layer kind 'Conv2D'",
        "fix: did you mean Conv2d?",
    ),
    case(
        "unknown-kind-MaxPool",
        """
        name: Net
        sections:
          features:
            - MaxPool: {kernel_size: 2}
        """,
        "unknown layer kind 'MaxPool'",
        "fix: did you mean MaxPool2d?",
    ),
    case(
        "unknown-kind-no-close-match",
        """
        name: Net
        sections:
          features:
            - TransformerDecoderLayer: {d_model: 8}
        """,
        "unknown layer kind 'TransformerDecoderLayer'",
        "fix: run `archspec layers` to list them",
    ),
    # --- fields ------------------------------------------------------------------------------
    case(
        "unknown-field-kernel",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel: 3}
        """,
        "line 4, features[0] Conv2d: unknown field 'kernel'",
        "fix: did you mean kernel_size?",
        "missing required field 'kernel_size'",
    ),
    case(
        "missing-required-fields",
        """
        name: Net
        sections:
          features:
            - Conv2d
        """,
        "features[0] Conv2d: missing required field 'out_channels'",
        "features[0] Conv2d: missing required field 'kernel_size'",
        "fix: e.g. Conv2d: {out_channels: 6, kernel_size: 3, stride: 2, padding: 1}",
    ),
    case(
        "kernel-as-string",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: "3"}
        """,
        "line 4, features[0] Conv2d.kernel_size: kernel_size must be a positive integer, "
        "or a pair [height, width], got '3'",
        "fix: fix kernel_size (e.g. Conv2d: {out_channels: 6, kernel_size: 3",
    ),
    case(
        "kernel-as-float",
        """
        name: Net
        sections:
          features:
            - MaxPool2d: {kernel_size: 2.0}
        """,
        "features[0] MaxPool2d.kernel_size: kernel_size must be a positive integer, "
        "or a pair [height, width], got 2.0",
    ),
    case(
        "bool-where-int",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3, groups: true}
        """,
        "features[0] Conv2d.groups: groups must be an integer, got true",
    ),
    case(
        "int-where-bool",
        """
        name: Net
        sections:
          features:
            - ReLU: {inplace: 1}
        """,
        "features[0] ReLU.inplace: inplace must be true or false, got 1",
    ),
    case(
        "three-values-for-a-pair",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: [3, 3, 3]}
        """,
        "Conv2d.kernel_size: kernel_size must be a positive integer, or a pair [height, width], "
        "got [3, 3, 3]",
    ),
    case(
        "zero-and-negative-sizes",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 0, kernel_size: -3, stride: 0}
        """,
        "3 problems",
        "line 4, features[0] Conv2d.out_channels: out_channels must be a positive integer, "
        "or num_classes",
        "got 0",
        "Conv2d.kernel_size: kernel_size must be a positive integer, or a pair [height, width], "
        "got -3",
        "Conv2d.stride: stride must be a positive integer, or a pair [height, width], got 0",
    ),
    case(
        "pool-stride-zero",
        """
        name: Net
        sections:
          features:
            - MaxPool2d: {kernel_size: 2, stride: 0}
        """,
        "MaxPool2d.stride: stride must be a positive integer, or a pair [height, width] "
        "(default: the kernel size), got 0",
    ),
    case(
        "dropout-p-above-one",
        """
        name: Net
        sections:
          features:
            - Dropout: {p: 1.5}
        """,
        "line 4, features[0] Dropout.p: p must be at most 1.0, got 1.5",
        "fix: fix p (e.g. Dropout: {p: 0.25})",
    ),
    case(
        "padding-not-same-or-valid",
        """
        name: Net
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3, padding: full}
        """,
        "Conv2d.padding: padding must be a non-negative integer, a pair [height, width], "
        "or same or valid, got full",
    ),
    case(
        "in-size-written-as-a-string",
        """
        name: Net
        sections:
          features:
            - Conv2d: {in_channels: three, out_channels: 8, kernel_size: 3}
        """,
        "Conv2d.in_channels: in_channels must be a positive integer, inferred from the input",
        "got three",
    ),
    # --- sizes: what inference finds ---------------------------------------------------------
    case(
        "in-sizes-written-wrong",
        """
        name: Net
        input_shape: [3, 32, 32]
        sections:
          features:
            - Conv2d: {in_channels: 4, out_channels: 8, kernel_size: 3}
            - BatchNorm2d: {num_features: 7}
          classifier:
            - Linear: {in_features: 100, out_features: 10}
        """,
        "3 problems",
        "line 5, features[0] Conv2d-1.in_channels: in_channels is written as 4 but the input "
        "has 3 (input 3x32x32)",
        "fix: remove in_channels: it is inferred",
        "line 6, features[1] BatchNorm2d-2.num_features: num_features is written as 7 but the "
        "input has 8 (input 8x30x30)",
        "line 8, classifier[0] Linear-3.in_features: in_features is written as 100 but the "
        "input has 7200",
        command=("build", "--task", "domain"),
    ),
    case(
        "kernel-larger-than-input",
        """
        name: Net
        input_shape: [3, 8, 8]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 11}
        """,
        "line 5, features[0] Conv2d-1.kernel_size: the 11-wide kernel is larger than its "
        "padded input (8 = 8 + 2x0); the spatial size collapses to 0",
        "fix: use a smaller kernel",
    ),
    case(
        "spatial-size-collapses",
        """
        name: Net
        input_shape: [3, 32, 32]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 5, stride: 4}
            - MaxPool2d: {kernel_size: 3, stride: 2}
            - Conv2d: {out_channels: 8, kernel_size: 3}
            - MaxPool2d: {kernel_size: 3, stride: 2}
          classifier:
            - Linear: {out_features: num_classes}
        """,
        "line 8, features[3] MaxPool2d-4.kernel_size: the 3-wide window is larger than its "
        "padded input (1); the spatial size collapses to 0 (input 8x1x1)",
        "sizes along the way: input 3x32x32 -> Conv2d-1 8x7x7 -> MaxPool2d-2 8x3x3 -> "
        "Conv2d-3 8x1x1",
        "fix: remove this pooling layer, shrink its kernel, or downsample less before it",
        command=("build", "--task", "category"),
    ),
    case(
        "pool-padding-over-half-the-kernel",
        """
        name: Net
        input_shape: [3, 16, 16]
        sections:
          features:
            - MaxPool2d: {kernel_size: 3, padding: 2, dilation: 2}
        """,
        "features[0] MaxPool2d-1.padding: padding 2 is more than half the kernel size (3)",
        "fix: PyTorch allows at most half the kernel size as padding",
    ),
    case(
        "reflect-padding-wider-than-input",
        """
        name: Net
        input_shape: [3, 2, 16]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3, padding: 2, padding_mode: reflect}
        """,
        "features[0] Conv2d-1.padding: padding_mode reflect needs padding smaller than the "
        "input size (input 3x2x16, padding 2 along an axis of 2)",
    ),
    case(
        "linear-after-a-spatial-layer",
        """
        name: Net
        input_shape: [3, 32, 32]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3}
            - Linear: {out_features: 10}
        """,
        "line 6, features[1] Linear-2: Linear needs a flat input but gets a spatial one",
        "(input 8x30x30); sizes along the way: input 3x32x32 -> Conv2d-1 8x30x30",
        "fix: put `- Flatten` before it, or start a new section at Linear",
    ),
    case(
        "batchnorm1d-on-a-spatial-input",
        """
        name: Net
        input_shape: [3, 32, 32]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3}
            - BatchNorm1d
        """,
        "line 6, features[1] BatchNorm1d-2: BatchNorm1d needs a flat input but gets a spatial",
    ),
    case(
        "conv-after-the-flatten",
        """
        name: Net
        input_shape: [3, 32, 32]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3}
          classifier:
            - Linear: {out_features: 10}
            - Conv2d: {out_channels: 8, kernel_size: 3}
        """,
        "line 8, classifier[1] Conv2d-3: Conv2d needs a (channels, height, width) input but "
        "gets a flat one (input 10)",
        "input 3x32x32 -> Conv2d-1 8x30x30 -> flatten 7200 -> Linear-2 10",
        "fix: move Conv2d before the flatten",
        command=("build", "--num-classes", "3"),
    ),
    case(
        "groups-do-not-divide-input-channels",
        """
        name: Net
        input_shape: [3, 16, 16]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3, groups: 2}
        """,
        "line 5, features[0] Conv2d-1.groups: groups=2 does not divide the input channels (3)",
        "fix: choose groups that divides both the input and output channels",
    ),
    case(
        "groups-do-not-divide-out-channels",
        """
        name: Net
        input_shape: [4, 16, 16]
        sections:
          features:
            - Conv2d: {out_channels: 6, kernel_size: 3, groups: 4}
        """,
        "Conv2d-1.groups: groups=4 does not divide the out_channels (6)",
    ),
    case(
        "padding-same-with-stride-2",
        """
        name: Net
        input_shape: [3, 16, 16]
        sections:
          features:
            - Conv2d: {out_channels: 8, kernel_size: 3, padding: same, stride: 2}
        """,
        "line 5, features[0] Conv2d-1.padding: padding: same needs stride 1",
        "fix: set stride: 1",
    ),
    case(
        "num-classes-without-a-task",
        GOOD_FEATURES.replace("out_features: 10", "out_features: num_classes"),
        "line 8, classifier[0] Linear.out_features: out_features is num_classes but no task "
        "or class count was given",
        "fix: pass --task domain|category or --num-classes N",
        command=("build",),
    ),
]


def assert_user_error(result, *fragments: str) -> None:
    assert result.code == EXIT_USER_ERROR, result.text
    assert "Traceback" not in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("text", "command", "fragments"), CASES)
def test_bad_spec_is_reported(text, command, fragments, cli, write_spec) -> None:
    path = write_spec(text)
    result = cli(command[0], path, *command[1:])
    assert_user_error(result, f"{path}:", *fragments)


def test_a_yaml_python_tag_is_refused_and_never_run(cli, write_spec, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = write_spec(
        f"""
        name: !!python/object/apply:os.system ["touch {marker}"]
        sections: {{features: [ReLU]}}
        """
    )
    for command in (("validate",), ("build", "--task", "domain")):
        result = cli(command[0], path, *command[1:])
        assert_user_error(
            result,
            f"{path}:",
            "line 1: the YAML tag !!python/object/apply:os.system is not allowed: a spec is "
            "plain data and never runs code",
            "fix: remove the tag",
        )
    assert not marker.exists()
    # The same text through PyYAML's unsafe loader does run the command: the test can fail.
    yaml.unsafe_load(path.read_text(encoding="utf-8"))
    assert marker.exists()


def test_a_yaml_python_name_tag_is_refused(cli, write_spec) -> None:
    path = write_spec(
        """
        name: Net
        sections:
          features:
            - Conv2d: !!python/name:os.system
        """
    )
    assert_user_error(cli("validate", path), "line 4: the YAML tag !!python/name:os.system")


def test_a_missing_file(cli, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    for command in (("validate",), ("build", "--task", "domain")):
        result = cli(command[0], path, *command[1:])
        assert_user_error(result, f"{path}: 1 problem", "file not found", "fix: check the path")


def test_a_folder_or_undecodable_file(cli, tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    for path in (tmp_path, binary):
        assert_user_error(cli("validate", path), f"{path}:", "cannot read the file")


def test_every_problem_in_a_file_is_reported_in_one_run(cli, write_spec) -> None:
    path = write_spec(
        """
        name: 3Net
        inputshape: [3, 32, 32]
        sections:
          features:
            - conv2d: {out_channels: 8, kernel_size: 3}
            - Conv2d: {out_channels: 8, kernel: 3}
          classifier:
            - Dropout: {p: 2.0}
            - Linear: {out_features: -1}
        """
    )
    result = cli("validate", path)
    assert_user_error(
        result,
        f"{path}: 7 problems",
        "line 1: name must be a Python-style class name",
        "line 2: unknown top-level key 'inputshape'",
        "line 5, features[0]: unknown layer kind 'conv2d'",
        "line 6, features[1] Conv2d: missing required field 'kernel_size'",
        "line 6, features[1] Conv2d: unknown field 'kernel'",
        "line 8, classifier[0] Dropout.p: p must be at most 1.0, got 2.0",
        "line 9, classifier[1] Linear.out_features: out_features must be a positive integer",
    )


def test_validate_reports_every_file(cli, write_spec) -> None:
    a = write_spec("name: A\nsections: {features: [Relu]}\n", name="a.yaml")
    b = write_spec("name: B\nsections: {features: [ReLU], to: [ReLU]}\n", name="b.yaml")
    result = cli("validate", a, b)
    assert_user_error(
        result,
        f"{a}: 1 problem",
        "unknown layer kind 'Relu'",
        "did you mean ReLU?",
        f"{b}: 1 problem",
        "'to' cannot name a section",
        "2 of 2 spec files have problems",
    )
    assert result.text.index(str(a)) < result.text.index(str(b))


def test_validate_reports_good_files_beside_bad_ones(cli, write_spec) -> None:
    good = write_spec(GOOD_FEATURES, name="good.yaml")
    bad = write_spec("name: B\nsections: {}\n", name="bad.yaml")
    result = cli("validate", good, bad)
    assert_user_error(result, f"{good}: ok (Net:", f"{bad}: 1 problem", "1 of 2 spec files")


def test_in_sizes_written_correctly_are_accepted(cli, write_spec) -> None:
    path = write_spec(
        """
        name: Net
        input_shape: [3, 32, 32]
        sections:
          features:
            - Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 3}
            - BatchNorm2d: {num_features: 8}
          classifier:
            - Linear: {in_features: 7200, out_features: 16}
            - BatchNorm1d: {num_features: 16}
            - Linear: {in_features: 16, out_features: num_classes}
        """
    )
    result = cli("validate", path, "--task", "category")
    assert result.code == 0, result.text
    assert f"{path}: ok (Net: features 2 layers, classifier 3 layers; input 3x32x32, output 7)" in (
        result.out
    )


@pytest.mark.parametrize("value", ["0", "-4"])
def test_num_classes_flag_must_be_positive(value: str, cli, write_spec) -> None:
    path = write_spec(GOOD_FEATURES)
    for command in ("build", "validate"):
        result = cli(command, path, "--num-classes", value)
        assert_user_error(result, f"--num-classes must be at least 1, got {value}")


def test_task_and_num_classes_together_are_refused(cli, write_spec) -> None:
    result = cli("build", write_spec(GOOD_FEATURES), "--task", "domain", "--num-classes", "3")
    assert_user_error(result, "not allowed with argument")


def test_an_alias_bomb_is_refused_before_it_expands(cli, write_spec) -> None:
    """Nine levels of nine aliases would be 387 million values once expanded."""
    levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    result = cli("validate", write_spec("\n".join(levels) + "\n"))
    assert_user_error(result, "expands to more than", "YAML aliases")


def test_spec_data_with_a_key_that_is_not_a_name_names_a_problem() -> None:
    """Data that did not come from a file (a checkpoint's) has no YAML to blame: the problem is
    still named, never an empty list."""
    from archspec.errors import SpecError
    from archspec.spec import spec_from_data

    with pytest.raises(SpecError) as error:
        spec_from_data({"name": "Net", "sections": {"features": {True: "ReLU"}}})
    assert error.value.problems
    assert "sections.features" in str(error.value)
