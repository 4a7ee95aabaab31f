"""TensorBoard events, read back with tensorboard's own reader (EventAccumulator)."""

from __future__ import annotations

import sys

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from archspec.spec import spec_from_text
from archspec_cli import main
from runner.training.model import seeded_model
from runner.training.tensorboard import FILTERS_TAG, TensorBoardLog, filter_image
from tests.runner.helpers import SMALL_SPEC


def read(run_dir) -> EventAccumulator:
    events = EventAccumulator(
        str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0}
    )
    return events.Reload()


def row(epoch: int, val_accuracy: float) -> dict:
    return {
        "epoch": epoch,
        "train_loss": 2.0 / epoch,
        "train_accuracy": 0.1 * epoch,
        "val_loss": 3.0 / epoch,
        "val_accuracy": val_accuracy,
        "lr": 0.001,
        "seconds": 1.5,
        "images_per_second": 100.0 + epoch,
    }


def test_the_log_holds_scalars_per_epoch_filters_at_each_best_epoch_and_hparams(tmp_path):
    model = seeded_model(spec_from_text(SMALL_SPEC), 4, 0)
    accuracies = [0.5, 0.7, 0.6, 0.8]  # new bests at epochs 1, 2 and 4
    with TensorBoardLog(tmp_path) as log:
        for epoch, accuracy in enumerate(accuracies, start=1):
            log.epoch(row(epoch, accuracy), model, is_best=epoch in (1, 2, 4))
    log.finish(  # as training does: after the epochs' writer has closed
        {"spec": "small.yaml", "task": "domain", "epochs": 4, "lr": 0.001, "data": None},
        {"best_val_accuracy": 0.8, "best_epoch": 4, "final_val_accuracy": 0.8, "epochs": 4},
    )
    events = read(tmp_path)
    val = events.Scalars("accuracy/val")
    assert [(s.step, round(s.value, 6)) for s in val] == list(enumerate(accuracies, start=1))
    assert [round(s.value, 3) for s in events.Scalars("loss/train")] == [2.0, 1.0, 0.667, 0.5]
    assert [s.value for s in events.Scalars("images_per_second")] == [101, 102, 103, 104]
    assert {"loss/val", "accuracy/train", "lr"} <= set(events.Tags()["scalars"])
    images = events.Images(FILTERS_TAG)
    assert [i.step for i in images] == [1, 2, 4]
    # 6 filters of 3x5x5 -> 3 columns, 2 rows of 20-pixel cells (5 x 4), 1-pixel gaps
    assert (images[0].width, images[0].height) == (3 * 21 + 1, 2 * 21 + 1)
    assert events.Scalars("hparam/best_val_accuracy")[0].value == pytest.approx(0.8)
    start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    settings = HParamsPluginData.FromString(start).session_start_info.hparams
    assert settings["task"].string_value == "domain" and settings["epochs"].number_value == 4
    assert settings["data"].string_value == "none"


def test_the_filter_image_scales_each_filter_on_its_own():
    weight = torch.zeros(2, 3, 2, 2)
    weight[0, 0, 0, 0] = 5.0  # filter 0: one bright red corner
    weight[1] = -torch.arange(12.0).view(3, 2, 2)  # filter 1: a ramp of negatives
    grid = filter_image(weight, pixels=2)  # kernels 2 pixels wide: no upscaling
    assert grid.shape == (3, 2 + 2, 2 * 3 + 1)  # 2 cells in a row, 1-pixel gaps around
    assert grid.min() == 0.0 and grid.max() == 1.0
    assert torch.equal(grid[:, 1, 1], torch.tensor([1.0, 0.0, 0.0]))  # the red corner
    assert grid[0, 1, 4] == 1.0 and grid[2, 2, 5] == 0.0  # the ramp spans 0..1 on its own


def test_train_tensorboard_without_the_package_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now fails
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    for command in (["train", str(spec), "--task", "domain"], ["sweep", str(spec)]):
        out = tmp_path / command[0]
        assert main([*command, "--tensorboard", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert (
            "--tensorboard needs the tensorboard package" in err and "archspec[tensorboard]" in err
        )
        assert "Traceback" not in err and not out.exists()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from runner.data import write_synthetic

    root = tmp_path_factory.mktemp("data")
    write_synthetic(root, seed=0, train_per_class=2, val_per_class=1, size=24)
    return root


def test_train_with_tensorboard_logs_what_metrics_csv_holds(tmp_path, data):
    from runner.training.rundir import RunDir

    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    common = [str(spec), "--task", "domain", "--data", str(data), "--epochs", "3"]
    common += ["--batch-size", "16", "--quiet", "--out", str(tmp_path / "runs")]
    assert main(["train", *common, "--tensorboard", "--name", "logged"]) == 0
    run = RunDir(tmp_path / "runs" / "logged")
    events = read(run.path)
    rows = run.read_metrics()
    for column, tag in [("val_accuracy", "accuracy/val"), ("train_loss", "loss/train"),
                        ("lr", "lr"), ("images_per_second", "images_per_second")]:  # fmt: skip
        logged = [(s.step, s.value) for s in events.Scalars(tag)]
        assert logged == [(int(r["epoch"]), pytest.approx(float(r[column]))) for r in rows]
    best, new_bests = -1.0, []
    for r in rows:
        if float(r["val_accuracy"]) > best:
            best = float(r["val_accuracy"])
            new_bests.append(int(r["epoch"]))
    assert [i.step for i in events.Images(FILTERS_TAG)] == new_bests
    summary = run.read_summary()
    logged_best = events.Scalars("hparam/best_val_accuracy")[0].value
    assert logged_best == pytest.approx(summary["best_val_accuracy"])

    assert main(["train", *common, "--name", "plain"]) == 0  # without the flag: no events
    assert not (tmp_path / "runs" / "plain" / "tensorboard").exists()


def test_sweep_with_tensorboard_logs_every_run(tmp_path, data):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    out = tmp_path / "sweep"
    args = [str(spec), "--task", "domain", "--data", str(data), "--epochs", "1"]
    assert (
        main(["sweep", *args, "--batch-size", "16", "--quiet", "--tensorboard", "--out", str(out)])
        == 0
    )
    assert [s.step for s in read(out / "small-domain").Scalars("accuracy/val")] == [1]
