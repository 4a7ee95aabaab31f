"""Figures of runs: filter grids for every shipped spec, RGB mosaics, curves, confusion matrices."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
import torch

from archspec.compose import compose
from archspec.errors import UserError
from archspec.loader import read_spec_file
from archspec.spec import load_spec, spec_from_text
from archspec_cli import main
from runner.figures import confusion_matrix, plot_confusion, plot_curves
from runner.training.checkpoint import Checkpoint
from runner.training.model import seeded_model
from runner.visualize import (
    kernel_grid,
    rgb_mosaic,
    visualize_checkpoint,
    visualize_run,
)
from tests.runner.helpers import write_checkpoint

# The plain stacks, whose conv layers expected_convs can read off the YAML text (blocks: see
# tests/archspec/test_spec_block_weights.py).
ARCHITECTURES = [
    path
    for path in sorted((Path(__file__).parents[2] / "architectures").glob("*.yaml"))
    if not {"blocks", "Residual", "Parallel"} & set(path.read_text().replace(":", " ").split())
]
METRICS_HEADER = (
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second"
)
TINY = """
name: Tiny
input_shape: [{channels}, 16, 16]
sections:
  features:
    - Conv2d: {{out_channels: 4, kernel_size: 3}}
    - ReLU
    - MaxPool2d: {{kernel_size: 2}}
    - Conv2d: {{out_channels: 6, kernel_size: 3, padding: 1}}
  classifier:
    - Linear: {{out_features: num_classes}}
"""
LABELS = ("art_painting", "cartoon", "photo", "sketch")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header; fails if the file is not a PNG."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def expected_convs(spec_file: Path) -> list[tuple[str, int, int]]:
    """(name, in_channels, out_channels) of every Conv2d, worked out from the YAML document
    alone (its extends applied), before any validation."""
    data = compose(read_spec_file(spec_file)).data
    channels = data.get("input_shape", [3, 227, 227])[0]
    number, convs = 0, []
    for layers in data["sections"].values():
        for item in layers:
            number += 1
            kind, args = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            if kind == "Conv2d":
                convs.append((f"Conv2d-{number}", channels, args["out_channels"]))
                channels = args["out_channels"]
    return convs


def tiny_run(tmp_path: Path, channels: int = 3, metrics_rows: int = 3, seed: int = 0) -> Path:
    """A run directory with a real best.pt of a tiny spec, and a metrics.csv."""
    spec = spec_from_text(TINY.format(channels=channels))
    run = tmp_path / "tiny-domain"
    write_checkpoint(
        run / "best.pt", spec, LABELS, seed=seed, config={"seed": seed}, epoch=metrics_rows
    )
    lines = [METRICS_HEADER] + [
        f"{e},{1.5 / e},{0.5 + e / 20},{1.6 / e},{0.45 + e / 20},0.001,1.0,100.0"
        for e in range(1, metrics_rows + 1)
    ]
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    return run


# ---- every shipped spec -------------------------------------------------------------------------


def test_expected_layer_names_follow_the_whole_model_numbering():
    by_name = {load_spec(f).name: [c[0] for c in expected_convs(f)] for f in ARCHITECTURES}
    assert by_name["AlexNet"] == ["Conv2d-1", "Conv2d-4", "Conv2d-7", "Conv2d-9", "Conv2d-11"]
    assert by_name["AlexNetLargeKernel"] == [
        "Conv2d-1",
        "Conv2d-3",
        "Conv2d-5",
        "Conv2d-7",
        "Conv2d-9",
    ]


@pytest.mark.parametrize("spec_file", ARCHITECTURES, ids=lambda p: p.stem)
def test_every_shipped_spec_gets_one_grid_per_conv_layer_and_an_rgb_mosaic(spec_file, tmp_path):
    spec = load_spec(spec_file)
    model = seeded_model(spec, len(LABELS), 0)
    ckpt = Checkpoint(spec_file, spec, "domain", LABELS, model.state_dict(), {"seed": 0}, 1, {})
    figures = visualize_checkpoint(ckpt, tmp_path)

    convs = expected_convs(spec_file)
    expected_files = {f"{name.lower()}.png" for name, _, _ in convs}
    expected_files.add(f"{convs[0][0].lower()}-rgb.png")  # every shipped spec reads RGB
    assert {p.name for p in tmp_path.iterdir()} == expected_files
    assert {f.path.name for f in figures} == expected_files

    grids = {f.layer: f.grid for f in figures if f.kind == "grid"}
    assert grids == {name: (min(cin, 12), min(cout, 12)) for name, cin, cout in convs}

    (rgb,) = [f for f in figures if f.kind == "rgb"]
    rows, cols = rgb.grid
    filters = convs[0][2]
    assert rows * cols >= filters > (rows - 1) * cols  # all filters, no empty row
    assert cols - rows in (0, 1)  # near-square
    for f in figures:
        width, height = png_size(f.path)
        assert 200 < width <= 1000 and 100 < height <= 1000  # small at 100 dpi


# ---- the pure grid functions --------------------------------------------------------------------


def test_kernel_grid_puts_input_channels_in_rows_and_normalises_each_kernel_alone():
    weight = torch.randn(5, 4, 3, 3) * torch.arange(1, 6).view(5, 1, 1, 1)
    grid = kernel_grid(weight, max_in=2, max_out=3)
    assert grid.shape == (2, 3, 3, 3)
    for i in range(2):
        for o in range(3):
            kernel = weight[o, i]
            by_hand = (kernel - kernel.min()) / (kernel.max() - kernel.min())
            torch.testing.assert_close(grid[i, o], by_hand)


def test_a_constant_kernel_shows_as_mid_grey_not_nan():
    weight = torch.randn(2, 1, 3, 3)
    weight[1, 0] = 0.25
    grid = kernel_grid(weight, 12, 12)
    assert not torch.isnan(grid).any()
    assert torch.equal(grid[0, 1], torch.full((3, 3), 0.5))


def test_rgb_mosaic_uses_the_three_input_channels_as_rgb_normalised_per_filter():
    weight = torch.zeros(5, 3, 2, 2)
    weight[:, 0] = 4.0  # red channel highest
    weight[:, 2] = 2.0  # blue in the middle, green lowest
    weight[3, 1, 0, 0] = -4.0  # one darker green pixel in filter 3
    mosaic = rgb_mosaic(weight)
    assert mosaic.shape == (2, 3, 2, 2, 3)  # 5 filters: 2 rows of 3
    torch.testing.assert_close(mosaic[0, 0, 1, 1], torch.tensor([1.0, 0.0, 0.5]))
    # filter 3 (row 1, col 0) spans -4..4: red 1, blue 0.75, green 0.5 except the dark pixel 0
    torch.testing.assert_close(mosaic[1, 0, 1, 1], torch.tensor([1.0, 0.5, 0.75]))
    torch.testing.assert_close(mosaic[1, 0, 0, 0], torch.tensor([1.0, 0.0, 0.75]))
    assert torch.isnan(mosaic[1, 2]).all()  # the sixth cell is empty


# ---- visualize a run ----------------------------------------------------------------------------


def test_visualize_run_writes_filters_into_the_run_and_redraws_the_curves(tmp_path):
    run = tiny_run(tmp_path)
    result = visualize_run(run)
    assert result.checkpoint == run / "best.pt"
    assert sorted(p.name for p in (run / "filters").iterdir()) == [
        "conv2d-1-rgb.png",
        "conv2d-1.png",
        "conv2d-4.png",
    ]
    assert result.curves == run / "curves.png"
    png_size(run / "curves.png")


def test_layers_and_limits_choose_what_is_drawn(tmp_path):
    run = tiny_run(tmp_path)
    result = visualize_run(run, tmp_path / "out", layers=["conv2d-4"], max_in=2, max_out=5)
    assert [(f.layer, f.kind, f.grid) for f in result.figures] == [("Conv2d-4", "grid", (2, 5))]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["conv2d-4.png"]


def test_no_rgb_mosaic_when_the_first_conv_does_not_read_three_channels(tmp_path):
    run = tiny_run(tmp_path, channels=1)
    result = visualize_run(run)
    assert [f.kind for f in result.figures] == ["grid", "grid"]
    assert result.figures[0].grid == (1, 4)


def test_visualize_a_checkpoint_file_writes_beside_it(tmp_path):
    run = tiny_run(tmp_path)
    (run / "best.pt").rename(run / "last.pt")
    result = visualize_run(run / "last.pt")
    assert result.curves is None  # curves only for a run directory
    assert {f.path.parent for f in result.figures} == {run / "filters-last"}


def test_cli_visualize_prints_what_it_wrote(tmp_path, capsys):
    run = tiny_run(tmp_path)
    assert main(["visualize", str(run), "--layers", "Conv2d-1"]) == 0
    out = capsys.readouterr().out
    assert "conv2d-1.png" in out and "conv2d-1-rgb.png" in out and "curves.png" in out
    assert "conv2d-4.png" not in out


def test_cli_unknown_layer_lists_the_valid_ones(tmp_path, capsys):
    run = tiny_run(tmp_path)
    assert main(["visualize", str(run), "--layers", "Conv2d-1,Conv2d-2"]) == 2
    err = capsys.readouterr().err
    assert "Conv2d-2" in err and "Conv2d-1, Conv2d-4" in err
    assert "Traceback" not in err
    assert not (run / "filters").exists()  # checked before anything is drawn


def test_cli_run_directory_without_checkpoint(tmp_path, capsys):
    (tmp_path / "empty-run").mkdir()
    assert main(["visualize", str(tmp_path / "empty-run")]) == 2
    err = capsys.readouterr().err
    assert "has no best.pt" in err and "Traceback" not in err


def test_cli_file_that_is_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "best.pt").write_bytes(b"not a checkpoint")
    assert main(["visualize", str(tmp_path / "best.pt")]) == 2
    assert "not a readable archspec checkpoint" in capsys.readouterr().err


def test_cli_max_in_must_be_positive(tmp_path, capsys):
    run = tiny_run(tmp_path)
    assert main(["visualize", str(run), "--max-in", "0"]) == 2
    assert "--max-in must be at least 1" in capsys.readouterr().err


# ---- curves and confusion -----------------------------------------------------------------------


def test_plot_curves_needs_epochs_and_the_columns(tmp_path):
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(METRICS_HEADER + "\n")
    with pytest.raises(UserError, match="no epochs yet"):
        plot_curves(metrics, tmp_path / "curves.png", "T")
    metrics.write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(UserError, match="train_loss"):
        plot_curves(metrics, tmp_path / "curves.png", "T")
    assert not (tmp_path / "curves.png").exists()


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    counts = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], num_classes=4)
    assert counts.tolist() == [
        [1, 1, 0, 0],
        [0, 1, 0, 0],
        [1, 0, 2, 0],
        [0, 0, 0, 0],
    ]
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        confusion_matrix([0, 1], [0], num_classes=2)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_plot_confusion_writes_a_png(tmp_path):
    out = plot_confusion([0, 1, 2, 2], [0, 2, 2, 1], ["a", "b", "c"], tmp_path / "c.png", "T")
    width, height = png_size(out)
    assert math.isclose(width / height, 1.0, rel_tol=0.4)
