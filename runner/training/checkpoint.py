"""Checkpoints: everything needed to resume, evaluate or visualize a run, as plain data + tensors.

Written atomically (a temporary file, then a rename) so an interrupted write never destroys the
previous checkpoint, and read with `weights_only=True` so a checkpoint can never run code.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch
import yaml

from archspec.compiler import SpecModel, compile_spec
from archspec.errors import SpecError, UserError
from archspec.io import write_atomic
from archspec.shapes import resolve
from archspec.spec import Spec, spec_from_data
from runner.training import hooks

FORMAT = "archspec-checkpoint"
VERSION = 1


class CheckpointError(UserError):
    """A file that is missing, unreadable, or not one of our checkpoints."""


@dataclass
class Checkpoint:
    """A loaded checkpoint. `state` holds the resumable training state (optimizer, RNG, ...)."""

    path: Path
    spec: Spec
    task: str
    labels: tuple[str, ...]
    model_state: dict[str, torch.Tensor]
    config: dict[str, Any]
    epoch: int  # epochs completed
    state: dict[str, Any]

    def build_model(self) -> SpecModel:
        """The model with the checkpoint's weights, on the CPU, in eval mode."""
        model = compile_spec(resolve(self.spec, len(self.labels)))
        model.load_state_dict(self.model_state)
        return model.eval()


def save_checkpoint(
    path: Path,
    *,
    spec: Spec,
    task: str,
    labels: tuple[str, ...] | list[str],
    model_state: dict[str, torch.Tensor],
    config: dict[str, Any],
    epoch: int,
    state: dict[str, Any] | None = None,
) -> None:
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "spec": spec.to_data(),
        "task": task,
        "labels": list(labels),
        "model": model_state,
        "config": config,
        "epoch": epoch,
        "state": state or {},
    }
    path = Path(path)
    write_atomic(path, lambda f: _torch_save(payload, hooks.checkpoint_file(path.name, f)))


def _torch_save(payload: dict[str, Any], f: IO[bytes]) -> None:
    """torch.save, raising a failed write as itself: torch turns it into a RuntimeError
    ("unexpected pos"), which would hide a full disk."""
    target = _KeepsWriteError(f)
    try:
        torch.save(payload, target)
    except RuntimeError:
        if target.error is not None:
            raise target.error from None
        raise


class _KeepsWriteError:
    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.error = f, None

    def write(self, data: bytes) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)


def remove_partial_writes(run: Path) -> None:
    """Delete temporary files of checkpoint writes that a killed process left behind."""
    for partial in Path(run).glob(".*.pt.*.tmp"):
        partial.unlink(missing_ok=True)


def find_checkpoint(run_or_file: Path, name: str = "best.pt") -> Path:
    """A run directory means its `name` checkpoint; a file means itself."""
    path = Path(run_or_file)
    if path.is_dir():
        candidate = path / name
        if not candidate.is_file():
            raise CheckpointError(_missing_checkpoint(path, name))
        return candidate
    if not path.exists():
        raise CheckpointError(f"{path} does not exist: give a run directory or a .pt checkpoint")
    return path


def _missing_checkpoint(run: Path, name: str) -> str:
    found = sorted(p.name for p in run.glob("*.pt"))
    if name == "best.pt" and "last.pt" in found:
        # A run stopped inside its first epoch: no epoch was validated, so there is no best
        # model yet, but last.pt holds the weights it stopped with.
        return (
            f"{run} has no best.pt: the run stopped before its first epoch ended, so no epoch "
            f"was validated yet. Its last.pt holds the weights it stopped with: give "
            f"{run / 'last.pt'} to use those, or finish the run with "
            f"`archspec train {_spec_of(run)} --resume {run}`"
        )
    others = [f for f in found if f != name]
    if name == "last.pt":  # resuming: best.pt holds no optimizer state to continue from
        return f"{run} has no last.pt to resume from: is it a run directory of `archspec train`?"
    if others:
        listed = ", ".join(str(run / f) for f in others)
        return f"{run} has no {name}; give one of its checkpoints instead: {listed}"
    return f"{run} has no {name}: is it a run directory of `archspec train`?"


def _spec_of(run: Path) -> str:
    """The spec path the run's config.yaml records, for a command to paste; else SPEC."""
    try:
        config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return "SPEC"
    spec = config.get("spec") if isinstance(config, dict) else None
    return spec if isinstance(spec, str) and spec else "SPEC"


def _exported_model_kind(path: Path) -> str | None:
    """Which kind of exported model `path` is ("ONNX", "TorchScript"), or None."""
    if path.suffix.lower() == ".onnx":
        return "ONNX"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
    # torch.jit.save writes code/ and constants.pkl; torch.save writes neither.
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "TorchScript"
    return None


def load_failure(error: Exception) -> str:
    """Why torch.load(weights_only=True) refused a file, in one line for a user. torch's own first
    line may advise weights_only=False, i.e. running the file's code: never repeat that."""
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    if "weights_only" in text or "weights only" in text.lower():
        return "not a file torch.save wrote with plain tensors and data"
    return first_line


def load_checkpoint(path: Path) -> Checkpoint:
    path = Path(path)
    if path.is_file() and (kind := _exported_model_kind(path)):
        raise CheckpointError(
            f"{path} is an exported {kind} model, which holds no training state; this command "
            "reads a run directory or its best.pt / last.pt checkpoint (run the exported model "
            "with its own runtime instead)"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a directory, not a checkpoint file") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(
            f"{path} is not a readable archspec checkpoint ({load_failure(e)}); "
            "give best.pt or last.pt from a run directory"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not an archspec checkpoint; "
            "give best.pt or last.pt from a run directory of `archspec train`"
        )
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path} is checkpoint format version {payload.get('version')}, this archspec reads "
            f"version {VERSION}"
        )
    try:
        spec = spec_from_data(payload["spec"], source=f"{path} (stored spec)")
    except SpecError as e:
        raise CheckpointError(f"the spec stored in {path} is not valid:\n{e}") from None
    return Checkpoint(
        path=path,
        spec=spec,
        task=payload["task"],
        labels=tuple(payload["labels"]),
        model_state=payload["model"],
        config=payload["config"],
        epoch=int(payload["epoch"]),
        state=payload["state"],
    )
