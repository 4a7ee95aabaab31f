"""The `archspec` command line: thin commands that call the library.

Each command module adds its sub-commands with `add_commands(subparsers)`; a command is a
function taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from archspec.errors import UserError

EXIT_USER_ERROR = 2  # the same code argparse uses for a bad command line


def build_parser() -> argparse.ArgumentParser:
    from archspec.cli import spec_commands

    parser = argparse.ArgumentParser(
        prog="archspec",
        description="Declarative CNN architectures: YAML specs compiled into PyTorch modules, "
        "trained, visualized and compared.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    spec_commands.add_commands(subparsers)
    for module in _runner_command_modules():
        module.add_commands(subparsers)
    return parser


def _runner_command_modules() -> list:
    """Commands that run specs; imported lazily so `archspec build` starts fast."""
    import importlib

    modules = []
    for name in ("run_commands", "study_commands", "deploy_commands"):
        try:
            modules.append(importlib.import_module(f"archspec.cli.{name}"))
        except ModuleNotFoundError as e:
            if e.name != f"archspec.cli.{name}":
                raise
    return modules


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as e:
        print(f"archspec {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"archspec {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `archspec layers | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
