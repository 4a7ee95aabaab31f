"""What a training run is asked to do; kept in every run directory and checkpoint as data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    spec: str  # path of the spec file, as given
    task: str  # "category" or "domain": which folder level is the label
    data: str | None = None  # dataset root; None = the embedded synthetic set (no download)
    epochs: int = 100  # the study trained every variant for 100 epochs
    batch_size: int = 128  # the study's batch size
    lr: float = 1e-3  # Adam's default, the study's choice
    weight_decay: float = 0.0  # the study used none
    # The rest of the recipe (runner/training/recipe.py checks it); the defaults are the study's.
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.0  # sgd only
    nesterov: bool = False  # sgd with momentum only
    schedule: str = "constant"  # constant | cosine | step, stepped once per epoch
    warmup_epochs: int = 0  # cosine: a linear ramp over the first epochs
    step_size: int = 30  # step: epochs between decays
    gamma: float = 0.1  # step: the decay factor
    label_smoothing: float = 0.0
    augment: str = "none"  # none | flip | domainbed, per image on the device
    # pacs | imagenet | {mean: [...], std: [...]}; None: pacs, or imagenet for torchvision weights
    normalize: str | dict[str, list[float]] | None = None
    init: str | None = None  # pretrained start: a file or torchvision:NAME[:WEIGHTS]
    recipe: str | None = None  # the recipe file the settings came from, for the record
    seed: int = 0  # seeds weights, shuffling, dropout and the hold-out split
    device: str = "auto"  # auto = cuda, else mps, else cpu
    workers: int | None = None  # threads decoding images (once per data set); None = all cores
    holdout_domain: str | None = None  # leave-one-domain-out: test on this domain only
    val_fraction: float = 0.2  # hold-out share when the data has no split of its own
    skip_bad_images: bool = False  # skip corrupt images instead of stopping before training
    out: str = "runs"  # parent folder of run directories
    name: str | None = None  # run directory name; default <spec stem>-<task>[-holdout-<d>]
    spec_set: tuple[str, ...] = ()  # --set PATH=VALUE changes to the spec; spec.yaml: the result
    # How the steps compute. "auto" is resolved when the run starts and the choice is stored, so
    # a resumed run computes exactly as it began.
    precision: str = "auto"  # auto = bf16 on CUDA where supported, else fp32; bf16, fp16, fp32
    memory_format: str = "auto"  # auto = the faster of the two, timed at start; or as named
    deterministic: bool = False  # deterministic GPU kernels: bit-identical runs, a bit slower
    checkpoint_every: int = 1  # write last.pt every N epochs (in the background)

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
