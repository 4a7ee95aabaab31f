"""The task picks the label: an image's category or its domain."""

from collections.abc import Sequence

import torch

from runner.data.errors import DataError
from runner.data.layouts import Dataset, Sample

TASKS = ("category", "domain")


def _check_known(task: str) -> None:
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")


def check_task(dataset: Dataset, task: str) -> None:
    """Refuse a task the dataset cannot answer; call it before training."""
    _check_known(task)
    if task == "domain" and not dataset.domains:
        raise DataError(
            f"--task domain: the data in {dataset.root} has no domains (class folders "
            "<category>/<image>); use --task category, or lay the images out as "
            "<domain>/<category>/<image>"
        )
    names = label_names(dataset, task)
    if len(names) == 1:  # training would reach loss 0 and accuracy 1 at once, and mean nothing
        other = "category" if task == "domain" else "domain"
        raise DataError(
            f"--task {task}: the data in {dataset.root} has a single {task}, {names[0]!r}; "
            f"a classifier needs at least 2: add {task} folders, or use --task {other}"
        )
    if task == "domain" and dataset.holdout_domain is not None:
        # The model would be scored on a domain it never saw a label for: accuracy is 0.
        raise DataError(
            "--holdout-domain makes no sense with --task domain: the held-out domain "
            f"{dataset.holdout_domain!r} would be a class with no training images; "
            "use --task category, or drop --holdout-domain"
        )


def label_names(dataset: Dataset, task: str) -> tuple[str, ...]:
    """The class names of `task`, in label order (sorted folder names)."""
    _check_known(task)
    return dataset.categories if task == "category" else dataset.domains


def labels(samples: Sequence[Sample], names: Sequence[str], task: str) -> torch.Tensor:
    """(N,) int64: each sample's index in `names` for `task`.

    `names` may come from a checkpoint rather than from this dataset, so a sample whose label the
    names lack is a user's mistake (evaluating on other data), not a bug.
    """
    _check_known(task)
    index = {name: i for i, name in enumerate(names)}
    values = [getattr(sample, task) for sample in samples]
    unknown = sorted(set(values) - set(index))
    if unknown:
        raise DataError(
            f"the images have {task} labels {', '.join(unknown)} that are not among "
            f"{', '.join(names)}: use data with the same {task} folders"
        )
    return torch.tensor([index[v] for v in values], dtype=torch.int64)
