"""`archspec draw SPEC --out FILE`: a diagram of the network as SVG, PNG, DOT or Mermaid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from archspec.catalog import spec_path
from archspec.errors import UserError
from archspec.io import nearest_existing, write_atomic, write_text_atomic
from archspec_cli.spec_commands import add_set_option, add_task_options, check_num_classes

if TYPE_CHECKING:
    from archspec.diagram import Diagram, Highlight

TEXT_FORMATS = (".dot", ".md")
RENDERED_FORMATS = (".svg", ".png")
SUPPORTED = ", ".join((*RENDERED_FORMATS, *TEXT_FORMATS))
INSTALL_DOT = (
    "install Graphviz's dot program (apt install graphviz, brew install graphviz or "
    "conda install graphviz)"
)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "draw",
        help="draw the network: layers, blocks, merges and the shape on every edge",
        description="Draw the network as a diagram: one box per layer (kind, key arguments, "
        "output shape), sections and blocks as clusters, a residual's add and a parallel's "
        "concat or sum as merge nodes, every edge labelled with the tensor shape. The --out "
        f"suffix picks the format ({SUPPORTED}); .svg and .png need Graphviz (the `graphviz` "
        "Python package and its `dot` program), .dot and .md (a Mermaid block) need nothing.",
    )
    p.add_argument(
        "spec", type=spec_path, help="a spec file or a shipped spec's name, e.g. alexnet"
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help=f"the file to write ({SUPPORTED})"
    )
    add_task_options(p)
    add_set_option(p)
    p.set_defaults(handler=draw_command)


def draw_command(args: argparse.Namespace) -> int:
    from archspec.diagram import build_diagram
    from archspec.shapes import PLACEHOLDER_NUM_CLASSES, num_classes_for, resolve, uses_num_classes
    from archspec.spec import load_spec

    check_num_classes(args)
    check_out(args.out)
    spec = load_spec(args.spec, args.set)
    num_classes = num_classes_for(args.task, args.num_classes)
    # A diagram is useful before a task is chosen: num_classes stands for a placeholder then.
    resolved = resolve(spec, num_classes, allow_unbound=True)
    if num_classes is None and uses_num_classes(spec):
        print(
            f"archspec draw: num_classes drawn as {PLACEHOLDER_NUM_CLASSES}; pass --task or "
            "--num-classes N for the real count",
            file=sys.stderr,
        )
    write_drawing(args.out, build_diagram(resolved), spec.name)
    print(f"wrote {args.out}")
    return 0


def check_out(out: Path, option: str = "--out") -> None:
    """Refuse, before any work, a file the drawing could not be written to."""
    suffix = out.suffix.lower()
    if suffix not in (*TEXT_FORMATS, *RENDERED_FORMATS):
        raise UserError(f"{option} {out}: unknown format '{out.suffix}'; use one of {SUPPORTED}")
    if out.is_dir():
        raise UserError(f"{option} {out} is a directory; give a file name, e.g. {out / 'net.svg'}")
    blocker = nearest_existing(out.parent)
    if not blocker.is_dir():
        raise UserError(f"{option} {out} lies under {blocker}, which is a file, not a folder")


def write_drawing(
    out: Path, diagram: Diagram, title: str, highlight: Highlight | None = None
) -> None:
    """Write `diagram` to `out` in the format its suffix names (checked by check_out). For .svg
    and .png without Graphviz, the .dot file is written beside it and UserError says how to
    install what is missing."""
    from archspec.diagram import to_dot, to_mermaid

    suffix = out.suffix.lower()
    if suffix == ".md":
        write_text_atomic(out, f"# {title}\n\n" + to_mermaid(diagram, highlight))
        return
    dot = to_dot(diagram, highlight)
    if suffix == ".dot":
        write_text_atomic(out, dot)
        return
    try:
        import graphviz
    except ImportError:
        dot_file = out.with_suffix(".dot")
        write_text_atomic(dot_file, dot)
        raise UserError(
            f"drawing {suffix} needs the graphviz Python package (pip install graphviz, or "
            f"pip install 'archspec-torch[draw]') and its dot program; wrote {dot_file} "
            "instead. .dot and .md need neither."
        ) from None
    try:
        image = graphviz.Source(dot).pipe(format=suffix[1:])
    except graphviz.ExecutableNotFound:
        dot_file = out.with_suffix(".dot")
        write_text_atomic(dot_file, dot)
        raise UserError(
            f"drawing {suffix} needs Graphviz's dot program, which is not installed; wrote "
            f"{dot_file} instead. To draw {out}, {INSTALL_DOT}, then run this again; "
            "or write a .md file instead (a Mermaid diagram, no program needed)."
        ) from None
    except graphviz.CalledProcessError as e:
        raise UserError(f"Graphviz's dot failed on the diagram: {e}") from None
    write_atomic(out, lambda f: f.write(image))
