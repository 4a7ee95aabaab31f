"""`--resume`: the run keeps its settings, a differing flag is refused, a finished run is said to
be finished before any image is decoded, and the computing choices made at the start are kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import runner.training.setup
from archspec_cli import main
from runner.data import write_synthetic
from runner.training.checkpoint import load_checkpoint
from runner.training.config import TrainConfig
from runner.training.train import train_run


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "data"
    write_synthetic(root, seed=1, train_per_class=2, val_per_class=1, size=24)
    return root


def train(spec: Path, data: Path, out: Path, **settings) -> Path:
    config = TrainConfig(
        spec=str(spec), task="domain", data=str(data), out=str(out), workers=1,
        **{"epochs": 1, "batch_size": 16, "memory_format": "contiguous", **settings},
    )  # fmt: skip
    return train_run(config, progress=False)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err


def test_flags_that_differ_from_the_run_are_refused_all_at_once(
    synthetic, spec_file, tmp_path, capsys
):
    run = train(spec_file, synthetic, tmp_path / "runs")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, _, err = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "2", "--lr", "0.1",
         "--data", str(tmp_path / "other"), "--batch-size", "8", "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 2
    for difference in ("--lr 0.1 (the run has 0.001)", "--batch-size 8 (the run has 16)"):
        assert difference in err
    assert f"--data {tmp_path / 'other'}" in err and "--epochs" not in err.split("only")[0]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_the_same_flags_again_are_accepted_and_epochs_extend_the_run(
    synthetic, spec_file, tmp_path, capsys
):
    run = train(spec_file, synthetic, tmp_path / "runs")
    code, _, _ = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "2", "--batch-size", "16",
         "--data", str(synthetic), "--task", "domain", "--device", "cpu", "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["epochs"] == 2
    assert load_checkpoint(run / "last.pt").epoch == 2


def test_a_finished_run_has_nothing_to_do_before_any_image_is_decoded(
    synthetic, spec_file, tmp_path, capsys
):
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    run = train(spec_file, data, tmp_path / "runs")
    shutil.rmtree(data)  # decoding would now fail
    code, out, _ = run_cli(["train", str(spec_file), "--resume", str(run), "--quiet"], capsys)
    assert code == 0 and "nothing to do" in out and "--epochs 2" in out
    code, _, err = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "1", "--quiet"], capsys
    )
    assert code == 0
    code, _, err = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "2", "--quiet"], capsys
    )
    assert code == 2 and str(data) in err  # with more epochs, it does need the data


def test_fewer_epochs_than_trained_are_refused(synthetic, spec_file, tmp_path, capsys):
    run = train(spec_file, synthetic, tmp_path / "runs", epochs=2)
    code, _, err = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "1", "--quiet"], capsys
    )
    assert code == 2 and "has trained 2 epochs" in err and "--epochs 3" in err


def test_the_memory_format_chosen_at_the_start_is_stored_and_kept(
    synthetic, spec_file, tmp_path, capsys, monkeypatch
):
    run = train(spec_file, synthetic, tmp_path / "runs", memory_format="auto")
    out = capsys.readouterr().out
    stored = yaml.safe_load((run / "config.yaml").read_text())
    assert stored["memory_format"] in ("channels_last", "contiguous")
    assert stored["precision"] == "fp32"
    assert f"memory format: {stored['memory_format']} (a step timed in each" in out
    assert load_checkpoint(run / "last.pt").config["memory_format"] == stored["memory_format"]

    def no_timing(*args, **kwargs):
        raise AssertionError("a resumed run must not choose again")

    monkeypatch.setattr(runner.training.setup, "choose_memory_format", no_timing)
    code, out, _ = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "2", "--quiet"], capsys
    )
    assert code == 0 and f"memory format: {stored['memory_format']} (as set)" in out
    other = "contiguous" if stored["memory_format"] == "channels_last" else "channels_last"
    code, _, err = run_cli(
        ["train", str(spec_file), "--resume", str(run), "--epochs", "3",
         "--memory-format", other, "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 2 and f"--memory-format {other}" in err
