"""A training batch from the uint8 images held in memory: its rows picked, augmented, normalised
and put in the run's memory format, on the run's device.

On a GPU each step's tensors come from torch's caching allocator, and the whole batch is made by
a few kernels queued behind the step before (runner/data/images.py's `normalize`). On a CPU,
making a 128-image batch of 227x227 the plain way took 60 to 90 ms a step on two cores, about
6% of an AlexNetTiny step, most of it in first touching freshly allocated memory and in
per-channel arithmetic over a channels_last layout. So on a CPU the batch is made in buffers
kept from step to step (about 15 ms): rows gathered with `index_select`, normalised in NCHW,
then copied into the memory format. A step has finished with its batch before the next one is
made (a CPU runs one step after the other), so the buffers can be overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from runner.data.images import normalize
from runner.training.augment import Augmenter


class BatchMaker:
    """batches(index) -> the float32 batch of the images at `index` (a 1-D int64 tensor on the
    images' device), ready for a training step."""

    def __init__(
        self,
        images: torch.Tensor,
        device: torch.device,
        mean: Sequence[float],
        std: Sequence[float],
        layout: torch.memory_format,
        augmenter: Augmenter,
    ) -> None:
        self.images, self.device, self.layout, self.augmenter = images, device, layout, augmenter
        self.mean, self.std = tuple(mean), tuple(std)
        self._buffers: dict[str, torch.Tensor] = {}  # CPU only, made at the first batch

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        in_place = (
            self.images.device.type == "cpu"
            and self.device.type == "cpu"
            and self.augmenter.kind == "none"
        )
        if not in_place:
            rows = torch.index_select(self.images, 0, index).to(self.device, non_blocking=True)
            if self.augmenter.kind != "domainbed":  # whose resampling makes NCHW anyway
                # The layout changes while the pixels are bytes: a quarter of the work in float32.
                rows = rows.contiguous(memory_format=self.layout)
            return self.augmenter(rows, self.mean, self.std).contiguous(memory_format=self.layout)
        n = len(index)
        buffers = self._buffers_for(n)
        rows = torch.index_select(self.images, 0, index, out=buffers["rows"][:n])
        x = normalize(rows, self.mean, self.std, out=buffers["floats"][:n])
        if self.layout == torch.contiguous_format:
            return x
        return buffers["laid_out"][:n].copy_(x)

    def _buffers_for(self, count: int) -> dict[str, torch.Tensor]:
        if not self._buffers or len(self._buffers["rows"]) < count:
            shape = (count, *self.images.shape[1:])
            self._buffers = {
                "rows": torch.empty(shape, dtype=torch.uint8),
                "floats": torch.empty(shape, dtype=torch.float32),
            }
            if self.layout != torch.contiguous_format:
                self._buffers["laid_out"] = torch.empty(
                    shape, dtype=torch.float32, memory_format=self.layout
                )
        return self._buffers
