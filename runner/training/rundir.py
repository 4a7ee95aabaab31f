"""The run directory: one folder per run, holding all that is needed to resume and inspect it.

- config.yaml: the run's settings (TrainConfig); spec.yaml: the spec, as plain data
- metrics.csv: one row per epoch; best.pt: best validation accuracy; last.pt: the latest state
- summary.json: written once all epochs have finished (a sweep skips such runs)
- curves.png, confusion.png, filters/: figures
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from archspec.errors import UserError
from archspec.io import check_writable_folder, write_text_atomic

METRICS_FIELDS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",  # the held-out domain's, with --holdout-domain; never used to choose
    "test_accuracy",
    "lr",
    "seconds",
    "images_per_second",
)


# What a run directory holds of its own: files no other command may overwrite.
RUN_FILES = frozenset(
    {
        "config.yaml",
        "spec.yaml",
        "metrics.csv",
        "summary.json",
        "best.pt",
        "last.pt",
        "curves.png",
        "confusion.png",
    }
)


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    @property
    def last(self) -> Path:
        return self.path / "last.pt"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def finished(self) -> bool:
        return self.summary.is_file()

    def write_yaml(self, name: str, data: dict[str, Any]) -> None:
        write_text_atomic(self.path / name, yaml.safe_dump(data, sort_keys=False))

    def write_summary(self, data: dict[str, Any]) -> None:
        write_text_atomic(self.summary, json.dumps(data, indent=2) + "\n")

    def read_summary(self) -> dict[str, Any]:
        return json.loads(self.summary.read_text())

    def read_metrics(self) -> list[dict[str, str]]:
        if not self.metrics.is_file():
            return []
        with self.metrics.open(newline="") as f:
            return list(csv.DictReader(f))

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Rewrite the whole file: it is small, and a rewrite keeps it consistent with last.pt."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=METRICS_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.metrics, buffer.getvalue())


def default_run_name(spec_path: str, task: str, holdout_domain: str | None) -> str:
    name = f"{Path(spec_path).stem}-{task}"
    return f"{name}-holdout-{holdout_domain}" if holdout_domain else name


def check_out_dir(out: Path) -> None:
    """Refuse an `out` that is a file, lies under a file, or cannot be written, before any work.

    Creates nothing: the nearest existing folder on the way to `out` is what must be writable.
    """
    check_writable_folder(out, "--out", "the run directories")


def check_run_name(name: str) -> None:
    """A run's name is one folder name: `a/b` or `..` would put the run outside `--out`."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        raise UserError(
            f"--name {name!r} is not a folder name; give a name without / (the run goes in "
            "--out), e.g. --name alexnet-lr1e-4"
        )


def new_run_dir(out: Path, name: str) -> RunDir:
    """A fresh folder `out/name`, or `out/name-2`, ... : never overwrite an earlier run.

    mkdir itself claims the name (it fails if the folder exists), so two runs started at once
    with the same name get two folders: there is no gap between looking and taking.
    """
    out = Path(out)
    check_run_name(name)
    check_out_dir(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            candidate = out / (name if n == 1 else f"{name}-{n}")
            try:
                candidate.mkdir()
            except FileExistsError:
                n += 1
                continue
            return RunDir(candidate)
    except OSError as e:  # what os.access cannot foresee (e.g. root on some network mounts)
        raise UserError(
            f"--out {out}: cannot create a run directory there ({e.strerror or e}); "
            "give a folder you can write to"
        ) from None
