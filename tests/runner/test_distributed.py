"""`archspec train` under torchrun: two CPU processes (gloo) train one model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from runner.data import decode_images, discover, labels
from runner.training.checkpoint import load_checkpoint
from runner.training.epoch import evaluate
from tests.runner.helpers import SMALL_SPEC


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from runner.data import write_synthetic

    root = tmp_path_factory.mktemp("ddp") / "data"
    write_synthetic(root, seed=3, train_per_class=2, val_per_class=2, size=24)
    # 55 validation images: an odd count, so the two processes score unequal shares.
    next((root / "val" / "photo").rglob("*.png")).unlink()
    return root


def test_two_processes_write_one_run_whose_accuracy_matches_a_single_process(data, tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    out = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "archspec",
        "train",
        str(spec),
        "--task",
        "domain",
        "--data",
        str(data),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--quiet",
        "--device",
        "cpu",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in out.iterdir()] == ["small-domain"]  # written once, by rank 0
    run = out / "small-domain"
    assert result.stdout.count("[Epoch 1]") == 1  # only rank 0 prints
    summary = json.loads((run / "summary.json").read_text())

    # Score the saved best weights in this single process, on every validation image.
    best = load_checkpoint(run / "best.pt")
    val = discover(data).val
    images = decode_images([s.path for s in val], (24, 24), progress=False).images
    result = evaluate(
        best.build_model(), images, labels(val, best.labels, "domain"), 64, torch.device("cpu")
    )
    assert result.count == len(val) == 55
    assert summary["best_val_accuracy"] == pytest.approx(result.accuracy, abs=1e-12)
