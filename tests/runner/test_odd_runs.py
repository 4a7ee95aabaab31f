"""Runs users start on odd inputs: each is refused up front with exit 2 and a message that says
what to do, or works; none ends in a traceback."""

from __future__ import annotations

from pathlib import Path

import yaml

from archspec_cli import main
from tests.runner.helpers import SMALL_SPEC

NO_CONV_SPEC = """\
name: Flat
input_shape: [3, 24, 24]
sections:
  classifier:
    - Flatten
    - Linear: {out_features: 8}
    - ReLU
    - Linear: {out_features: num_classes}
"""

BATCHNORM_SPEC = SMALL_SPEC.replace(
    "    - Linear: {out_features: 16}\n", "    - Linear: {out_features: 16}\n    - BatchNorm1d\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def train(spec: Path, data: Path, out: Path, *flags: str) -> int:
    where = ["--data", str(data), "--out", str(out)]
    return main(
        ["train", str(spec), "--task", "domain", *where, "--epochs", "1", "--quiet", *flags]
    )


def test_resuming_from_best_pt_points_to_the_run(synthetic, tmp_path, capsys):
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    assert train(spec, synthetic, tmp_path / "runs") == 0
    best = tmp_path / "runs" / "small-domain" / "best.pt"
    code = main(["train", str(spec), "--task", "domain", "--resume", str(best), "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "holds the best weights only" in err and str(best.parent) in err


def test_a_set_with_no_validation_images_is_refused_before_training(tmp_path, write_tree, capsys):
    write_tree(tmp_path / "data", {"cat": {"a": 1}, "dog": {"b": 1}})  # one image per folder
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    code = train(spec, tmp_path / "data", tmp_path / "runs")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "no validation images" in err and "2 or more images" in err
    assert not (tmp_path / "runs").exists()  # no half-made run directory


def test_batchnorm_with_batches_of_one_image_is_refused(synthetic, tmp_path, capsys):
    spec = write(tmp_path / "bn.yaml", BATCHNORM_SPEC)
    code = train(spec, synthetic, tmp_path / "runs", "--batch-size", "1")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "BatchNorm" in err and "--batch-size 2 or more" in err


def test_compare_needs_conv_layers_in_both_runs(synthetic, tmp_path, capsys):
    flat = write(tmp_path / "flat.yaml", NO_CONV_SPEC)
    small = write(tmp_path / "small.yaml", SMALL_SPEC)
    assert train(flat, synthetic, tmp_path / "runs") == 0
    assert train(small, synthetic, tmp_path / "runs") == 0
    capsys.readouterr()
    runs = tmp_path / "runs"
    code = main(["compare", str(runs / "small-domain"), str(runs / "flat-domain")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "flat-domain" in err and "has no conv or attention layer" in err


def test_visualize_says_when_a_run_has_no_filters(synthetic, tmp_path, capsys):
    flat = write(tmp_path / "flat.yaml", NO_CONV_SPEC)
    assert train(flat, synthetic, tmp_path / "runs") == 0
    capsys.readouterr()
    assert main(["visualize", str(tmp_path / "runs" / "flat-domain")]) == 0
    assert "has no Conv2d layer" in capsys.readouterr().out


def test_a_relative_data_path_is_stored_absolute(synthetic, tmp_path, monkeypatch):
    """So that --resume, or a sweep continued from another folder, finds the same data."""
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    monkeypatch.chdir(synthetic.parent)
    assert train(spec, Path(synthetic.name), tmp_path / "runs") == 0
    config = yaml.safe_load((tmp_path / "runs" / "small-domain" / "config.yaml").read_text())
    assert config["data"] == str(synthetic)
    monkeypatch.chdir(tmp_path)  # elsewhere: resuming finds the data
    run = tmp_path / "runs" / "small-domain"
    assert (
        main(["train", str(spec), "--task", "domain", "--resume", str(run), "--epochs", "2"]) == 0
    )


def test_broken_images_of_every_split_are_named_together(tmp_path, write_tree, capsys):
    write_tree(tmp_path / "data" / "train", {"photo": {"cat": 2, "dog": 2}, "sketch": {"cat": 2}})
    write_tree(tmp_path / "data" / "val", {"photo": {"cat": 1, "dog": 1}, "sketch": {"cat": 1}})
    broken_train = tmp_path / "data" / "train" / "photo" / "cat" / "zero.png"
    broken_val = tmp_path / "data" / "val" / "photo" / "dog" / "text.jpg"
    broken_train.write_bytes(b"")
    broken_val.write_text("not a picture")
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    code = train(spec, tmp_path / "data", tmp_path / "runs")
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "2 images cannot be decoded" in err
    assert str(broken_train) in err and str(broken_val) in err
    assert not (tmp_path / "runs").exists()


def test_a_single_class_is_refused(tmp_path, write_tree, capsys):
    write_tree(tmp_path / "data", {"cat": {"a": 3}, "dog": {"a": 3}})  # one category: "a"
    spec = write(tmp_path / "small.yaml", SMALL_SPEC)
    where = ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs"), "--quiet"]
    code = main(["train", str(spec), "--task", "category", *where])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "has a single category, 'a'" in err and "--task domain" in err
