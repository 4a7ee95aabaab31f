"""Commands on specs alone: build, validate, expand, diff, layers, schema."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from archspec.catalog import spec_path
from archspec.errors import SpecError, UserError
from archspec.text import plural

if TYPE_CHECKING:
    from archspec.diff import SpecDiff
    from archspec.spec import Spec


def add_task_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--task",
        choices=("domain", "category"),
        help="bind num_classes to the task's class count (PACS: domain 4, category 7) "
        "(default: unbound, so a spec that uses num_classes needs this or --num-classes)",
    )
    group.add_argument(
        "--num-classes", type=int, metavar="N", help="bind num_classes to N (default: unbound)"
    )


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """`--set PATH=VALUE`, repeatable: a quick variant of the spec without writing a file."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="change one value of the spec, e.g. --set features.0.kernel_size=7 or "
        "--set conv1.stride=2 (a layer's id); VALUE is YAML, null removes a field; repeatable "
        "(default: the spec as written)",
    )


# Long by nature: one add_parser and its flags per command, in the order `--help` lists them.
def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build", help="compile a spec and print the model and its per-layer table"
    )
    p.add_argument(
        "spec", type=spec_path, help="a spec file or a shipped spec's name, e.g. alexnet"
    )
    add_task_options(p)
    add_set_option(p)
    p.add_argument("--no-summary", action="store_true", help="print the model only")
    p.set_defaults(handler=build_command)

    p = subparsers.add_parser("validate", help="check spec files and report every problem")
    p.add_argument("specs", type=spec_path, nargs="+", metavar="SPEC")
    add_task_options(p)
    add_set_option(p)
    p.set_defaults(handler=validate_command)

    p = subparsers.add_parser(
        "expand",
        help="print the spec fully resolved: extends applied, blocks and repeats written out, "
        "every inferred size written in",
    )
    p.add_argument(
        "spec", type=spec_path, help="a spec file or a shipped spec's name, e.g. dilation"
    )
    add_task_options(p)
    add_set_option(p)
    p.set_defaults(handler=expand_command)

    p = subparsers.add_parser(
        "diff",
        help="what differs between two specs, layer by layer, then their totals side by side; "
        "exit 0 when equal, 1 when different",
        description="Compare two specs: the layers that change (named Conv2d-1, ReLU-2, ... with "
        "their module paths), then parameters, mult-adds, receptive field and each section's "
        "output side by side. --set changes B, so `archspec diff X X --set ...` shows what a "
        "change does. --draw FILE draws B as `archspec draw` does, its changed layers orange "
        "and its added ones green, with a legend naming the layers removed from A. Exit 0 "
        "when they build the same model, 1 when not, 2 on a mistake.",
    )
    p.add_argument(
        "spec_a", type=spec_path, metavar="A", help="a spec file or a shipped spec's name"
    )
    p.add_argument("spec_b", type=spec_path, metavar="B", help="the spec to compare it with")
    add_task_options(p)
    add_set_option(p)
    p.add_argument("--json", action="store_true", help="print the differences as JSON")
    p.add_argument(
        "--draw",
        type=Path,
        metavar="FILE",
        help="also draw B with what changed against A highlighted (.svg, .png, .dot or .md, as "
        "`archspec draw --out`); written whether the specs differ or not (default: no drawing)",
    )
    p.set_defaults(handler=diff_command)

    p = subparsers.add_parser(
        "models",
        help="list the shipped specs, usable by name anywhere a spec file is, with their cost",
    )
    p.add_argument(
        "--num-classes",
        type=int,
        default=1000,
        metavar="N",
        help="bind num_classes to N for the counts (default: 1000, ImageNet's, as torchvision)",
    )
    p.set_defaults(handler=models_command, task=None)

    p = subparsers.add_parser("layers", help="list the layer kinds a spec may use, with fields")
    p.add_argument("kinds", nargs="*", metavar="KIND", help="only these kinds")
    p.set_defaults(handler=layers_command)

    p = subparsers.add_parser(
        "schema", help="write the JSON Schema of the spec format (for editor completion)"
    )
    p.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    p.set_defaults(handler=schema_command)


def check_num_classes(args: argparse.Namespace) -> None:
    if args.num_classes is not None and args.num_classes < 1:
        raise UserError(f"--num-classes must be at least 1, got {args.num_classes}")


def build_command(args: argparse.Namespace) -> int:
    from archspec.compiler import compile_spec
    from archspec.shapes import num_classes_for, resolve
    from archspec.spec import load_spec
    from archspec.summary import summarize_resolved

    check_num_classes(args)
    spec = load_spec(args.spec, args.set)
    resolved = resolve(spec, num_classes_for(args.task, args.num_classes))
    # On the meta device: the printout needs the modules, not their weights.
    print(compile_spec(resolved, device="meta"))
    if not args.no_summary:
        print()
        print(summarize_resolved(resolved).render())
    return 0


def validate_command(args: argparse.Namespace) -> int:
    from archspec.layers import format_shape
    from archspec.shapes import num_classes_for, resolve, uses_num_classes
    from archspec.spec import load_spec

    check_num_classes(args)
    num_classes = num_classes_for(args.task, args.num_classes)
    failed = 0
    for path in args.specs:
        try:
            resolved = resolve(load_spec(path, args.set), num_classes, allow_unbound=True)
        except SpecError as e:
            failed += 1
            print(e)
            continue
        sizes = ", ".join(
            f"{section} {plural(len(resolved.section_layers(section)), 'layer')}"
            for section in resolved.spec.sections
        )
        unbound = num_classes is None and uses_num_classes(resolved.spec)
        output = "num_classes" if unbound else format_shape(resolved.output_shape)
        print(
            f"{path}: ok ({resolved.spec.name}: {sizes}; "
            f"input {format_shape(resolved.spec.input_shape)}, output {output})"
        )
    if failed:
        raise UserError(f"{failed} of {len(args.specs)} spec files have problems (listed above)")
    return 0


def expand_command(args: argparse.Namespace) -> int:
    from archspec.expanded_spec import expanded_yaml
    from archspec.shapes import num_classes_for
    from archspec.spec import load_spec

    check_num_classes(args)
    spec = load_spec(args.spec, args.set)
    print(expanded_yaml(spec, num_classes_for(args.task, args.num_classes)), end="")
    return 0


def diff_command(args: argparse.Namespace) -> int:
    """Exit 0 when the two specs build the same model, 1 when they differ (as `diff` does)."""
    import dataclasses
    import json

    from archspec.diff import diff_specs
    from archspec.shapes import num_classes_for
    from archspec.spec import load_spec

    check_num_classes(args)
    if args.draw is not None:
        from archspec_cli.draw_command import check_out

        check_out(args.draw, "--draw")
    num_classes = num_classes_for(args.task, args.num_classes)
    # --set applies to B: A is the reference, B the variant tried
    spec_b = load_spec(args.spec_b, args.set)
    result = diff_specs(load_spec(args.spec_a), spec_b, num_classes)
    if args.set:
        sets = " ".join(f"--set {s}" for s in args.set)
        result = dataclasses.replace(result, source_b=f"{result.source_b} {sets}")
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.render(), end="")
    if args.draw is not None:
        _draw_diff(args.draw, result, spec_b, num_classes)
    return 0 if result.equal else 1


def _draw_diff(out: Path, result: SpecDiff, spec_b: Spec, num_classes: int | None) -> None:
    """B's diagram, the layers `result` reports changed or added highlighted; "wrote" goes to
    standard error, so standard output stays the diff (and --json stays JSON)."""
    import sys

    from archspec.diagram import build_diagram, highlight_of
    from archspec.shapes import resolve
    from archspec_cli.draw_command import write_drawing

    resolved = resolve(spec_b, num_classes, allow_unbound=True)  # as diff_specs resolved it
    title = f"{result.b.name}: changes against {result.a.name}"
    write_drawing(out, build_diagram(resolved), title, highlight_of(result))
    print(f"wrote {out}", file=sys.stderr)


def models_command(args: argparse.Namespace) -> int:
    from archspec.catalog import shipped_specs
    from archspec.shapes import resolve
    from archspec.spec import load_spec

    check_num_classes(args)
    rows = [("name", "class", "params", "mult-adds", "input", "description")]
    for name, path in shipped_specs().items():
        resolved = resolve(load_spec(path), args.num_classes)
        spec = resolved.spec
        rows.append(
            (
                name,
                spec.name,
                f"{resolved.total_params / 1e6:.2f} M",
                f"{resolved.total_mult_adds / 1e9:.2f} G",
                "x".join(map(str, spec.input_shape)),
                spec.description or "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        counts = (2, 3)  # right-aligned, like numbers
        cells = [
            c.rjust(w) if i in counts else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join([*cells, row[-1]]).rstrip())
    return 0


def layers_command(args: argparse.Namespace) -> int:
    from archspec.expand import STRUCTURE_FIELDS
    from archspec.layers import KIND_ORIGINS, LAYER_KINDS, suggest_kind

    for kind in args.kinds:
        if kind not in LAYER_KINDS and kind not in STRUCTURE_FIELDS:
            guess = suggest_kind(kind)
            raise UserError(
                f"unknown layer kind '{kind}'" + (f"; did you mean {guess}?" if guess else "")
            )
    for name in args.kinds or sorted(LAYER_KINDS):
        if name in STRUCTURE_FIELDS:
            print(f"{name}  [a block of layers]  {STRUCTURE_FIELDS[name]}")
            continue
        schema = LAYER_KINDS[name]
        doc = (schema.__doc__ or "").strip().splitlines()
        inputs = {
            "spatial": "(C, H, W)",
            "flat": "(F,)",
            "last": "features last: (H, W, C), (N, D) or (F,)",
            "channels_last": "(H, W, C)",
            "tokens": "tokens (N, D)",
            "windows": "windows (G, P, C)",
            "any": "any shape",
        }[schema.accepts]
        origin = KIND_ORIGINS[name]
        origin = origin if origin == "built-in" else f"from {origin}"
        print(f"{name}  [input: {inputs}]  [{origin}]" + (f"  {doc[0]}" if doc else ""))
        for field, info in schema.model_fields.items():
            if info.is_required():
                default = "required"
            elif field == schema.in_size_field:
                print(f"    {field}: inferred (write it only to have it checked)")
                continue
            else:
                default = f"default {info.default!r}"
            described = f" - {info.description}" if info.description else ""
            print(f"    {field}: {default}{described}")
    if not args.kinds:
        for name, described in STRUCTURE_FIELDS.items():
            print(f"{name}  [a block of layers]  {described}")
    return 0


def schema_command(args: argparse.Namespace) -> int:
    from archspec.schema import spec_json_schema_text

    text = spec_json_schema_text()
    if args.out is None:
        print(text, end="")
        return 0
    from archspec.io import nearest_existing, write_text_atomic

    if args.out.is_dir():
        example = args.out / "archspec-spec.schema.json"
        raise UserError(f"--out {args.out} is a directory; give a file name, e.g. {example}")
    blocker = nearest_existing(args.out.parent)
    if not blocker.is_dir():
        raise UserError(f"--out {args.out} lies under {blocker}, which is a file, not a folder")
    try:
        write_text_atomic(args.out, text)
    except OSError as e:  # a parent that is a file, a read-only folder, a full disk
        where = f" ({e.filename})" if e.filename and str(e.filename) != str(args.out) else ""
        raise UserError(f"cannot write --out {args.out}: {e.strerror or e}{where}") from None
    print(f"wrote {args.out}")
    return 0
