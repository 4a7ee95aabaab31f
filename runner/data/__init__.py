"""The runner's data layer: find a dataset's images, pick labels by task, decode them once."""

from runner.data.errors import DataError
from runner.data.images import PACS_MEAN, PACS_STD, Decoded, decode_images, normalize
from runner.data.layouts import Dataset, Sample, discover
from runner.data.synthetic import (
    SYNTHETIC_VERSION,
    default_cache_dir,
    embedded_dataset,
    write_synthetic,
)
from runner.data.tasks import TASKS, check_task, label_names, labels

__all__ = [
    "PACS_MEAN",
    "PACS_STD",
    "SYNTHETIC_VERSION",
    "TASKS",
    "DataError",
    "Dataset",
    "Decoded",
    "Sample",
    "check_task",
    "decode_images",
    "default_cache_dir",
    "discover",
    "embedded_dataset",
    "label_names",
    "labels",
    "normalize",
    "write_synthetic",
]
