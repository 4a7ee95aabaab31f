"""`archspec cache info|clear`: what archspec keeps on disk, and emptying it."""

from __future__ import annotations

import argparse

from archspec.errors import UserError
from archspec.text import plural

KINDS = ("datasets", "decoded")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cache",
        help="show or empty the caches (embedded datasets, decoded images) under $ARCHSPEC_CACHE",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="where the caches are and how big")
    info.set_defaults(handler=info_command)
    clear = actions.add_parser(
        "clear", help="remove cached files; they are made again when a run needs them"
    )
    clear.add_argument(
        "kinds",
        nargs="*",
        metavar="KIND",
        help="datasets (the embedded synthetic sets) or decoded (decoded images) (default: both)",
    )
    clear.set_defaults(handler=clear_command)


def _entries():
    from runner.data.cache import cache_folder
    from runner.data.cache_root import cache_entries

    return cache_entries(cache_folder())


def info_command(args: argparse.Namespace) -> int:
    from archspec.summary import format_bytes
    from runner.data.cache_root import ROOT_ENV, cache_root

    print(f"cache root: {cache_root()} (${ROOT_ENV} moves it)")
    entries = _entries()
    for entry in entries:
        files = plural(entry.files, "file")
        size = format_bytes(entry.size)
        print(f"  {entry.kind:<8}  {size:>9}  {files:<10}  {entry.what}: {entry.path}")
    total = sum(e.size for e in entries)
    print(f"total: {format_bytes(total)}" if entries else "nothing cached")
    print("pretrained weights (--init torchvision:...) live in torch's hub cache, not here")
    return 0


def clear_command(args: argparse.Namespace) -> int:
    from archspec.summary import format_bytes
    from runner.data.cache_root import clear

    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        raise UserError(
            f"unknown cache {unknown[0]!r}: give {' or '.join(KINDS)}, or nothing for both"
        )
    kinds = set(args.kinds or KINDS)
    chosen = [e for e in _entries() if e.kind in kinds and (e.files or e.kind == "datasets")]
    freed = 0
    for entry in chosen:
        try:
            clear(entry)
        except OSError as e:
            raise UserError(
                f"cannot remove {e.filename or entry.path}: {e.strerror or e}"
            ) from None
        freed += entry.size
        print(f"removed {entry.what}: {entry.path}")
    print(f"freed {format_bytes(freed)}" if chosen else "nothing to remove")
    return 0
