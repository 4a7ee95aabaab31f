"""The `archspec` command line: thin commands on top of the language (archspec) and the runner.

The top layer: it imports both, and neither imports it.

Each command module adds its sub-commands with `add_commands(subparsers)`; a command is a
function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from archspec.distribution import DISTRIBUTION, clash_message, other_archspec_version
from archspec.errors import UserError
from archspec.version import archspec_version
from archspec_cli.help_format import show_defaults

EXIT_USER_ERROR = 2  # the same code argparse uses for a bad command line


def build_parser() -> argparse.ArgumentParser:
    # Each module imports its heavy dependencies (torch, matplotlib) inside its commands, so
    # building the parser stays fast.
    from archspec_cli import (
        cache_commands,
        deploy_commands,
        draw_command,
        run_commands,
        spec_commands,
        study_commands,
    )

    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Declarative CNN architectures: YAML specs compiled into PyTorch modules, "
        "trained, visualized and compared.",
    )
    parser.add_argument(
        "--version", action="version", version=f"{DISTRIBUTION} {archspec_version()}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        spec_commands,
        draw_command,
        run_commands,
        study_commands,
        deploy_commands,
        cache_commands,
    ):
        module.add_commands(subparsers)
    show_defaults(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    other = other_archspec_version()
    if other is not None:
        print(f"archspec: error: {clash_message(other)}", file=sys.stderr)
        return EXIT_USER_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as e:
        print(f"archspec {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as e:
        # A scheduler's SIGTERM (runner.training.stop.Preempted) carries its own code, 143
        signal_name = getattr(e, "signal_name", None)
        how = f"stopped by {signal_name}" if signal_name else "interrupted"
        print(f"archspec {args.command}: {how}", file=sys.stderr)
        return getattr(e, "exit_code", 130)
    except BrokenPipeError:  # `archspec layers | head`
        return 0
    except OSError as e:
        # The file system refused what a command's own checks did not foresee: a folder that
        # turned read-only, a full disk, a file where a folder belongs. Name it; no traceback.
        where = f"{e.filename}: " if e.filename else ""
        print(f"archspec {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
