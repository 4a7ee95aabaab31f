"""`archspec diff A B`: layer by layer what differs, the totals side by side, diff's exit codes."""

from __future__ import annotations

import json

from spec_test_paths import ARCHITECTURES, ZOO

from archspec.diff import diff_specs
from archspec.spec import load_spec, spec_from_text

ALEXNET = ARCHITECTURES / "alexnet.yaml"


def test_dilation_names_every_dilated_layer_and_the_cost(cli) -> None:
    result = cli("diff", ALEXNET, ARCHITECTURES / "dilation.yaml")
    assert result.code == 1, result.err
    dilated = [line for line in result.out.splitlines() if "dilation 1 -> 2" in line]
    names = [line.split()[1] for line in dilated]
    assert names == ["Conv2d-1", "Conv2d-4", "Conv2d-7", "Conv2d-9", "Conv2d-11"]
    assert "~ Conv2d-1 (features.0): padding 0 -> 5, dilation 1 -> 2" in result.out
    assert "~ Linear-15 (classifier.1): out_features 9216 -> 4096" in result.out
    a, b = load_spec(ALEXNET), load_spec(ARCHITECTURES / "dilation.yaml")
    diff = diff_specs(a, b)
    assert diff.a.params - diff.b.params == 68_162_560  # fc6 9216x9216 -> 9216x4096, fc7 in
    params = next(line for line in result.out.splitlines() if line.startswith("parameters"))
    assert params.split()[1:] == ["126,472,583", "58,310,023", "-68,162,560", "(-53.9%)"]
    rf = next(line for line in result.out.splitlines() if line.startswith("receptive field"))
    assert rf.split()[-3:] == ["195", "333", "+138"]


def test_a_file_and_its_expand_output_are_equal(cli, tmp_path) -> None:
    for path in (
        ARCHITECTURES / "dilation.yaml",
        ZOO / "resnet18.yaml",
        ZOO / "squeezenet1_1.yaml",
    ):
        expanded = tmp_path / path.name
        result = cli("expand", path)
        expanded.write_text(result.out)
        result = cli("diff", path, expanded)
        assert result.code == 0, result.out
        assert "the two specs build the same model" in result.out


def test_deleted_and_replaced_layers(cli) -> None:
    result = cli("diff", ALEXNET, ARCHITECTURES / "large_kernel.yaml", "--json")
    assert result.code == 1
    data = json.loads(result.out)
    removed = [c["a"]["name"] for c in data["layers"] if c["change"] == "removed"]
    assert removed == ["MaxPool2d-3", "MaxPool2d-6", "MaxPool2d-13"]
    conv1 = next(c for c in data["layers"] if c["a"] and c["a"]["name"] == "Conv2d-1")
    assert conv1["fields"]["kernel_size"] == [11, 21]
    assert data["totals"]["sections"]["features"] == [[256, 6, 6], [256, 6, 6]]
    assert ["features.6", "features.4"] in data["moved"]  # conv3, the same after the deletions
    assert len(data["moved"]) == 6
    result = cli("diff", ALEXNET, ARCHITECTURES / "avg_pooling.yaml", "--json")
    kinds = [c["fields"].get("kind") for c in json.loads(result.out)["layers"]]
    assert kinds.count(["MaxPool2d", "AvgPool2d"]) == 3


def test_block_specs_changed_inside_a_block(cli) -> None:
    resnet = ZOO / "resnet18.yaml"
    result = cli("diff", resnet, resnet, "--set", "layer3.0.planes=384", "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    modules = [c["b"]["module"] for c in data["layers"] if c["change"] == "changed"]
    # the first block of layer3 widens; the next block's input, and layer4's, follow
    assert "layer3.0.conv1" in modules and "layer3.0.downsample.0" in modules
    assert "layer3.1.conv1" in modules and "layer4.0.conv1" in modules
    assert data["totals"]["parameters"][1] > data["totals"]["parameters"][0]
    result = cli("diff", resnet, resnet)
    assert result.code == 0


def test_added_layers_and_section_outputs() -> None:
    base = "name: N\ninput_shape: [3, 16, 16]\nsections:\n  features:\n"
    a = spec_from_text(base + "    - Conv2d: {out_channels: 4, kernel_size: 3}\n")
    b = spec_from_text(
        base
        + "    - Conv2d: {out_channels: 4, kernel_size: 3}\n    - MaxPool2d: {kernel_size: 2}\n"
    )
    diff = diff_specs(a, b)
    assert [(c.change, c.b.name) for c in diff.layers] == [("added", "MaxPool2d-2")]
    assert diff.a.sections == {"features": (4, 14, 14)} and diff.b.sections == {
        "features": (4, 7, 7)
    }
    assert not diff.equal and diff_specs(a, a).equal


def test_user_errors_exit_2(cli, tmp_path) -> None:
    result = cli("diff", ALEXNET, tmp_path / "nope.yaml")
    assert result.code == 2 and "nope.yaml" in result.err and "Traceback" not in result.err
    result = cli("diff", ALEXNET)
    assert result.code == 2
    result = cli("diff", ALEXNET, ALEXNET, "--set", "features..0=7")
    assert result.code == 2 and "features..0" in result.err


def test_very_deep_networks_fall_back_to_a_quicker_matching(monkeypatch) -> None:
    from archspec import diff as diff_module

    monkeypatch.setattr(diff_module, "MAX_ALIGN", 0)
    a, b = load_spec(ALEXNET), load_spec(ARCHITECTURES / "avg_pooling.yaml")
    kinds = [c.fields.get("kind") for c in diff_specs(a, b).layers]
    assert kinds.count(("MaxPool2d", "AvgPool2d")) == 3
