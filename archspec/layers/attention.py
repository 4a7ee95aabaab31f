"""Attention over a sequence of tokens, with torchvision's module parameters (so that state
dicts match by name)."""

from __future__ import annotations

from pydantic import Field, StrictBool

from archspec.layers.base import INFERRED_SIZE, LayerSpec, PositiveInt, Shape, ShapeError
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
