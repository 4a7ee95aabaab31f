"""Shapes beyond CxHxW: channels-last maps, token sequences, attention and the learnable tensors
of vision transformers and ConvNeXt. Each construct is checked against the same computation
written directly in PyTorch; each misuse ends in a located message and exit code 2."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torchvision
import yaml

import archspec
from archspec.layers.base import HWC, format_shape, laid
from tests.specs import TINY_VIT as VIT

EXIT_USER_ERROR = 2


def spec(text: str) -> dict:
    return yaml.safe_load(textwrap.dedent(text))


def built(text: str, num_classes: int = 4) -> torch.nn.Module:
    return archspec.build(spec(text), num_classes=num_classes).eval()


CHANNELS_LAST = """
name: Pointwise
input_shape: [8, 5, 6]
sections:
  block:
    - Permute: {dims: [0, 2, 3, 1]}
    - LayerNorm: {eps: 1.0e-6}
    - Linear: {out_features: 12}
    - Permute: {dims: [0, 3, 1, 2]}
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_a_permute_to_channels_last_lets_layer_norm_and_linear_act_per_position() -> None:
    model = built(CHANNELS_LAST)
    _, norm, linear, _ = model.block
    x = torch.randn(2, 8, 5, 6)
    expected = linear(norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert torch.equal(model.block(x), expected)
    assert (norm.normalized_shape, linear.in_features) == ((8,), 8)


def test_the_table_names_each_layout() -> None:
    resolved = archspec.validate_spec(spec(CHANNELS_LAST), num_classes=4)
    outs = [format_shape(r.out_shape) for r in resolved.layers[:4]]
    assert outs == ["5x6x8 (HxWxC)", "5x6x8 (HxWxC)", "5x6x12 (HxWxC)", "12x5x6"]
    # and a channels-last map is not the CxHxW map of the same sizes
    assert laid((5, 6, 8), HWC) != (5, 6, 8)


def test_a_linear_per_position_counts_its_weights_once_per_position() -> None:
    resolved = archspec.validate_spec(spec(CHANNELS_LAST), num_classes=4)
    linear = resolved.layers[2]
    assert linear.params == 8 * 12 + 12
    assert linear.mult_adds == (8 * 12 + 12) * 5 * 6


def test_tokens_class_token_position_embedding_and_attention_compute_what_vit_does() -> None:
    model = built(VIT)
    with torch.no_grad():  # the tensors start at zeros; make them matter
        model.class_token.normal_()
        model.encoder.pos_embedding.normal_()
    attention = model.encoder.layer.self_attention
    x = torch.randn(2, 3, 16, 16)
    tokens = model.conv_proj(x).reshape(2, 8, 16).permute(0, 2, 1)  # as torchvision does
    tokens = torch.cat([model.class_token.expand(2, -1, -1), tokens], dim=1)
    tokens = tokens + model.encoder.pos_embedding
    normed = model.encoder.layer.ln(tokens)
    tokens = tokens + attention(normed)
    reference = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    reference.load_state_dict(attention.state_dict())
    with torch.no_grad():
        by_torch = reference(normed, normed, normed, need_weights=False)[0]
        assert torch.allclose(attention(normed), by_torch, atol=1e-6)
        assert torch.allclose(model(x), model.head(tokens[:, 0]), atol=1e-6)


def test_learnable_tensors_are_parameters_of_their_owner_under_the_layers_name() -> None:
    model = built(VIT)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(shapes)[:2] == ["class_token", "conv_proj.weight"]  # own tensors come first
    assert shapes["class_token"] == (1, 1, 8)
    assert shapes["encoder.pos_embedding"] == (1, 17, 8)  # 16 patches and the class token
    assert "encoder.layer.self_attention.in_proj_weight" in shapes
    resolved = archspec.validate_spec(spec(VIT), num_classes=4)
    assert resolved.total_params == sum(p.numel() for p in model.parameters())


def test_attention_mult_adds_count_the_projections_and_the_scores() -> None:
    resolved = archspec.validate_spec(spec(VIT), num_classes=4)
    attention = next(r for r in resolved.layers if r.layer.kind() == "MultiheadAttention")
    tokens, width = 17, 8
    assert attention.mult_adds == tokens * (4 * width * width + 4 * width) + (
        2 * tokens * tokens * width
    )


@pytest.mark.parametrize(
    "name", ["vit_b_16", "vit_b_32", "convnext_tiny", "swin_t", "swin_b", "swin_v2_t"]
)
def test_mult_adds_agree_with_torchvisions_published_operations(name: str) -> None:
    """torchvision's weights carry the GFLOPs they count (attention included): an independent
    check of the count (within 0.5%; the products of layer scales and norms differ)."""
    published = torchvision.models.get_model_weights(name).DEFAULT.meta["_ops"]
    resolved = archspec.validate_spec(name, num_classes=1000)
    assert resolved.total_mult_adds / 1e9 == pytest.approx(published, rel=0.005)


LAYER_SCALE = """
name: Scaled
input_shape: [4, 3, 3]
sections:
  block:
    Residual:
      body:
        conv: {Conv2d: {out_channels: 4, kernel_size: 1}}
        layer_scale: {LayerScale: {init: 0.5}}
      shortcut: identity
  classifier:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def test_layer_scale_multiplies_each_channel_by_its_own_learnable_value() -> None:
    model = built(LAYER_SCALE)
    block = model.block
    assert tuple(block.layer_scale.shape) == (4, 1, 1)
    assert torch.equal(block.layer_scale, torch.full((4, 1, 1), 0.5))
    with torch.no_grad():
        block.layer_scale.copy_(torch.arange(4.0).reshape(4, 1, 1))
        x = torch.randn(2, 4, 3, 3)
        assert torch.allclose(block(x), x + block.layer_scale * block.conv(x), atol=1e-6)


def test_set_changes_a_section_written_as_one_layer() -> None:
    model = archspec.build(spec(VIT), num_classes=4, sets=["conv_proj.kernel_size=8"])
    assert model.conv_proj.kernel_size == (8, 8)
    assert tuple(model.encoder.pos_embedding.shape) == (1, 3 * 3 + 1, 8)  # fewer patches


MISTAKES = """\
name: Net
input_shape: [8, 4, 4]
sections:
  features:
%s
  classifier:
    - Flatten
    - Linear: {out_features: 10}
"""


def mistake(id: str, items: str, *fragments: str):
    return pytest.param(MISTAKES % items, fragments, id=id)


TOKENS = "    - Flatten: {start_dim: 2}\n    - Permute: {dims: [0, 2, 1]}\n"

MISTAKE_CASES = [
    mistake(
        "layer-norm-over-the-width",
        "    - LayerNorm",
        "line 5, features[0] LayerNorm-1: LayerNorm normalizes the last axis, which for a CxHxW "
        "map is its width, not its channels (input 8x4x4)",
        "fix: use LayerNorm2d on a CxHxW map, or permute to channels-last first",
    ),
    mistake(
        "conv-on-channels-last",
        "    - Permute: {dims: [0, 2, 3, 1]}\n    - Conv2d: {out_channels: 4, kernel_size: 1}",
        "line 6, features[1] Conv2d-2: Conv2d needs a (channels, height, width) input but gets "
        "one with the channels last (input 4x4x8 (HxWxC))",
        "fix: permute back first",
    ),
    mistake(
        "heads-do-not-divide",
        TOKENS + "    - MultiheadAttention: {num_heads: 3}",
        "line 7, features[2] MultiheadAttention-3.num_heads: 3 heads do not divide the 8 "
        "features of each token",
        "fix: make num_heads a divisor of 8",
    ),
    mistake(
        "permute-that-does-not-apply",
        "    - Permute: {dims: [0, 2, 1]}",
        "line 5, features[0] Permute-1.dims: Permute [0, 2, 1] does not apply to 8x4x4 (CxHxW)",
        "[0, 2, 3, 1] on CxHxW",
    ),
    mistake(
        "class-token-on-a-map",
        "    - ClassToken",
        "line 5, features[0] ClassToken-1: ClassToken needs a sequence of tokens (NxD) but "
        "gets 8x4x4 (CxHxW)",
    ),
    mistake(
        "attention-on-windows",
        "    - WindowPartition: {p: 2}\n    - MultiheadAttention: {num_heads: 2}",
        "MultiheadAttention needs a sequence of tokens (NxD) but gets 4x4x8 (GxPxC) (input",
    ),
    mistake(
        "select-beyond-the-sequence",
        TOKENS + "    - SelectToken: {index: 16}",
        "line 7, features[2] SelectToken-3.index: token 16 of a sequence of 16",
        "fix: index counts from 0, so at most 15",
    ),
    mistake(
        "flatten-tokens-of-tokens",
        TOKENS + "    - Flatten: {start_dim: 2}",
        "line 7, features[2] Flatten-3.start_dim: start_dim 2 flattens the height and width of "
        "a CxHxW map, and the input is 16x8 (NxD)",
    ),
    mistake(
        "adding-two-layouts",
        "    - Residual:\n        body: [{Permute: {dims: [0, 2, 3, 1]}}]\n"
        "        shortcut: identity",
        "an identity shortcut cannot add the input 8x4x4 to the body's output 4x4x8 (HxWxC)",
    ),
    mistake(
        "tokens-concatenated-as-channels",
        TOKENS + "    - Parallel: {branches: [[Identity], [Identity]]}",
        "the branches cannot be merged by concat: 0 16x8 (NxD), 1 16x8 (NxD)",
    ),
    mistake(
        "in-tokens-of-a-map",
        '    - Conv2d: {out_channels: "${in_tokens}", kernel_size: 1}',
        "out_channels: in_tokens is not known here: the input 8x4x4 has no tokens",
    ),
]


@pytest.mark.parametrize(("text", "fragments"), MISTAKE_CASES)
def test_layout_mistakes_are_located_and_exit_2(text: str, fragments, cli, write_spec) -> None:
    result = cli("validate", write_spec(text))
    assert result.code == EXIT_USER_ERROR, result.text
    assert "Traceback" not in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"


def test_in_tokens_and_in_channels_read_a_token_sequence() -> None:
    model = built(
        """
        name: Mixer
        input_shape: [8, 4, 4]
        sections:
          tokens:
            - Flatten: {start_dim: 2}
            - Permute: {dims: [0, 2, 1]}
          mix:
            - Linear: {out_features: "${in_tokens + in_channels}"}
          classifier:
            - SelectToken
            - Linear: {out_features: num_classes}
        """
    )
    assert model.mix[0].in_features == 8
    assert model.mix[0].out_features == 16 + 8


def test_a_diagram_names_the_layouts_as_the_table_does(cli, write_spec, tmp_path) -> None:
    out = tmp_path / "vit.md"
    result = cli("draw", write_spec(VIT), "--out", out, "--num-classes", "4")
    assert result.code == 0, result.text
    drawn = out.read_text()
    assert "8x16 #40;DxN#41;" in drawn  # Flatten from dim 2: channels by tokens
    assert "16x8 #40;NxD#41;" in drawn  # then permuted into tokens
