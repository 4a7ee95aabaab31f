"""How far each attention head looks: the token grid read from the spec, the distance against
a computation by hand, and the figure `visualize` draws."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from archspec.shapes import resolve
from archspec.spec import spec_from_text
from archspec_cli import main
from runner.training.model import seeded_model
from runner.visualize.attention import TokenGrid, attention_distances, attention_layers
from tests.runner.helpers import write_checkpoint
from tests.runner.study_data import small_cache, small_embedded  # noqa: F401 (fixtures)
from tests.specs import TINY_VIT


def test_the_tokens_of_a_vit_are_its_patch_grid_after_the_class_token() -> None:
    (layer,), without = attention_layers(resolve(spec_from_text(TINY_VIT), 3))
    assert without == []
    assert (layer.name, layer.path, layer.heads) == (
        "MultiheadAttention-7",
        "encoder.layer.self_attention",
        2,
    )
    assert layer.grid == TokenGrid(4, 4, 1, (4, 4))  # 16x16 input, patches of 4x4: stride 4
    no_class_token = TINY_VIT.replace("  class_token: ClassToken\n", "")
    (layer,), _ = attention_layers(resolve(spec_from_text(no_class_token), 3))
    assert layer.grid.front == 0


def test_the_distance_is_the_attention_weighted_pixel_distance_between_patches() -> None:
    model = seeded_model(spec_from_text(TINY_VIT), 3, 0).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # tokens that differ, so the weights are far from uniform
        model.class_token.copy_(torch.randn(1, 1, 8, generator=generator))
        model.encoder.pos_embedding.copy_(torch.randn(1, 17, 8, generator=generator) * 3)
        model.encoder.layer.self_attention.in_proj_weight.mul_(4)
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8, generator=generator)
    (layer,), _ = attention_layers(resolve(spec_from_text(TINY_VIT), 3))
    (measured,) = attention_distances(model, [layer], images, (0.5,) * 3, (0.25,) * 3)

    x = (images.float() / 255 - 0.5) / 0.25  # by hand, as ViT's forward runs
    tokens = model.conv_proj(x).flatten(2).permute(0, 2, 1)
    tokens = torch.cat([model.class_token.expand(5, -1, -1), tokens], 1)
    tokens = model.encoder.layer.ln(tokens + model.encoder.pos_embedding)
    attention = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    attention.load_state_dict(model.encoder.layer.self_attention.state_dict())
    with torch.no_grad():
        _, weights = attention(tokens, tokens, tokens, average_attn_weights=False)
    cells = list(itertools.product(range(4), range(4)))  # row by row, 4 pixels apart
    expected = []
    for head in range(2):
        total = 0.0
        for image, (q, (qr, qc)) in itertools.product(range(5), enumerate(cells)):
            row = weights[image, head, 1 + q, 1:].double()  # to the patches, not the class token
            row = row / row.sum()
            total += sum(
                float(row[k]) * 4 * math.hypot(qr - kr, qc - kc) for k, (kr, kc) in enumerate(cells)
            )
        expected.append(total / (5 * 16))
    assert measured.heads == pytest.approx(expected, rel=1e-6)
    assert max(abs(h - measured.uniform) for h in measured.heads) > 0.5  # not uniform: a real test
    uniform = sum(
        4 * math.hypot(a - c, b - d) for (a, b), (c, d) in itertools.product(cells, cells)
    )
    assert measured.uniform == pytest.approx(uniform / 256)


@pytest.mark.usefixtures("small_embedded")
def test_visualize_draws_a_vits_patch_embedding_and_how_far_its_heads_look(tmp_path, capsys):
    spec = spec_from_text(TINY_VIT)
    checkpoint = write_checkpoint(tmp_path / "run" / "best.pt", spec, ["a", "b", "c"])
    assert main(["visualize", str(checkpoint.parent)]) == 0
    out = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "run" / "filters").iterdir())
    # the patch embedding (8 filters of 4x4) as a grid and as RGB, and the attention distance
    assert written == ["attention-distance.png", "conv2d-1-rgb.png", "conv2d-1.png"]
    assert "The attention layer MultiheadAttention-7 weighs positions" in out
    assert "so it has no filter figure" in out
    assert "attention-distance.png shows how far each of its heads looks, on 56" in out
