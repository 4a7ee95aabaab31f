"""`attention-distance.png` of a checkpoint: measured on the run's validation images, a dot per
head, a column per self-attention layer in model order, and the distance uniform attention
would give as a dashed mark per layer; with the sentence that says what it shows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archspec.errors import UserError
from archspec.shapes import resolve
from archspec.text import layer_names
from runner.figures.figure import new_figure, save_figure
from runner.training.checkpoint import Checkpoint
from runner.visualize.attention import AttentionDistance, attention_distances, attention_layers
from runner.visualize.filters import FilterFigure, figure_title

ATTENTION_FILE = "attention-distance.png"


def plot_attention_distance(
    distances: Sequence[AttentionDistance], title: str, images: int, path: Path
) -> Path:
    fig = new_figure(max(4.5, 1.8 + 0.45 * len(distances)), 4.2)
    ax = fig.subplots()
    for x, d in enumerate(distances):
        ax.scatter([x] * len(d.heads), d.heads, s=16, color="#1f77b4", alpha=0.8, zorder=3)
        ax.hlines(d.uniform, x - 0.35, x + 0.35, colors="#888888", linestyles="dashed")
    ax.set_xticks(range(len(distances)), [d.layer for d in distances], rotation=45, ha="right")
    highest = max(max(d.uniform, *d.heads) for d in distances)
    ax.set_ylim(0, highest * 1.1)
    ax.set_ylabel("mean attention distance (input pixels)")
    ax.set_title(
        f"{title}: how far each head looks ({images} images)\n"
        "dots: heads; dashes: every patch weighted alike",
        fontsize=9,
    )
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


# Images the attention distance is averaged over, the same ones in every run of a dataset. Two
# sets of 64 gave every head of the README's ViTTiny within 2 pixels; a ViT-B/16 at 224x224
# takes 37 s on a 2-core CPU, decoding included.
ATTENTION_IMAGES = 64


def attention_figure(ckpt: Checkpoint, out: Path) -> tuple[FilterFigure | None, str | None]:
    """`attention-distance.png` for the self-attention layers whose tokens are a patch grid,
    measured on the run's validation images, and the sentence that says what it shows (or why
    there is none); (None, None) for a model without self-attention."""
    from runner.data.validation import ImageSet, validation_images
    from runner.training.recipe import run_normalization

    resolved = resolve(ckpt.spec, len(ckpt.labels))
    layers, other = attention_layers(resolved)
    if not layers:
        if not other:
            return None, None
        names = layer_names(other)
        return (
            None,
            f"{names}: no attention-distance figure (the tokens are not one map's patches).",
        )
    config = ckpt.config if isinstance(ckpt.config, dict) else {}
    try:
        images = validation_images(config, None, None)
    except UserError as e:  # the run's data moved or went: the filters are drawn all the same
        return None, f"No attention-distance figure: {e}"
    channels, size = int(ckpt.spec.input_shape[0]), tuple(ckpt.spec.input_shape[1:])
    chosen = ImageSet(images.paths[:ATTENTION_IMAGES], images.what)
    mean, std = run_normalization(config, channels)
    decoded = chosen.decoded(size, channels)
    distances = attention_distances(ckpt.build_model(), layers, decoded, mean, std)
    path = plot_attention_distance(
        distances, figure_title(ckpt), len(decoded), out / ATTENTION_FILE
    )
    most = max(len(d.heads) for d in distances)
    figure = FilterFigure("attention distance", "attention", path, (len(distances), most))
    every = [r.name for r in resolved.layers if type(r.layer).attends]
    measured = [d.layer for d in distances]
    if measured != every:
        heads = f"each head of {layer_names(measured)}"
    else:
        heads = "each of its heads" if len(every) == 1 else "each of their heads"
    return figure, (
        f"attention-distance.png shows how far {heads} looks, on {len(decoded)} validation images."
    )
