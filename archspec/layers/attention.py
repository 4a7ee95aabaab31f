"""Attention over a sequence of tokens and within the windows of a channels-last map, and Swin's
patch merging, with torchvision's module parameters (so that state dicts match by name)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, StrictBool

from archspec.layers.base import (
    HWC,
    INFERRED_SIZE,
    LayerSpec,
    NonNegativePair,
    PositiveInt,
    PositivePair,
    Shape,
    ShapeError,
    laid,
    pair,
)
from archspec.layers.dropout import Probability
from archspec.layers.registry import register_layer


@register_layer
class MultiheadAttention(LayerSpec):
    """Self-attention over NxD tokens: torch.nn.MultiheadAttention with the input as query,
    key and value, batch first, without the attention weights (ViT's self_attention). Its
    tensors are torch's: in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias."""

    torch_class = "SelfAttention"
    torch_module = "archspec.modules"
    accepts = "tokens"
    in_size_field = "embed_dim"
    weighted = True
    attends = True
    example = {"num_heads": 2, "dropout": 0.1}

    embed_dim: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    num_heads: PositiveInt
    dropout: Probability = 0.0
    bias: StrictBool = True

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        if shape[1] % self.num_heads:
            raise ShapeError(
                f"{self.num_heads} heads do not divide the {shape[1]} features of each token",
                hint=f"make num_heads a divisor of {shape[1]}",
                field="num_heads",
            )
        return shape

    def param_count(self, shape: Shape, num_classes: int) -> int:
        width = shape[1]
        return 4 * width * width + (4 * width if self.bias else 0)  # q, k, v in; out

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        """The four projections at every token, and the N x N scores and their weighted sum:
        the work that grows with the square of the sequence (which torchinfo leaves out)."""
        tokens, width = shape
        return tokens * self.param_count(shape, num_classes) + 2 * tokens * tokens * width


SWIN = "torchvision.models.swin_transformer"


@register_layer
class ShiftedWindowAttention(LayerSpec):
    """Self-attention within windows of an HxWxC map, with a learnable relative position bias
    per head; windows shifted by shift_size (Swin's attn; torchvision's own module, which pads
    the map to whole windows and masks across the shift)."""

    torch_class = "ShiftedWindowAttention"
    torch_module = SWIN
    accepts = "channels_last"
    in_size_field = "dim"
    weighted = True
    attends = True
    example = {"window_size": 3, "shift_size": 1, "num_heads": 2}

    dim: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    window_size: PositivePair
    shift_size: NonNegativePair
    num_heads: PositiveInt
    qkv_bias: StrictBool = True
    proj_bias: StrictBool = True
    attention_dropout: Probability = 0.0
    dropout: Probability = 0.0

    def torch_kwargs(self, shape: Shape, num_classes: int) -> dict[str, Any]:
        kwargs = super().torch_kwargs(shape, num_classes)
        for name in ("window_size", "shift_size"):  # torchvision takes lists of two
            kwargs[name] = list(pair(getattr(self, name)))
        return kwargs

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        channels = shape[2]
        if channels % self.num_heads:
            raise ShapeError(
                f"{self.num_heads} heads do not divide the {channels} channels",
                hint=f"make num_heads a divisor of {channels}",
                field="num_heads",
            )
        windows, shifts = pair(self.window_size), pair(self.shift_size)
        if any(s >= w for s, w in zip(shifts, windows, strict=True)):
            raise ShapeError(
                f"a shift of {'x'.join(map(str, shifts))} is not inside a window of "
                f"{'x'.join(map(str, windows))}",
                hint="shift by less than the window, usually half of it",
                field="shift_size",
            )
        return shape

    def param_count(self, shape: Shape, num_classes: int) -> int:
        width = shape[2]
        h, w = pair(self.window_size)
        table = (2 * h - 1) * (2 * w - 1) * self.num_heads  # the relative position bias
        qkv = 3 * width * width + (3 * width if self.qkv_bias else 0)
        return qkv + width * width + (width if self.proj_bias else 0) + table

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        """The projections at every position of the map padded to whole windows, and each
        window's scores and weighted sum."""
        height, width, channels = shape
        h, w = pair(self.window_size)
        tokens = math.ceil(height / h) * h * math.ceil(width / w) * w
        projections = 4 * channels * channels + (3 * channels if self.qkv_bias else 0)
        projections += channels if self.proj_bias else 0
        return tokens * projections + 2 * tokens * h * w * channels


@register_layer
class PatchMerging(LayerSpec):
    """Each 2x2 group of positions of an HxWxC map concatenated (4C), normalised and reduced
    to 2C by a Linear without bias: H/2 x W/2 x 2C (Swin's downsampling; torchvision's own
    module, which pads an odd size)."""

    torch_class = "PatchMerging"
    torch_module = SWIN
    accepts = "channels_last"
    in_size_field = "dim"
    weighted = True

    dim: PositiveInt | None = Field(None, description=INFERRED_SIZE)

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        height, width, channels = shape
        return laid(((height + 1) // 2, (width + 1) // 2, 2 * channels), HWC)

    # the LayerNorm's width, in input channels: V1 normalises the 4C concatenation, V2 the 2C
    # reduction
    norm_width: ClassVar[int] = 4

    def param_count(self, shape: Shape, num_classes: int) -> int:
        channels = shape[2]
        return 4 * channels * 2 * channels + 2 * self.norm_width * channels  # reduction, norm

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        positions = out[0] * out[1]
        return positions * 4 * shape[2] * 2 * shape[2] + 2 * self.norm_width * shape[2]


@register_layer
class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2's window attention: cosine attention with a learnable logit_scale per head, and
    a relative position bias computed by a small MLP (cpb_mlp) from log-spaced coordinates
    (torchvision's own module)."""

    torch_class = "ShiftedWindowAttentionV2"

    def param_count(self, shape: Shape, num_classes: int) -> int:
        h, w = pair(self.window_size)
        table = (2 * h - 1) * (2 * w - 1) * self.num_heads
        v1 = super().param_count(shape, num_classes) - table  # V2 has no bias table
        cpb_mlp = (2 * 512 + 512) + 512 * self.num_heads  # Linear(2, 512), Linear(512, heads)
        return v1 + self.num_heads + cpb_mlp  # and logit_scale, one per head


@register_layer
class PatchMergingV2(PatchMerging):
    """Swin V2's patch merging: the 2x2 groups reduced to 2C, then normalised (torchvision's
    own module)."""

    torch_class = "PatchMergingV2"
    norm_width = 2


MAXVIT = "torchvision.models.maxvit"


@register_layer
class RelativePositionalMultiHeadAttention(LayerSpec):
    """Self-attention within each of G windows of P positions (GxPxC), with a learnable
    relative position bias per head (MaxViT's attention; torchvision's own module). Its heads
    are feat_dim / head_dim; max_seq_len is the positions of a window."""

    torch_class = "RelativePositionalMultiHeadAttention"
    torch_module = MAXVIT
    accepts = "windows"
    in_size_field = "feat_dim"
    weighted = True
    attends = True
    example = {"head_dim": 2, "max_seq_len": 9}

    feat_dim: PositiveInt | None = Field(None, description=INFERRED_SIZE)
    head_dim: PositiveInt
    max_seq_len: PositiveInt

    def output_shape(self, shape: Shape, num_classes: int) -> Shape:
        _, positions, channels = shape
        if channels % self.head_dim:
            raise ShapeError(
                f"heads of {self.head_dim} features do not divide the {channels} channels",
                hint=f"make head_dim a divisor of {channels}",
                field="head_dim",
            )
        if positions != self.max_seq_len or math.isqrt(positions) ** 2 != positions:
            raise ShapeError(
                f"max_seq_len is {self.max_seq_len} and the windows hold {positions} positions",
                hint=f"max_seq_len: {positions} (the square of the partition size)",
                field="max_seq_len",
            )
        return shape

    def param_count(self, shape: Shape, num_classes: int) -> int:
        channels, heads = shape[2], shape[2] // self.head_dim
        side = math.isqrt(self.max_seq_len)
        table = (2 * side - 1) ** 2 * heads
        return 3 * channels * channels + 3 * channels + channels * channels + channels + table

    def mult_adds(self, shape: Shape, out: Shape, num_classes: int) -> int:
        windows, positions, channels = shape
        projections = 4 * channels * channels + 4 * channels
        return windows * positions * projections + 2 * windows * positions * positions * channels
