"""Variants as diffs: `extends` chains and every kind of override, on small specs.

The base below names some layers with ids; each test writes a variant of it and checks the
validated spec (or, for constructs the schema does not know yet, the composed document).
"""

from __future__ import annotations

import pickle
import re
import textwrap

import pytest
import yaml
from spec_test_paths import ARCHITECTURES

from archspec.compiler import compile_spec
from archspec.compose import compose
from archspec.errors import SpecError
from archspec.loader import parse_spec_text
from archspec.origin import Origin
from archspec.shapes import resolve
from archspec.spec import load_spec

BASE = """\
    name: Base
    input_shape: [3, 32, 32]
    description: the base
    sections:
      features:
        - Conv2d: {id: conv1, out_channels: 8, kernel_size: 3}
        - ReLU
        - MaxPool2d: {id: pool1, kernel_size: 2}
        - Conv2d: {id: conv2, out_channels: 16, kernel_size: 3, padding: 1}
      classifier:
        - Linear: {id: fc, out_features: 10}
"""


@pytest.fixture
def base(write_spec):
    return write_spec(BASE, "base.yaml")


def variant(write_spec, text: str, name: str = "variant.yaml"):
    return load_spec(write_spec("extends: base.yaml\n" + textwrap.dedent(text), name))


def written(spec, section: str) -> list:
    """The layers of a section as the validated spec writes them: `{Kind: fields}` or `Kind`."""
    return spec.to_data()["sections"][section]


def kinds(spec, section: str = "features") -> list[str]:
    return [
        layer if isinstance(layer, str) else next(iter(layer)) for layer in written(spec, section)
    ]


def fields(spec, section: str, index: int) -> dict:
    layer = written(spec, section)[index]
    return {} if isinstance(layer, str) else dict(next(iter(layer.values())) or {})


def test_a_variant_with_no_changes_equals_its_base(base, write_spec) -> None:
    assert variant(write_spec, "") == load_spec(base)
    assert variant(write_spec, "set:\ndelete:\n") == load_spec(base)  # edits still to write


def test_top_level_keys_replace_the_bases(base, write_spec) -> None:
    spec = variant(write_spec, "name: Other\ninput_shape: [1, 28, 28]\ndescription: null\n")
    assert (spec.name, spec.input_shape, spec.description) == ("Other", (1, 28, 28), "")
    assert spec.sections == load_spec(base).sections


@pytest.mark.parametrize(
    "target",
    ["features.0", "conv1", "features.conv1", "features.-4", "features.0.Conv2d"],
)
def test_set_merges_fields_into_a_layer_found_by_index_or_id(base, write_spec, target) -> None:
    spec = variant(write_spec, f"set:\n  {target}: {{kernel_size: 5, stride: 2}}\n")
    assert fields(spec, "features", 0) == {"out_channels": 8, "kernel_size": 5, "stride": 2}


def test_set_one_field_and_null_removes_one(base, write_spec) -> None:
    spec = variant(
        write_spec,
        """
        set:
          conv2.out_channels: 32
          conv2.padding: null
          fc: {out_features: 7}
        """,
    )
    assert fields(spec, "features", 3) == {"out_channels": 32, "kernel_size": 3}
    assert fields(spec, "classifier", 0) == {"out_features": 7}


def test_set_gives_a_bare_layer_its_first_field(base, write_spec) -> None:
    spec = variant(write_spec, "set: {features.1.inplace: true}\n")
    assert fields(spec, "features", 1) == {"inplace": True}


def test_replace_a_layer_and_a_whole_section(base, write_spec) -> None:
    spec = variant(
        write_spec,
        """
        replace:
          pool1: {AvgPool2d: {kernel_size: 2}}
          classifier: [Dropout, {Linear: {out_features: 3}}]
        """,
    )
    assert kinds(spec) == ["Conv2d", "ReLU", "AvgPool2d", "Conv2d"]
    assert kinds(spec, "classifier") == ["Dropout", "Linear"]


def test_sections_merge_by_name_and_null_removes_one(base, write_spec) -> None:
    spec = variant(
        write_spec,
        """
        sections:
          classifier: [{Linear: {out_features: 2}}]
          head: [Flatten]
        """,
    )
    assert list(spec.sections) == ["features", "classifier", "head"]
    assert kinds(spec, "classifier") == ["Linear"]
    assert kinds(spec) == kinds(load_spec(base))
    spec = variant(write_spec, "sections: {classifier: null, head: [Flatten]}\n")
    assert list(spec.sections) == ["features", "head"]


def test_delete_and_insert_address_the_bases_numbering(base, write_spec) -> None:
    """Every target of one file points into the base as it was: no index shifts under another."""
    spec = variant(
        write_spec,
        """
        delete: [features.1, pool1]
        set: {features.3.out_channels: 4}
        insert_after: {features.0: [BatchNorm2d, {ReLU: {inplace: true}}]}
        insert_before:
          features.3: {Dropout2d: {p: 0.1}}
          fc: [Dropout]
        """,
    )
    assert kinds(spec) == ["Conv2d", "BatchNorm2d", "ReLU", "Dropout2d", "Conv2d"]
    assert fields(spec, "features", 4)["out_channels"] == 4
    assert fields(spec, "features", 2) == {"inplace": True}
    assert kinds(spec, "classifier") == ["Dropout", "Linear"]


def test_insert_after_the_last_layer(base, write_spec) -> None:
    spec = variant(write_spec, "insert_after: {classifier.-1: [ReLU]}\n")
    assert kinds(spec, "classifier") == ["Linear", "ReLU"]


def test_a_chain_of_extends_applies_each_file_in_turn(base, write_spec) -> None:
    write_spec("extends: base.yaml\nname: Middle\nset: {conv1.out_channels: 12}\n", "middle.yaml")
    top = write_spec(
        """
        extends: middle.yaml
        name: Top
        set: {conv1.kernel_size: 5}
        insert_after: {conv1: [{BatchNorm2d: {id: bn1}}]}
        """,
        "top.yaml",
    )
    spec = load_spec(top)
    assert spec.name == "Top"
    assert kinds(spec)[:3] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert fields(spec, "features", 0) == {"out_channels": 12, "kernel_size": 5}
    # an id given in a variant is usable by the next one down the chain
    bottom = write_spec("extends: top.yaml\ndelete: [bn1]\n", "bottom.yaml")
    assert kinds(load_spec(bottom)) == kinds(load_spec(base))


def test_extends_is_relative_to_the_file_not_the_working_directory(
    base, write_spec, tmp_path, monkeypatch
) -> None:
    (tmp_path / "variants").mkdir()
    path = write_spec("extends: ../base.yaml\nname: Deep\n", "variants/deep.yaml")
    monkeypatch.chdir(tmp_path / "variants")
    assert load_spec(path.resolve()).name == "Deep"
    monkeypatch.chdir("/")
    assert load_spec(path).name == "Deep"


def test_ids_never_reach_the_spec_or_the_module(base, write_spec) -> None:
    without_ids = write_spec(re.sub(r"id: \w+, ", "", BASE), "plain.yaml")
    assert "id:" not in without_ids.read_text()
    spec, plain = load_spec(base), load_spec(without_ids)
    assert spec == plain
    assert spec.to_data() == plain.to_data()
    assert str(compile_spec(resolve(spec, 10))) == str(compile_spec(resolve(plain, 10)))


def test_a_value_from_the_base_is_located_in_the_base(base, write_spec) -> None:
    base.write_text(base.read_text().replace("kernel_size: 2}", "kernel_size: 0}"))
    path = write_spec("extends: base.yaml\nname: V\n", "v.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    (problem,) = caught.value.problems
    assert isinstance(problem.line, Origin)
    assert (int(problem.line), problem.line.file) == (8, str(base))
    assert f"line 8 of {base}, features[2] MaxPool2d.kernel_size" in str(caught.value)
    assert caught.value.source == str(path)


def test_an_origin_survives_pickling() -> None:
    origin = Origin(3, file="a.yaml", applied_to="b.yaml")
    copy = pickle.loads(pickle.dumps(origin))
    assert (copy, copy.file, copy.applied_to, copy.describe()) == (
        3,
        "a.yaml",
        "b.yaml",
        "line 3 of a.yaml (applied to b.yaml)",
    )


# --- constructs the validator does not know yet compose all the same ------------------------

BLOCKS_BASE = """\
name: Net
blocks:
  Stage:
    params: {channels: required, stride: 1}
    layers:
      - Residual:
          body:
            - Conv2d: {id: body_conv, out_channels: 8, kernel_size: 3}
            - BatchNorm2d
          shortcut: auto
sections:
  layers:
    - Stage: {id: stage1, channels: 64}
    - Stage: {channels: 128, stride: 2}
"""


def composed(tmp_path, variant_text: str) -> dict:
    (tmp_path / "net.yaml").write_text(BLOCKS_BASE)
    path = tmp_path / "variant.yaml"
    path.write_text("extends: net.yaml\n" + textwrap.dedent(variant_text))
    from archspec.loader import read_spec_file

    return compose(read_spec_file(path)).data


def test_block_definitions_and_parameters_are_overridden_like_anything_else(tmp_path) -> None:
    data = composed(
        tmp_path,
        """
        blocks: {Stage: {params: {stride: 2}}}
        set:
          stage1.channels: 96
          layers.1: {stride: 1}
          blocks.Stage.layers.0.body.1.momentum: 0.01
          body_conv.kernel_size: 5
        insert_after: {blocks.Stage.layers.0: [ReLU]}
        """,
    )
    stage = data["blocks"]["Stage"]
    assert stage["params"] == {"channels": "required", "stride": 2}
    body = stage["layers"][0]["Residual"]["body"]
    assert body == [
        {"Conv2d": {"out_channels": 8, "kernel_size": 5}},  # its id taken out
        {"BatchNorm2d": {"momentum": 0.01}},
    ]
    assert stage["layers"][1] == "ReLU"
    assert data["sections"]["layers"] == [
        {"Stage": {"channels": 96}},
        {"Stage": {"channels": 128, "stride": 1}},
    ]


NAMED_BASE = """\
name: Net
blocks:
  Basic:
    params: {planes: required, stride: 1}
    Residual:
      body:
        conv1: {Conv2d: {out_channels: $planes, kernel_size: 3, stride: $stride}}
        bn1: BatchNorm2d
      shortcut: auto
sections:
  stem:
    conv1: {Conv2d: {out_channels: 64, kernel_size: 7}}
    relu: {ReLU: {inplace: true}}
  layer2:
    - Basic: {planes: 128}
      repeat: 2
      first: {stride: 2}
    - Sequential: [{Conv2d: {out_channels: 8, kernel_size: 1}}, ReLU]
"""


def test_named_layers_repeats_and_nested_lists_are_addressed_alike(tmp_path) -> None:
    (tmp_path / "net.yaml").write_text(NAMED_BASE)
    path = tmp_path / "variant.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            extends: net.yaml
            set:
              stem.conv1.kernel_size: 3
              layer2.0.planes: 256
              layer2.0.repeat: 3
              layer2.0.first.stride: 1
              layer2.1.0.kernel_size: 3
              blocks.Basic.Residual.body.bn1.momentum: 0.01
            insert_after: {stem.conv1: {bn1: BatchNorm2d}}
            delete: [stem.relu]
            insert_before: {blocks.Basic.Residual.body.conv1: {pad: {ZeroPad2d: {padding: 1}}}}
            """
        )
    )
    from archspec.loader import read_spec_file

    data = compose(read_spec_file(path)).data
    assert data["sections"]["stem"] == {
        "conv1": {"Conv2d": {"out_channels": 64, "kernel_size": 3}},
        "bn1": "BatchNorm2d",
    }
    assert data["sections"]["layer2"] == [
        {"Basic": {"planes": 256}, "repeat": 3, "first": {"stride": 1}},
        {"Sequential": [{"Conv2d": {"out_channels": 8, "kernel_size": 3}}, "ReLU"]},
    ]
    body = data["blocks"]["Basic"]["Residual"]["body"]
    assert list(body) == ["pad", "conv1", "bn1"]
    assert body["bn1"] == {"BatchNorm2d": {"momentum": 0.01}}


def test_a_named_layer_inserted_twice_is_refused(tmp_path) -> None:
    (tmp_path / "net.yaml").write_text(NAMED_BASE)
    path = tmp_path / "variant.yaml"
    path.write_text("extends: net.yaml\ninsert_after: {stem.conv1: {relu: ReLU}}\n")
    from archspec.loader import read_spec_file

    with pytest.raises(SpecError, match="there is a layer named relu there already"):
        compose(read_spec_file(path))


def test_a_whole_block_definition_is_replaced(tmp_path) -> None:
    data = composed(tmp_path, "replace: {blocks.Stage: {layers: [Identity]}}\n")
    assert data["blocks"] == {"Stage": {"layers": ["Identity"]}}


def test_a_spec_without_extends_is_the_document_itself() -> None:
    doc = parse_spec_text("name: N\nsections: {features: [ReLU]}\n", "n.yaml")
    out = compose(doc)
    assert out.data == doc.data
    assert out.lines == doc.lines


# --- the shipped variants -------------------------------------------------------------------

VARIANTS = ["large_kernel", "tiny", "avg_pooling", "dilation"]


@pytest.mark.parametrize("stem", VARIANTS)
def test_the_study_variants_are_diffs_of_alexnet(stem) -> None:
    text = (ARCHITECTURES / f"{stem}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["extends"] == "alexnet.yaml"
    assert "sections" not in data  # no layer list restated
    written = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    base = (ARCHITECTURES / "alexnet.yaml").read_text(encoding="utf-8").splitlines()
    base = [line for line in base if line.strip() and not line.startswith("#")]
    assert len(written) <= len(base) // 2


# --- the JSON Schema knows variants ---------------------------------------------------------


@pytest.fixture(scope="module")
def schema_validator():
    import json

    import jsonschema

    from archspec.schema import spec_json_schema_text

    schema = json.loads(spec_json_schema_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_the_schema_knows_every_edit() -> None:
    import json

    from archspec.compose import EDITS
    from archspec.schema import spec_json_schema_text

    variant = json.loads(spec_json_schema_text())["$defs"]["ArchspecVariant"]
    assert set(EDITS) <= set(variant["properties"])


@pytest.mark.parametrize(
    "text",
    [
        "extends: a.yaml\nname: V\nset: {conv1: {padding: 2}, fc6.out_features: 10}\n",
        "extends: a.yaml\nreplace: {pool1: {AvgPool2d: {kernel_size: 3}}}\ndelete: [pool2]\n",
        "extends: a.yaml\ninsert_after: {conv1: [BatchNorm2d, {ReLU: {id: relu1}}]}\n",
        "extends: a.yaml\nsections: {head: [Flatten], classifier: null}\n",
    ],
)
def test_the_schema_accepts_variants(schema_validator, text) -> None:
    schema_validator.validate(yaml.safe_load(text))


@pytest.mark.parametrize(
    "text",
    [
        "extends: a.yaml\nsett: {conv1.stride: 2}\n",  # not an edit
        "extends: a.yaml\nset: {features..0: 2}\n",  # not a path
        "extends: a.yaml\ninsert_after: {conv1: [{conv2d: {kernel_size: 3}}]}\n",  # not a kind
        "extends: a.yaml\nname: 2nd\n",  # not a class name
        "name: V\nset: {conv1.stride: 2}\nsections: {features: [ReLU]}\n",  # edits, no extends
        "name: V\nsections: {features: [{ReLU: {id: 1st}}]}\n",  # not an id
    ],
)
def test_the_schema_rejects_bad_variants(schema_validator, text) -> None:
    assert not schema_validator.is_valid(yaml.safe_load(text))
