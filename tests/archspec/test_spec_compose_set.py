"""`--set PATH=VALUE` on build, validate, train and sweep; a bad one names the argument."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from spec_test_paths import ARCHITECTURES

from runner.data import write_synthetic
from runner.training.checkpoint import load_checkpoint

ALEXNET = ARCHITECTURES / "alexnet.yaml"
SMALL = """\
name: Small
input_shape: [3, 24, 24]
sections:
  features:
    - Conv2d: {id: conv1, out_channels: 6, kernel_size: 5, stride: 2}
    - ReLU
    - MaxPool2d: {kernel_size: 2}
  classifier:
    - Linear: {out_features: num_classes}
"""


def test_build_applies_each_set_in_turn(cli) -> None:
    result = cli(
        "build",
        ALEXNET,
        "--task",
        "domain",
        "--no-summary",
        "--set",
        "features.0.kernel_size=7",
        "--set",
        "classifier.1.out_features=2048",
        "--set",
        "fc7.out_features=1024",
        "--set",
        "conv2.kernel_size=[3, 5]",
        "--set",
        "conv2.padding=null",
    )
    assert result.code == 0, result.err
    assert "(0): Conv2d(3, 96, kernel_size=(7, 7), stride=(4, 4))" in result.out
    assert "(3): Conv2d(96, 256, kernel_size=(3, 5), stride=(1, 1))\n" in result.out
    assert "out_features=2048, bias=True)" in result.out
    assert "(4): Linear(in_features=2048, out_features=1024, bias=True)" in result.out


def test_set_changes_a_variant_after_its_extends(cli) -> None:
    result = cli(
        "build", ARCHITECTURES / "dilation.yaml", "--num-classes", "3", "--set", "name=Wider"
    )
    assert result.code == 0, result.err
    assert result.out.startswith("Wider(\n")
    assert "dilation=(2, 2)" in result.out


def test_validate_applies_the_sets_to_every_file(cli) -> None:
    specs = [ARCHITECTURES / "tiny.yaml", ARCHITECTURES / "dilation.yaml"]
    result = cli("validate", *specs, "--set", "input_shape=[3, 64, 64]")
    assert result.code == 2, result.text  # AlexNet's pooling collapses a 64x64 input
    assert result.out.count("sizes along the way: input 3x64x64") == 2
    assert cli("validate", *specs, "--set", "conv1.out_channels=32").code == 0


@pytest.mark.parametrize("command", ["build", "validate"])
@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        ("features..0.stride=2", "the path 'features..0.stride' has an empty part"),
        ("features.0.stride.=2", "has an empty part"),
        ("=2", "a target is a path such as"),
        ("features.0.stride", "--set takes PATH=VALUE"),
        ("features.0.stride=", "no value after '='"),
        ("features.20.stride=2", "features has 13 layers (0 to 12)"),
        ("conv9.stride=2", "'conv9' is not a section, a layer id or a top-level key"),
        ("features.0.stride=[2,", "the value is not valid YAML"),
        ("features.0.stride=!!python/name:os.system", "is not allowed"),
        ("features.0.stride=two", "features[0] Conv2d.stride: stride must be"),
        ("features.0.strid=2", "unknown field 'strid'"),
    ],
)
def test_a_bad_set_names_the_argument(cli, command, argument, fragment) -> None:
    args = ("--task", "domain") if command == "build" else ()
    result = cli(command, ALEXNET, *args, "--set", argument)
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert f"  - --set {argument}" in result.text
    assert fragment in result.text


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("set-data") / "data"
    write_synthetic(root, seed=0, train_per_class=2, val_per_class=1, size=24)
    return root


TRAINING = ("--epochs", "1", "--batch-size", "16", "--workers", "1", "--quiet")


def test_train_stores_the_changed_spec_and_resumes_with_it(cli, tmp_path, data) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "runs"
    common = (*TRAINING, "--data", data, "--out", out)
    result = cli("train", spec, "--task", "domain", *common, "--set", "conv1.out_channels=5")
    assert result.code == 0, result.text
    run = out / "small-domain"
    stored = yaml.safe_load((run / "spec.yaml").read_text())
    assert stored["sections"]["features"][0] == {
        "Conv2d": {"out_channels": 5, "kernel_size": 5, "stride": 2}
    }
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["spec_set"] == ["conv1.out_channels=5"]
    assert load_checkpoint(run / "last.pt").model_state["features.0.weight"].shape[0] == 5

    # --resume without --set continues the run as it was trained
    result = cli("train", spec, "--resume", run, *common[:-2], "--epochs", "2")
    assert result.code == 0, result.text
    assert load_checkpoint(run / "last.pt").epoch == 2
    # ... and another --set is not that run's spec
    result = cli("train", spec, "--resume", run, "--epochs", "3", "--set", "conv1.out_channels=7")
    assert result.code == 2 and "cannot resume" in result.err


def test_train_with_a_bad_set_writes_nothing(cli, tmp_path, data) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "runs"
    args = (*TRAINING, "--data", data, "--out", out, "--set", "conv1.kernel_size=99")
    result = cli("train", spec, "--task", "domain", *args)
    assert result.code == 2, result.text
    assert "--set conv1.kernel_size=99, features[0] Conv2d-1.kernel_size" in result.err
    assert not out.exists()


def test_sweep_trains_the_changed_specs_and_keeps_them_apart(cli, tmp_path, data) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "sweep"
    args = ("sweep", spec, "--task", "domain", *TRAINING, "--data", data, "--out", out)
    result = cli(*args, "--set", "classifier.0.bias=false")
    assert result.code == 0, result.text
    stored = yaml.safe_load((out / "small-domain" / "spec.yaml").read_text())
    assert stored["sections"]["classifier"] == [
        {"Linear": {"out_features": "num_classes", "bias": False}}
    ]
    assert (out / "report.md").is_file()
    again = cli(*args, "--set", "classifier.0.bias=false")
    assert again.code == 0 and "finished, skipped" in again.out
    other = cli(*args)
    assert other.code == 2
    assert "was trained with another version" in other.err
    bad = cli(*args, "--set", "classifier.5=ReLU")
    assert bad.code == 2 and "--set classifier.5=ReLU: classifier has 1 layer (0 to 0)" in bad.err
