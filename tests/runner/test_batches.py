"""BatchMaker: the batch a training step takes, from the uint8 images held in memory."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torchvision.transforms.v2 import functional as F

from runner.training.augment import Augmenter
from runner.training.batches import BatchMaker
from runner.training.setup import data_device

MEAN, STD = (0.1, 0.5, 0.9), (0.2, 0.3, 0.05)


def images(count: int = 10) -> torch.Tensor:
    seeded = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (count, 3, 6, 5), dtype=torch.uint8, generator=seeded)


def torchvisions(rows: torch.Tensor) -> torch.Tensor:
    """The batch as torchvision would normalise it: the independent expectation."""
    return F.normalize(F.to_dtype(rows, torch.float32, scale=True), list(MEAN), list(STD))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_each_batch_is_its_rows_normalised_in_the_runs_layout(layout):
    pictures = images()
    batches = BatchMaker(pictures, torch.device("cpu"), MEAN, STD, layout, Augmenter("none", 3, 0))
    # A small batch, a larger one (the buffers grow), a smaller one (they are sliced), and a
    # larger one again.
    for index in ([9, 1], [3, 0, 7, 7], [5], [2, 4, 6, 8, 1]):
        x = batches(torch.tensor(index))
        assert x.shape == (len(index), 3, 6, 5) and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=layout)
        torch.testing.assert_close(x, torchvisions(pictures[index]), rtol=0, atol=2e-6)


def test_on_a_cpu_the_buffers_are_kept_from_step_to_step():
    batches = BatchMaker(
        images(), torch.device("cpu"), MEAN, STD, torch.channels_last, Augmenter("none", 3, 0)
    )
    first = batches(torch.tensor([0, 1, 2]))
    first_storage = first.untyped_storage().data_ptr()
    second = batches(torch.tensor([3, 4, 5]))
    assert second.untyped_storage().data_ptr() == first_storage
    torch.testing.assert_close(second, torchvisions(images()[[3, 4, 5]]), rtol=0, atol=2e-6)


def test_augmented_batches_are_the_augmenters():
    pictures, index = images(), torch.tensor([5, 2, 9, 0])
    batches = BatchMaker(
        pictures, torch.device("cpu"), MEAN, STD, torch.channels_last, Augmenter("flip", 3, 7)
    )
    expected = Augmenter("flip", 3, 7)(pictures[index], MEAN, STD)  # the same seed: same flips
    x = batches(index)
    assert x.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(x, expected, rtol=0, atol=0)


# --- where the images live ------------------------------------------------------------------


def prepared(train: int, val: int, test: int | None) -> SimpleNamespace:
    """What `data_device` reads of a PreparedData: image sets of 3x6x5 uint8 and their labels."""
    pictures = {name: images(n) for name, n in (("train", train), ("val", val))}
    return SimpleNamespace(
        train_images=pictures["train"],
        train_labels=torch.zeros(train, dtype=torch.int64),
        val_images=pictures["val"],
        val_labels=torch.zeros(val, dtype=torch.int64),
        test_images=None if test is None else images(test),
        test_labels=None if test is None else torch.zeros(test, dtype=torch.int64),
    )


def test_images_go_to_the_gpu_together_when_they_all_fit_in_half_its_free_memory(monkeypatch):
    cuda = torch.device("cuda", 1)
    data = prepared(train=10, val=4, test=6)
    # 20 images of 90 bytes and 20 labels of 8 bytes: 1,960 bytes in all.
    free = {"bytes": 2 * 1960}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free["bytes"], 10**9))
    assert data_device(data, cuda) == cuda
    free["bytes"] = 2 * 1960 - 2  # one byte short of room for the held-out domain's too
    assert data_device(data, cuda) == torch.device("cpu")
    assert data_device(prepared(train=10, val=4, test=None), cuda) == cuda  # no held-out set
    assert data_device(data, torch.device("cpu")) == torch.device("cpu")
