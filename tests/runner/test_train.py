"""`archspec train` end to end on a tiny spec and a few generated images."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch

from archspec_cli import main
from runner.data import write_synthetic
from runner.training import hooks
from runner.training.checkpoint import load_checkpoint
from runner.training.config import TrainConfig
from runner.training.train import train_run
from tests.runner.helpers import SMALL_SPEC

TIMING_COLUMNS = ("seconds", "images_per_second")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 domains x 7 categories x (3 train + 1 val) images of 24x24, in the split layout."""
    root = tmp_path_factory.mktemp("synthetic") / "data"
    write_synthetic(root, seed=0, train_per_class=3, val_per_class=1, size=24)
    return root


def config(spec: Path, data: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(
        spec=str(spec),
        task="domain",
        data=str(data),
        epochs=2,
        batch_size=16,
        out=str(out),
        workers=1,
        # Fixed, not timed: two runs compared bit for bit must compute alike.
        memory_format="contiguous",
    )
    return TrainConfig(**{**settings, **overrides})


# The resume tests run on the CPU, and on the GPU where there is one: there, with deterministic
# kernels, bf16 and channels_last, the path a GPU run takes.
DEVICES = [
    pytest.param({"device": "cpu"}, id="cpu"),
    pytest.param(
        {"device": "cuda", "deterministic": True, "memory_format": "channels_last"},
        id="cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
    ),
]


def read_metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def without_timing(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]


def test_run_directory_holds_everything(synthetic: Path, spec_file: Path, tmp_path: Path):
    run = train_run(config(spec_file, synthetic, tmp_path / "runs"), progress=False)
    assert run == tmp_path / "runs" / "small-domain"
    for name in (
        "config.yaml",
        "spec.yaml",
        "metrics.csv",
        "best.pt",
        "last.pt",
        "summary.json",
        "curves.png",
        "confusion.png",
    ):
        assert (run / name).is_file(), name
    rows = read_metrics(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    summary = json.loads((run / "summary.json").read_text())
    accuracies = [float(r["val_accuracy"]) for r in rows]
    assert summary["best_val_accuracy"] == pytest.approx(max(accuracies), abs=1e-6)
    assert summary["best_epoch"] == accuracies.index(max(accuracies)) + 1
    assert summary["labels"] == ["art_painting", "cartoon", "photo", "sketch"]
    # Parameters of Small with 4 classes, counted by hand: conv 6*3*5*5+6, fc 6*5*5*16+16, 16*4+4.
    assert summary["params"] == (6 * 3 * 25 + 6) + (150 * 16 + 16) + (16 * 4 + 4)
    last = load_checkpoint(run / "last.pt")
    assert last.epoch == 2 and last.task == "domain"
    assert last.spec.name == "Small" and last.labels == tuple(summary["labels"])
    best = load_checkpoint(run / "best.pt")
    assert best.epoch == summary["best_epoch"]
    assert "optimizer" in last.state and "optimizer" not in best.state  # best.pt: weights only


def test_a_second_run_never_overwrites_the_first(synthetic, spec_file, tmp_path):
    first = train_run(config(spec_file, synthetic, tmp_path, epochs=1), progress=False)
    second = train_run(config(spec_file, synthetic, tmp_path, epochs=1), progress=False)
    assert first != second and first.is_dir() and second.name == "small-domain-2"


def test_category_task_has_seven_classes(synthetic, spec_file, tmp_path):
    run = train_run(
        config(spec_file, synthetic, tmp_path, task="category", epochs=1), progress=False
    )
    labels = json.loads((run / "summary.json").read_text())["labels"]
    assert len(labels) == 7 and labels == sorted(labels)
    assert load_checkpoint(run / "best.pt").build_model()(torch.zeros(1, 3, 24, 24)).shape == (1, 7)


def test_holdout_domain_is_tested_not_validated(synthetic, spec_file, tmp_path, capsys):
    run = train_run(
        config(spec_file, synthetic, tmp_path, task="category", epochs=1, holdout_domain="sketch"),
        progress=False,
    )
    assert run.name == "small-category-holdout-sketch"
    assert "held-out sketch" in capsys.readouterr().out
    assert load_checkpoint(run / "last.pt").config["holdout_domain"] == "sketch"
    from runner.data import discover

    dataset = discover(synthetic, holdout_domain="sketch")
    assert len(dataset.test) == 7 * 4  # all (3 train + 1 val) sketch images of 7 categories
    assert {s.domain for s in dataset.test} == {"sketch"}
    assert "sketch" not in {s.domain for s in dataset.train + dataset.val}
    assert read_metrics(run)[0]["test_accuracy"] != ""


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("how", ["exception", "signal"])
def test_interrupted_then_resumed_equals_uninterrupted(
    synthetic, spec_file, tmp_path, how, device, monkeypatch
):
    """Stop in the middle of epoch 2, resume: same weights and metrics as never stopping."""
    whole = train_run(
        config(spec_file, synthetic, tmp_path / "a", epochs=3, **device), progress=False
    )

    def interrupt(epoch: int, batch: int) -> None:
        if (epoch, batch) == (1, 2):
            raise KeyboardInterrupt

    def ctrl_c(epoch: int, batch: int) -> None:
        if (epoch, batch) == (1, 2):
            os.kill(os.getpid(), signal.SIGINT)

    settings = config(spec_file, synthetic, tmp_path / "b", epochs=3, **device)
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        if how == "signal":  # a real Ctrl-C in the middle of batch 2: that batch still finishes
            patch.setattr(hooks, "mid_step", ctrl_c)
        train_run(settings, progress=False, on_step=interrupt if how == "exception" else None)
    stopped = tmp_path / "b" / "small-domain"
    assert load_checkpoint(stopped / "last.pt").state["position"]["batch"] == 3
    assert len(read_metrics(stopped)) == 1
    assert not (stopped / "summary.json").exists()
    resumed = train_run(settings, resume=stopped, progress=False)

    assert resumed == stopped
    a, b = load_checkpoint(whole / "last.pt"), load_checkpoint(resumed / "last.pt")
    assert a.model_state.keys() == b.model_state.keys()
    for key in a.model_state:
        assert torch.equal(a.model_state[key], b.model_state[key]), key
    assert without_timing(read_metrics(whole)) == without_timing(read_metrics(resumed))
    for key in ("exp_avg", "exp_avg_sq"):
        for i in a.state["optimizer"]["state"]:
            assert torch.equal(
                a.state["optimizer"]["state"][i][key], b.state["optimizer"]["state"][i][key]
            )


def test_resume_can_extend_the_epochs(synthetic, spec_file, tmp_path):
    run = train_run(config(spec_file, synthetic, tmp_path, epochs=1), progress=False)
    code = main(["train", str(spec_file), "--resume", str(run), "--epochs", "2", "--quiet"])
    assert code == 0
    assert [r["epoch"] for r in read_metrics(run)] == ["1", "2"]


# --- user mistakes: exit code 2, a message naming what and where, nothing already written lost


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def test_spec_output_size_disagrees_with_classes(synthetic, tmp_path, capsys):
    spec = tmp_path / "three.yaml"
    spec.write_text(SMALL_SPEC.replace("out_features: num_classes", "out_features: 3"))
    code, err = run_cli(
        [
            "train",
            str(spec),
            "--task",
            "category",
            "--data",
            str(synthetic),
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 2
    assert "output is 3" in err and "7 classes" in err and "num_classes" in err
    assert not (tmp_path / "runs").exists()


def test_missing_data_directory(spec_file, tmp_path, capsys):
    code, err = run_cli(
        [
            "train",
            str(spec_file),
            "--task",
            "domain",
            "--data",
            str(tmp_path / "nowhere"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 2 and "nowhere" in err


def test_corrupt_image_stops_before_training(synthetic, spec_file, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(synthetic, data)
    broken = next((data / "train" / "photo").rglob("*.png"))
    broken.write_bytes(broken.read_bytes()[:40])  # truncated
    args = ["train", str(spec_file), "--task", "domain", "--data", str(data),
            "--out", str(tmp_path / "runs"), "--quiet"]  # fmt: skip
    code, err = run_cli(args, capsys)
    assert code == 2 and str(broken) in err and "--skip-bad-images" in err
    assert not (tmp_path / "runs").exists()
    code, _ = run_cli([*args, "--epochs", "1", "--skip-bad-images"], capsys)
    assert code == 0


def test_task_is_required(spec_file, capsys):
    code, err = run_cli(["train", str(spec_file)], capsys)
    assert code == 2 and "--task" in err


def test_resume_with_another_spec_is_refused_and_changes_nothing(
    synthetic, spec_file, tmp_path, capsys
):
    run = train_run(config(spec_file, synthetic, tmp_path, epochs=1), progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    other = tmp_path / "other.yaml"
    other.write_text(SMALL_SPEC.replace("out_features: 16", "out_features: 17"))
    code, err = run_cli(["train", str(other), "--resume", str(run), "--quiet"], capsys)
    assert code == 2 and "cannot resume" in err and "differs" in err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


@pytest.mark.parametrize("content", [b"not a checkpoint at all", None])
def test_checkpoint_that_is_not_ours(spec_file, tmp_path, capsys, content):
    run = tmp_path / "run"
    run.mkdir()
    if content is None:
        torch.save({"state_dict": {"w": torch.zeros(2)}}, run / "last.pt")
    else:
        (run / "last.pt").write_bytes(content)
    code, err = run_cli(["train", str(spec_file), "--resume", str(run)], capsys)
    assert code == 2 and "not" in err and "archspec checkpoint" in err


def test_resume_of_a_directory_without_checkpoint(spec_file, tmp_path, capsys):
    code, err = run_cli(["train", str(spec_file), "--resume", str(tmp_path)], capsys)
    assert code == 2 and "last.pt" in err


def to_pacs_release(split_root: Path, out: Path) -> Path:
    """Rewrite the split layout as the PACS release: one image tree plus kfold split files."""
    categories = sorted(p.name for p in (split_root / "train" / "photo").iterdir())
    lines: dict[tuple[str, str], list[str]] = {}
    for split, kfold in (("train", "train"), ("val", "crossval")):
        for image in sorted((split_root / split).rglob("*.png")):
            domain, category = image.parent.parent.name, image.parent.name
            target = out / domain / category / f"{split}_{image.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(image, target)
            line = f"{domain}/{category}/{target.name} {categories.index(category) + 1}"
            lines.setdefault((domain, kfold), []).append(line)
    for (domain, kfold), entries in lines.items():
        (out / f"{domain}_{kfold}_kfold.txt").write_text("\n".join(entries) + "\n")
    return out


def to_unsplit(split_root: Path, out: Path) -> Path:
    for image in sorted(split_root.rglob("*.png")):
        split, domain, category = image.parts[-4], image.parts[-3], image.parts[-2]
        target = out / domain / category / f"{split}_{image.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, target)
    return out


@pytest.mark.parametrize("layout", ["split-folders", "pacs-kfold", "no-split"])
@pytest.mark.parametrize("task", ["domain", "category"])
def test_trains_on_every_layout_for_both_tasks(
    synthetic, spec_file, tmp_path, layout, task, capsys
):
    data = {
        "split-folders": lambda: synthetic,
        "pacs-kfold": lambda: to_pacs_release(synthetic, tmp_path / "pacs"),
        "no-split": lambda: to_unsplit(synthetic, tmp_path / "flat"),
    }[layout]()
    run = train_run(config(spec_file, data, tmp_path / "runs", task=task, epochs=1), progress=False)
    summary = json.loads((run / "summary.json").read_text())
    assert len(summary["labels"]) == {"domain": 4, "category": 7}[task]
    # 4 domains x 7 categories; one image of each group of 4 validates in every layout
    # (the no-split hold-out takes round(0.2 * 4) = 1 per group).
    assert "train: 84 images, val: 28 images" in capsys.readouterr().out
