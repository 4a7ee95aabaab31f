"""The report's "Network diagrams" section: each variant studied as `archspec draw` draws it, a
Mermaid flowchart (GitHub and most Markdown viewers show it as a picture).

Every variant but the base of the "What each variant changes" table has the layers that change
against the base coloured, as `archspec diff BASE SPEC --draw` colours them. A network of more
than MAX_DRAWN_LAYERS layers would be a picture too long to read in the report: it is left out,
and the section gives the `archspec draw` command that draws it to a file instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import yaml

from archspec.diagram import build_diagram, highlight_of, to_mermaid
from archspec.diff import diff_specs
from archspec.shapes import num_classes_for, resolve
from runner.study.plan import SweepRun
from runner.study.variant_table import choose_base

MAX_DRAWN_LAYERS = 150


def diagram_section(firsts: Sequence[SweepRun]) -> list[str]:
    """Markdown lines: a heading, a sentence on the colours, then per variant (its first run) a
    heading and a ```mermaid block, or the command that draws it when it is too large."""
    if not firsts:
        return []
    at = choose_base([(r.spec_path, r.spec) for r in firsts])
    base = firsts[at]
    lines = ["## Network diagrams", ""]
    intro = (
        "Each network as `archspec draw` draws it: every layer with its key arguments and "
        "output shape, every edge with the shape it carries, num_classes bound for the task "
        "of the variant's first run."
    )
    if len(firsts) > 1:
        intro += (
            f" Against {base.label} (`{base.spec_path.as_posix()}`), as `archspec diff --draw` "
            "draws it: the layers that differ are orange, the layers added green, and the "
            "legend names the layers removed."
        )
    lines += [intro, ""]
    for index, run in enumerate(firsts):
        lines += [f"### {run.label}", ""]
        resolved = resolve(run.spec, num_classes_for(run.task))
        if len(resolved.layers) > MAX_DRAWN_LAYERS:
            lines += [
                f"{len(resolved.layers):,} layers, more than a diagram here can show legibly "
                f"({MAX_DRAWN_LAYERS}): left out. Draw it with "
                f"`{draw_command(run)}`.",
                "",
            ]
            continue
        highlight = None if index == at else highlight_of(diff_specs(base.spec, run.spec))
        lines += [to_mermaid(build_diagram(resolved), highlight).rstrip("\n"), ""]
    return lines


def draw_command(run: SweepRun) -> str:
    """The `archspec draw` command that draws `run`'s network, with the --set values it was
    trained with (read back from its config.yaml, else the grid's)."""
    sets = _trained_sets(run)
    words = ["archspec", "draw", run.spec_path.as_posix(), "--out", f"{run.variant}.svg"]
    words += ["--task", run.task]
    for value in sets:
        words += ["--set", value]
    return " ".join(shlex.quote(w) for w in words)


def _trained_sets(run: SweepRun) -> tuple[str, ...]:
    path = Path(run.path) / "config.yaml"
    if path.is_file():
        config = yaml.safe_load(path.read_text()) or {}
        return tuple(config.get("spec_set") or ())
    return run.spec_set
