"""Commands on trained runs: visualize, compare, and sweep (the whole study, one report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from archspec.catalog import spec_path
from archspec.errors import UserError
from archspec.io import check_writable_folder
from archspec.text import plural
from archspec_cli.run_commands import TASK_CHOICES, add_training_options, training_overrides


def add_grid_options(parser: argparse.ArgumentParser) -> None:
    """How much of each layer's kernel grid a figure shows."""
    parser.add_argument(
        "--max-in", type=int, default=12, metavar="N", help="input channels shown (rows)"
    )
    parser.add_argument(
        "--max-out", type=int, default=12, metavar="N", help="output channels shown (columns)"
    )


def add_study_options(parser: argparse.ArgumentParser) -> None:
    """The axes a sweep adds to spec x task: seeds and grids over the spec language."""
    g = parser.add_argument_group("seeds and grids (default: one run per spec and task)")
    g.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="N|SEED",
        help="train every spec and task once per seed: --seeds 3 for seeds 0, 1, 2, or the "
        "seeds themselves, --seeds 0 4 7; runs are named -seed<N>, and the report gives mean "
        "± standard error and paired differences (default: one run, of --seed)",
    )
    g.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="one variant of every spec per value, made with --set PATH=VALUE in memory; "
        "repeatable, for every combination (default: none)",
    )


def add_launch_options(parser: argparse.ArgumentParser) -> None:
    """How the runs are spread: default one after another in this process."""
    g = parser.add_argument_group("launchers (default: one run after another, here)")
    g.add_argument(
        "--launcher",
        choices=("local", "slurm"),
        help="local: --jobs processes on this machine; slurm: one SLURM job per run (submitit) "
        "(default: none, one run after another in this process)",
    )
    g.add_argument("--jobs", type=int, metavar="N", help="local: runs at once (default: 1)")
    g.add_argument(
        "--devices",
        metavar="LIST",
        help="local: devices the processes take in turn, e.g. cuda:0,cuda:1 (default: every "
        "GPU, else cpu)",
    )
    g.add_argument("--partition", help="slurm: the partition to submit to (default: the cluster's)")
    g.add_argument(
        "--time",
        metavar="LIMIT",
        help="slurm: each job's time limit, minutes or H:MM:SS (default: 24:00:00)",
    )
    g.add_argument("--gpus-per-job", type=int, metavar="N", help="slurm: GPUs per job (default: 1)")
    g.add_argument(
        "--cpus-per-job", type=int, metavar="N", help="slurm: CPUs per job (default: the cluster's)"
    )
    g.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="slurm: an extra sbatch option, e.g. --sbatch account=vision "
        "(repeatable; default: none)",
    )
    g.add_argument(
        "--no-wait",
        action="store_true",
        help="slurm: return once the jobs are submitted; run the same sweep again for the report",
    )


def launch_from(args: argparse.Namespace):
    """The Launch the flags ask for, every flag checked against its launcher."""
    from runner.launch import Launch, SlurmOptions
    from runner.launch.options import parse_minutes, parse_sbatch

    launcher = args.launcher
    if launcher is None and (args.jobs is not None or args.devices is not None):
        launcher = "local"
    local_only = {"--jobs": args.jobs, "--devices": args.devices}
    slurm_only = {
        "--partition": args.partition,
        "--time": args.time,
        "--gpus-per-job": args.gpus_per_job,
        "--cpus-per-job": args.cpus_per_job,
        "--sbatch": args.sbatch or None,
    }
    for wanted, flags in (("local", local_only), ("slurm", slurm_only)):
        given = [flag for flag, value in flags.items() if value is not None]
        if given and launcher != wanted:
            raise UserError(f"{', '.join(given)} only go with --launcher {wanted}")
    devices = tuple(d.strip() for d in (args.devices or "").split(",") if d.strip())
    if args.devices is not None and not devices:
        raise UserError("--devices is empty: name devices as cuda:0,cuda:1 or cpu")
    if args.cpus_per_job is not None and args.cpus_per_job < 1:
        raise UserError(f"--cpus-per-job must be at least 1, got {args.cpus_per_job}")
    slurm = SlurmOptions(
        partition=args.partition,
        time_min=parse_minutes(args.time) if args.time else SlurmOptions.time_min,
        gpus_per_job=1 if args.gpus_per_job is None else args.gpus_per_job,
        cpus_per_job=args.cpus_per_job,
        sbatch=parse_sbatch(args.sbatch),
    )
    jobs = args.jobs if args.jobs is not None else max(1, len(devices))
    return Launch(launcher, jobs, devices, slurm, wait=not args.no_wait)


# Long by nature: one add_parser and its flags per command, in the order `--help` lists them.
def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "visualize",
        help="draw the learned filters of every conv layer of a run (and its learning curves)",
    )
    p.add_argument(
        "run",
        type=Path,
        metavar="RUN_DIR|CHECKPOINT",
        help="a run directory (its best.pt) or a .pt",
    )
    p.add_argument(
        "--layers",
        metavar="NAMES",
        help="comma-separated conv layers, e.g. Conv2d-1,Conv2d-4 (default: all)",
    )
    add_grid_options(p)
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where the PNGs go (default: RUN_DIR/filters/; beside a checkpoint file: "
        "filters/ for best.pt, filters-<stem>/ otherwise)",
    )
    p.set_defaults(handler=visualize_command)

    p = subparsers.add_parser(
        "compare",
        help="compare two runs (e.g. category vs domain): filter by filter, and by linear CKA "
        "of every conv layer's activations",
    )
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="run directory or checkpoint")
    p.add_argument("run_b", type=Path, metavar="RUN_B", help="run directory or checkpoint")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where comparison.md and the figures go (default: compare-<A>-vs-<B>/ in the "
        "folder holding RUN_A)",
    )
    p.add_argument(
        "--images",
        type=int,
        metavar="N",
        help="measure CKA on N of the validation images (default: all of them)",
    )
    p.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="take the validation images from DIR (default: the data RUN_A was trained on)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="RUN",
        help="another run of RUN_A's spec and task (e.g. another seed) to read CKA against "
        "(default: RUN_A's own starting weights)",
    )
    p.add_argument("--device", default="cpu", help="where CKA runs the models: cpu (default), "
                   "cuda, cuda:N, mps or auto")  # fmt: skip
    add_grid_options(p)
    p.set_defaults(handler=compare_command)

    p = subparsers.add_parser(
        "sweep",
        help="train every spec for every task (resuming an interrupted sweep), then write a report",
    )
    p.add_argument(
        "specs", type=spec_path, nargs="+", metavar="SPEC", help="spec files or shipped names"
    )
    p.add_argument(
        "--task",
        nargs="+",
        choices=TASK_CHOICES,
        default=list(TASK_CHOICES),
        help="tasks to train each spec for",
    )
    add_training_options(p)
    add_study_options(p)
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/sweep"),
        metavar="DIR",
        help="runs go to DIR/<spec stem>-<task>/, the report to DIR/report.md",
    )
    add_launch_options(p)
    p.set_defaults(handler=sweep_command)

    p = subparsers.add_parser(
        "report",
        help="write one report of the finished runs of one or more sweep folders, refusing runs "
        "trained on other data, splits or settings",
    )
    p.add_argument("dirs", type=Path, nargs="+", metavar="DIR", help="sweep folders (their --out)")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where report.md and its figures go (default: DIR itself when there is one; "
        "required with several, so no sweep's own report is overwritten)",
    )
    p.set_defaults(handler=report_command)


def visualize_command(args: argparse.Namespace) -> int:
    from runner.visualize import parse_layer_names, visualize_run

    if args.out is not None:
        check_writable_folder(args.out, "--out", "the figures")
    result = visualize_run(
        args.run, args.out, parse_layer_names(args.layers), args.max_in, args.max_out
    )
    if result.figures:
        print(f"filters of {result.checkpoint}:")
        for fig in result.figures:
            print(f"  {fig.path}")
    else:
        print(f"no filters to show: {result.checkpoint} has no Conv2d layer")
    if result.without_figure is not None:
        print(result.without_figure)
    if result.curves is not None:
        print(f"learning curves: {result.curves}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from runner.compare import compare_runs
    from runner.training.device import pick_device

    if args.out is not None:
        check_writable_folder(args.out, "--out", "the comparison")
    result = compare_runs(
        args.run_a,
        args.run_b,
        args.out,
        args.max_in,
        args.max_out,
        images=args.images,
        data=args.data,
        baseline=args.baseline,
        device=pick_device(args.device),
    )
    c = result.comparison
    print(f"A ({c.a.label}): {c.a.describe()}")
    print(f"B ({c.b.label}): {c.b.describe()}")
    print(f"start: {c.start}")
    print()
    print(c.table())
    print()
    print(c.reading())
    print()
    figures = plural(len(result.figures), "filter figure")
    print(f"wrote {result.markdown}, {result.heatmap} and {figures}")
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    from archspec_cli.progress import show_progress
    from runner.study.grid import parse_grid
    from runner.study.sweep import parse_seeds, run_sweep
    from runner.training.rundir import check_out_dir

    check_out_dir(args.out)  # before the data is read: decoding it can take minutes
    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    result = run_sweep(
        args.specs,
        args.task,
        args.out,
        training_overrides(args),
        launch=launch_from(args),
        progress=show_progress(args.quiet),
        tensorboard=args.tensorboard,
        seeds=seeds,
        grid=parse_grid(args.grid),
    )
    if result.report is not None:
        print(f"report: {result.report}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    from runner.study.merge import read_runs
    from runner.study.report import write_report

    if args.out is None and len(args.dirs) > 1:
        raise UserError(
            f"{len(args.dirs)} sweep folders make one report: give --out DIR for it, e.g. "
            "--out runs/merged"
        )
    out = args.out if args.out is not None else args.dirs[0]
    check_writable_folder(out, "--out", "the report")
    runs = read_runs(args.dirs)
    Path(out).mkdir(parents=True, exist_ok=True)
    print(f"report: {write_report(out, runs)}")
    return 0
