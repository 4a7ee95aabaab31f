"""Commands that train specs and make data: train, data synth."""

from __future__ import annotations

import argparse
from pathlib import Path

from archspec.errors import UserError

TASK_CHOICES = ("category", "domain")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `train` and `sweep`. Defaults (None here) are TrainConfig's: the study's."""
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="dataset root (PACS layouts); default: the embedded synthetic set",
    )
    parser.add_argument("--epochs", type=int, help="epochs to train (default 100)")
    parser.add_argument("--batch-size", type=int, help="images per step (default 128)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--weight-decay", type=float, help="Adam weight decay (default 0)")
    parser.add_argument("--seed", type=int, help="seeds weights, shuffling, dropout, split")
    parser.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--workers", type=int, help="threads decoding images (default 2)")
    parser.add_argument(
        "--holdout-domain",
        metavar="NAME",
        help="train on the other domains, validate on this one (category task)",
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        help="share held out for validation when the data has no split (0.2)",
    )
    parser.add_argument(
        "--skip-bad-images",
        action="store_true",
        default=None,
        help="train without unreadable images instead of stopping",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to RUN_DIR/tensorboard/ (needs archspec[tensorboard])",
    )


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
    )
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.data is not None:
        given["data"] = str(args.data)
    for name in ("epochs", "batch_size", "workers"):
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
        "--task", choices=TASK_CHOICES, help="the label to predict (required unless --resume)"
    )
    add_training_options(p)
    p.add_argument("--out", type=Path, default=Path("runs"), help="parent folder of runs")
    p.add_argument("--name", help="run directory name (default <spec>-<task>)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last.pt (--epochs may extend it)",
    )
    p.set_defaults(handler=train_command)

    p = subparsers.add_parser("data", help="datasets: write the embedded synthetic set")
    data_commands = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = data_commands.add_parser("synth", help="write the synthetic multi-domain dataset")
    s.add_argument("dir", type=Path, help="where to write it (an empty or new folder)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--train-per-class", type=int, default=40, help="training images per (domain, category)"
    )
    s.add_argument("--val-per-class", type=int, default=10)
    s.add_argument("--size", type=int, default=227, help="image side in pixels")
    s.set_defaults(handler=synth_command)


def train_command(args: argparse.Namespace) -> int:
    from runner.checkpoint import find_checkpoint, load_checkpoint
    from runner.config import TrainConfig
    from runner.train import train_run

    given = training_overrides(args)
    if args.resume is not None:
        run_config = load_checkpoint(find_checkpoint(args.resume, "last.pt")).config
        task = args.task or run_config["task"]
        given.setdefault("epochs", run_config["epochs"])
    elif args.task is None:
        raise UserError("--task is required: --task category or --task domain")
    else:
        task = args.task
    config = TrainConfig(spec=str(args.spec), task=task, out=str(args.out), name=args.name, **given)
    if args.tensorboard:
        from runner.tensorboard import require_tensorboard

        require_tensorboard()
    train_run(config, resume=args.resume, progress=not args.quiet, tensorboard=args.tensorboard)
    return 0


def synth_command(args: argparse.Namespace) -> int:
    from runner.data import write_synthetic

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
