"""On CUDA, the training loop never makes the CPU wait for the GPU between an epoch's first and
last step: every step is queued while the GPU still works on the one before.

torch's sync debug mode turns each such wait (a `.item()`, a blocking copy to or from the GPU)
into an error, raised inside the run; the run must end normally. Needs CUDA (skipped here
otherwise).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runner.data import write_synthetic
from runner.training.config import TrainConfig
from runner.training.train import train_run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 domains x 7 categories x (3 train + 1 val) images: 84 training images, 6 batches."""
    root = tmp_path_factory.mktemp("synthetic") / "data"
    write_synthetic(root, seed=0, train_per_class=3, val_per_class=1, size=24)
    return root


# "domainbed" is left out: its contrast step reads each image's mean back, one wait a step.
@pytest.mark.parametrize("augment", ["none", "flip"])
@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_steps_never_wait_for_the_gpu(synthetic, spec_file, tmp_path, augment, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    last_step = 84 // 16  # batches 0..5, the last one of 4 images
    strict: list[int] = []

    def on_step(epoch: int, batch: int) -> None:
        # From the end of the first step (set-up may wait) until the last one has been queued;
        # the epoch's one read of its sums comes after.
        if batch == 0:
            torch.cuda.set_sync_debug_mode("error")
            strict.append(epoch)
        elif batch == last_step:
            torch.cuda.set_sync_debug_mode("default")

    config = TrainConfig(
        spec=str(spec_file),
        task="domain",
        data=str(synthetic),
        epochs=2,
        batch_size=16,
        out=str(tmp_path / "runs"),
        workers=1,
        device="cuda",
        precision=precision,
        memory_format="channels_last",
        augment=augment,
        # No last.pt after epoch 1: its background write waits for its own copies, in its own
        # thread, which holds up no step; but the debug mode is process-wide and would count it.
        checkpoint_every=2,
    )
    try:
        train_run(config, progress=False, on_step=on_step)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert strict == [0, 1]  # both epochs were watched


def test_the_watch_catches_a_wait() -> None:
    """The mode the test above relies on does turn a blocking copy into an error."""
    x = torch.ones(4, device="cuda")
    torch.cuda.set_sync_debug_mode("error")
    try:
        with pytest.raises(RuntimeError):
            x.sum().item()
    finally:
        torch.cuda.set_sync_debug_mode("default")
