"""`--grid PATH=V1,V2,...`: variants built in memory from one spec, one per combination of values,
named by their values, trained as the sweep's other runs, plotted against each swept value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from archspec.errors import UserError
from archspec_cli import main
from runner.study import sweep
from runner.study.grid import (
    check_distinct_names,
    grid_points,
    parse_grid,
    point_label,
    point_suffix,
)
from runner.study.plan import plan_sweep
from tests.runner.study_data import small_cache, small_embedded  # noqa: F401 (fixtures)
from tests.runner.test_sweep import SPEC, FakeTrainer

GRID = ["features.0.out_channels=4,8", "features.2.kernel_size=3,5"]

pytestmark = pytest.mark.usefixtures("small_embedded")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "specs" / "alpha.yaml"
    path.parent.mkdir()
    path.write_text(SPEC.format(name="AlphaNet"))
    return path


def test_each_grid_is_an_axis_and_a_list_value_stays_whole():
    axes = parse_grid([*GRID, "input_shape=[3, 12, 12],[3, 16, 16]"])
    assert axes == [
        ("features.0.out_channels", ("4", "8")),
        ("features.2.kernel_size", ("3", "5")),
        ("input_shape", ("[3, 12, 12]", "[3, 16, 16]")),
    ]
    points = grid_points(axes[:2])
    assert len(points) == 4 and points[1] == (
        ("features.0.out_channels", "4"),
        ("features.2.kernel_size", "5"),
    )
    assert grid_points([]) == [()]


def test_variant_names_are_safe_folder_names_and_tell_alike_paths_apart():
    point = (("features.0.out_channels", "8"), ("input_shape", "[3, 16, 16]"))
    assert point_suffix(point) == "out_channels=8-input_shape=3_16_16"
    assert point_label(point) == "out_channels=8, input_shape=[3, 16, 16]"
    alike = (("features.0.kernel_size", "3"), ("features.2.kernel_size", "5"))
    assert point_suffix(alike) == "features.0.kernel_size=3-features.2.kernel_size=5"
    with pytest.raises(UserError, match="would name the same run folders"):
        check_distinct_names(parse_grid(["input_shape=[3, 8, 8],[3,8,8]"]))


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("features.0.kernel_size", "takes PATH=V1,V2"),
        ("=3,5", "takes PATH=V1,V2"),
        ("features.0.kernel_size=3,,5", "an empty value"),
        ("features.0.kernel_size=3,3", "3 given twice"),
    ],
)
def test_a_malformed_grid_says_how_to_write_it(argument, message):
    with pytest.raises(UserError, match=message):
        parse_grid([argument])


def test_one_path_in_two_grids_is_refused():
    with pytest.raises(UserError, match="given twice: give all its values in one"):
        parse_grid(["features.0.kernel_size=3", "features.0.kernel_size=5"])


def test_two_values_of_two_paths_make_four_variants_in_memory(spec, tmp_path):
    before = sorted(spec.parent.iterdir())
    runs = plan_sweep([spec], ["category"], tmp_path / "s", grid=parse_grid(GRID))
    assert [r.name for r in runs] == [
        "alpha-out_channels=4-kernel_size=3-category",
        "alpha-out_channels=4-kernel_size=5-category",
        "alpha-out_channels=8-kernel_size=3-category",
        "alpha-out_channels=8-kernel_size=5-category",
    ]
    for run in runs:
        grid = dict(run.grid)
        conv1, _, conv2 = run.spec.data["sections"]["features"]
        assert conv1["Conv2d"]["out_channels"] == int(grid["features.0.out_channels"])
        assert conv2["Conv2d"]["kernel_size"] == int(grid["features.2.kernel_size"])
    assert runs[0].label == "AlphaNet (out_channels=4, kernel_size=3)"
    assert sorted(spec.parent.iterdir()) == before  # no spec file was written


def test_a_grid_value_the_spec_refuses_is_named_before_anything_is_trained(
    spec, tmp_path, monkeypatch, capsys
):
    trainer = FakeTrainer()
    monkeypatch.setattr(sweep, "train_run", trainer)
    out = tmp_path / "s"
    args = ["sweep", str(spec), "--out", str(out), "--grid", "features.2.kernel_size=3,30"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--grid kernel_size=30" in err and "Traceback" not in err
    assert trainer.calls == [] and not out.exists()


def test_a_grid_sweep_trains_each_variant_and_plots_against_the_values(spec, tmp_path, monkeypatch):
    """Real training, 1 epoch on the small embedded set, of each of the four variants."""
    from runner.training.train import train_run

    calls: list[str] = []

    def counting_train_run(config, resume=None, progress=True):
        calls.append(config.name)
        return train_run(config, resume=resume, progress=False)

    monkeypatch.setattr(sweep, "train_run", counting_train_run)
    out = tmp_path / "sweep"
    args = ["sweep", str(spec), "--task", "category", "--epochs", "1", "--batch-size", "32"]
    args += ["--workers", "1", "--device", "cpu", "--out", str(out), "--quiet"]
    for axis in GRID:
        args += ["--grid", axis]
    assert main(args) == 0
    assert len(calls) == 4 and len(set(calls)) == 4
    stored = yaml.safe_load((out / calls[3] / "spec.yaml").read_text())
    assert stored["sections"]["features"][0]["Conv2d"]["out_channels"] == 8
    assert stored["sections"]["features"][2]["Conv2d"]["kernel_size"] == 5
    text = (out / "report.md").read_text()
    assert "![Accuracy against each swept value](grid.png)" in text
    assert (out / "grid.png").stat().st_size > 0
    assert text.startswith("# Study: 1 spec in 4 variants x 1 task")
    table = text.split("## Category task")[1].split("\n\n")[1]
    rows = re.findall(r"^\| AlphaNet \(out_channels=(\d), kernel_size=(\d)\) \| ", table, re.M)
    assert rows == [("4", "3"), ("4", "5"), ("8", "3"), ("8", "5")]
    paired = text.split("## Paired differences")[1].split("## ")[0]
    assert paired.count("| AlphaNet (out_channels=") == 3  # each against the first
    assert "| AlphaNet (`" in text and ", out_channels=8, kernel_size=5) |" in text

    assert main(args) == 0  # everything finished: nothing trained again
    assert len(calls) == 4
