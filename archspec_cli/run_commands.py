"""Commands that train specs and make data: train, data synth."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from archspec.catalog import spec_path
from archspec.errors import UserError
from archspec.io import check_writable_folder
from archspec_cli.spec_commands import add_set_option

TASK_CHOICES = ("category", "domain")


# Long by nature: one add_argument per flag, in the order `--help` lists them.
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
    add_recipe_options(parser)
    parser.add_argument(
        "--seed", type=int, help="seeds weights, shuffling, dropout, split (default: 0)"
    )
    parser.add_argument(
        "--device",
        help="cpu, cuda, cuda:N, mps, or auto: cuda, else mps, else cpu (default: auto)",
    )
    parser.add_argument(
        "--workers", type=int, help="threads decoding images (default: one per core)"
    )
    parser.add_argument(
        "--holdout-domain",
        metavar="NAME",
        help="leave-one-domain-out: train and choose the epoch on the other domains, test on "
        "this one (category task; sweep also takes `all`) (default: none, no test domain)",
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
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="also log to RUN_DIR/tensorboard/ (needs archspec[tensorboard]; default: off)",
    )
    add_set_option(parser)


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """The recipe's flags; a recipe file (--recipe) sets the same fields, the flags win."""
    group = parser.add_argument_group("recipe (defaults: the study's)")
    group.add_argument(
        "--recipe",
        type=Path,
        metavar="FILE",
        help="a recipe YAML file with any of the fields below (default: none, the flags alone)",
    )
    group.add_argument(
        "--optimizer", choices=("adam", "adamw", "sgd"), help="optimizer (default: adam)"
    )
    group.add_argument("--lr", type=float, help="learning rate (default: 1e-3)")
    group.add_argument("--weight-decay", type=float, help="weight decay (default: 0)")
    group.add_argument("--momentum", type=float, help="sgd's momentum (default: 0)")
    group.add_argument(
        "--nesterov", action="store_true", default=None, help="sgd: Nesterov momentum"
    )
    group.add_argument(
        "--schedule",
        choices=("constant", "cosine", "step"),
        help="learning rate per epoch (default: constant)",
    )
    group.add_argument(
        "--warmup-epochs", type=int, help="cosine: epochs of linear warm-up (default: 0)"
    )
    group.add_argument("--step-size", type=int, help="step: epochs between decays (default: 30)")
    group.add_argument("--gamma", type=float, help="step: the decay factor (default: 0.1)")
    group.add_argument("--label-smoothing", type=float, help="(default: 0)")
    group.add_argument(
        "--augment",
        choices=("none", "flip", "domainbed"),
        help="per-image augmentation of the training batches (default: none)",
    )
    group.add_argument(
        "--normalize",
        metavar="NAME|MEAN/STD",
        help="pacs, imagenet, or per-channel values such as 0.5,0.5,0.5/0.25,0.25,0.25 "
        "(default: pacs; imagenet with torchvision weights)",
    )
    group.add_argument(
        "--init",
        metavar="SOURCE",
        help="start from weights: a .pt/.pth/.safetensors file, a checkpoint or run "
        "directory, or torchvision:NAME[:WEIGHTS] (default: none, random weights)",
    )


RECIPE_FLAGS = (
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "nesterov",
    "schedule",
    "warmup_epochs",
    "step_size",
    "gamma",
    "label_smoothing",
    "augment",
    "normalize",
)


def recipe_overrides(args: argparse.Namespace) -> dict:
    """The recipe fields from --recipe and the flags (the flags win), checked together."""
    from runner.training.recipe import check_recipe, load_recipe, parse_normalize_flag

    given = load_recipe(args.recipe) if args.recipe is not None else {}
    for name in RECIPE_FLAGS:
        value = getattr(args, name)
        if value is not None:
            given[name] = parse_normalize_flag(value) if name == "normalize" else value
    source = f"{args.recipe} with the flags" if args.recipe is not None else "the training flags"
    check_recipe(given, source)
    if args.recipe is not None:
        given["recipe"] = str(args.recipe)
    if args.init is not None:
        from runner.training.init import with_model_name

        given["init"] = with_model_name(args.init, getattr(args, "spec", None))
    return given


def training_overrides(args: argparse.Namespace) -> dict:
    """The training flags the user gave, checked; TrainConfig supplies the rest."""
    names = (
        "epochs",
        "batch_size",
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
    given.update(recipe_overrides(args))
    if args.data is not None:
        # Absolute, so that a resume or a sweep continued from another folder (a SLURM job, a
        # new shell) finds the same data; symlinks are kept as the user named them.
        given["data"] = os.path.abspath(args.data)
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
    p.add_argument(
        "spec", type=spec_path, help="a spec file or a shipped spec's name, e.g. alexnet"
    )
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
    from archspec_cli.progress import show_progress
    from runner.training.config import TrainConfig
    from runner.training.rundir import check_out_dir, check_run_name
    from runner.training.train import train_run

    given = training_overrides(args)
    if given.get("holdout_domain") == "all":
        raise UserError(
            "--holdout-domain all trains one run per domain: use archspec sweep SPEC --task "
            "category --holdout-domain all, or name one domain"
        )
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
    if args.tensorboard:
        from runner.training.tensorboard import require_tensorboard

        require_tensorboard()
    explicit = set(given) | {n for n in ("task", "name") if getattr(args, n) is not None}
    train_run(
        config,
        resume=args.resume,
        progress=show_progress(args.quiet),
        given=explicit,
        tensorboard=args.tensorboard,
    )
    return 0


def _run_settings(run: Path) -> dict:
    """The settings of the run in `run` (a run directory or its last.pt): its config.yaml, or
    else the copy its last.pt holds."""
    import yaml

    from runner.training.checkpoint import find_checkpoint, load_checkpoint

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
