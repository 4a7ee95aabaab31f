"""Commands that train specs and make data: train, data synth."""

from __future__ import annotations

import argparse
from pathlib import Path

from archspec.cli.spec_commands import add_set_option
from archspec.errors import UserError
from archspec.io import check_writable_folder

TASK_CHOICES = ("category", "domain")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `train` and `sweep`. Defaults (None here) are TrainConfig's: the study's."""
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="dataset root (PACS layouts) (default: the embedded synthetic set)",
    )
    parser.add_argument("--epochs", type=int, help="epochs to train (default: 100)")
    parser.add_argument("--batch-size", type=int, help="images per step (default: 128)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default: 1e-3)")
    parser.add_argument("--weight-decay", type=float, help="Adam weight decay (default: 0)")
    parser.add_argument(
        "--seed", type=int, help="seeds weights, shuffling, dropout, split (default: 0)"
    )
    parser.add_argument(
        "--device",
        help="cpu, cuda, cuda:N, mps, or auto: cuda, else mps, else cpu (default: auto)",
    )
    parser.add_argument("--workers", type=int, help="threads decoding images (default: 2)")
    parser.add_argument(
        "--holdout-domain",
        metavar="NAME",
        help="train on the other domains, validate on this one (category task) "
        "(default: none, validate on the data's own split)",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        help="share held out for validation when the data has no split (default: 0.2)",
    )
    parser.add_argument(
        "--skip-bad-images",
        action="store_true",
        default=None,
        help="train without unreadable images instead of stopping",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp16", "fp32"),
        help="auto: bf16 on a CUDA GPU that has it, else fp32; fp16 needs CUDA (default: auto)",
    )
    parser.add_argument(
        "--memory-format",
        choices=("auto", "channels_last", "contiguous"),
        help="auto: the faster of the two for this model, timed at the start (default: auto)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        default=None,
        help="deterministic GPU kernels: a resumed GPU run is bit-identical (somewhat slower)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="write last.pt every N epochs, in the background (default: 1)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (default: bars only when standard error is a terminal)",
    )
    add_set_option(parser)


def training_overrides(args: argparse.Namespace) -> dict:
    """The training flags the user gave, checked; TrainConfig supplies the rest."""
    names = (
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "seed",
        "device",
        "workers",
        "holdout_domain",
        "val_fraction",
        "skip_bad_images",
        "precision",
        "memory_format",
        "deterministic",
        "checkpoint_every",
    )
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.data is not None:
        given["data"] = str(args.data)
    if args.set:
        given["spec_set"] = tuple(args.set)
    for name in ("epochs", "batch_size", "workers", "checkpoint_every"):
        if name in given and given[name] < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {given[name]}")
    for name in ("lr", "weight_decay"):
        if name in given and given[name] < 0:
            raise UserError(f"--{name.replace('_', '-')} must not be negative")
    if "val_fraction" in given and not 0 < given["val_fraction"] < 1:
        raise UserError("--val-fraction must be between 0 and 1, e.g. 0.2")
    return given


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a spec for the category or domain task")
    p.add_argument("spec", type=Path, help="a spec file, e.g. architectures/alexnet.yaml")
    p.add_argument(
        "--task",
        choices=TASK_CHOICES,
        help="the label to predict (no default: required unless --resume, which takes the run's)",
    )
    add_training_options(p)
    p.add_argument("--out", type=Path, default=Path("runs"), help="parent folder of runs")
    p.add_argument(
        "--name", help="run directory name (default: <spec>-<task>; -2, -3, ... added if taken)"
    )
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last.pt (--epochs may extend it) "
        "(default: start a new run)",
    )
    p.set_defaults(handler=train_command)

    p = subparsers.add_parser("data", help="datasets: write the embedded synthetic set")
    data_commands = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = data_commands.add_parser("synth", help="write the synthetic multi-domain dataset")
    s.add_argument("dir", type=Path, help="where to write it (an empty or new folder)")
    s.add_argument("--seed", type=int, default=0, help="seeds the drawing")
    s.add_argument(
        "--train-per-class", type=int, default=40, help="training images per (domain, category)"
    )
    s.add_argument(
        "--val-per-class", type=int, default=10, help="validation images per (domain, category)"
    )
    s.add_argument("--size", type=int, default=227, help="image side in pixels")
    s.set_defaults(handler=synth_command)


def train_command(args: argparse.Namespace) -> int:
    from archspec.cli.progress import show_progress
    from runner.config import TrainConfig
    from runner.rundir import check_out_dir, check_run_name
    from runner.train import train_run

    given = training_overrides(args)
    if args.resume is not None:
        # The run's own task and --set changes unless given; other settings are checked
        # against the run's.
        stored = _run_settings(args.resume)
        task = args.task or str(stored["task"])
        given.setdefault("spec_set", tuple(stored.get("spec_set") or ()))  # as it was trained
    elif args.task is None:
        raise UserError("--task is required: --task category or --task domain")
    else:
        task = args.task
        check_out_dir(args.out)  # before the data is read: decoding it can take minutes
        if args.name is not None:
            check_run_name(args.name)
    config = TrainConfig(spec=str(args.spec), task=task, out=str(args.out), name=args.name, **given)
    explicit = set(given) | {n for n in ("task", "name") if getattr(args, n) is not None}
    train_run(config, resume=args.resume, progress=show_progress(args.quiet), given=explicit)
    return 0


def _run_settings(run: Path) -> dict:
    """The settings of the run in `run` (a run directory or its last.pt): its config.yaml, or
    else the copy its last.pt holds."""
    import yaml

    from runner.checkpoint import find_checkpoint, load_checkpoint

    checkpoint = find_checkpoint(run, "last.pt")
    stored = checkpoint.parent / "config.yaml"
    try:
        settings = yaml.safe_load(stored.read_text())
        if isinstance(settings, dict) and "task" in settings:
            return settings
    except (OSError, yaml.YAMLError):
        pass
    return load_checkpoint(checkpoint).config


def synth_command(args: argparse.Namespace) -> int:
    from runner.data import write_synthetic

    check_writable_folder(args.dir, "DIR", "the dataset")
    for name in ("train_per_class", "val_per_class", "size"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    root = write_synthetic(
        args.dir,
        seed=args.seed,
        train_per_class=args.train_per_class,
        val_per_class=args.val_per_class,
        size=args.size,
    )
    print(f"wrote the synthetic dataset to {root}")
    return 0
