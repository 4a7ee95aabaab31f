"""Several processes training one model: PyTorch's own route, as launched by torchrun.

`torchrun --nproc_per_node=N -m archspec train ...` sets RANK, WORLD_SIZE and LOCAL_RANK; we join
the process group (NCCL on CUDA, gloo on CPU), wrap the model in DistributedDataParallel, give
each process its share of every epoch, and add up the metrics. Without torchrun, the same code
runs as a world of one and none of this costs anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints."""
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> World:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))

    def start(self, device: torch.device) -> None:
        if self.distributed and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    def device_for(self, device: torch.device) -> torch.device:
        """One GPU per process on a machine: cuda:LOCAL_RANK."""
        if self.distributed and device.type == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        if not self.distributed:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def sum(self, *values: float) -> list[float]:
        """Add each value up over all processes (identity in a world of one)."""
        if not self.distributed:
            return list(values)
        backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        tensor = torch.tensor(values, dtype=torch.float64, device=backend_device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def any(self, flag: bool) -> bool:
        """True in every process if it is true in any (e.g. a Ctrl-C seen by one of them)."""
        return self.sum(float(flag))[0] > 0 if self.distributed else flag

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel, whose state_dict has no 'module.' prefix."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
