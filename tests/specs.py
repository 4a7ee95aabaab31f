"""Small specs that tests in several folders build: each is the least that shows its family."""

from __future__ import annotations

# ViT in miniature: a patch embedding, tokens, a class token, a position embedding and one
# pre-norm self-attention block, 16 patches of 8 features.
TINY_VIT = """
name: TinyViT
input_shape: [3, 16, 16]
sections:
  conv_proj: {Conv2d: {out_channels: 8, kernel_size: 4, stride: 4}}
  tokens:
    - Flatten: {start_dim: 2}
    - Permute: {dims: [0, 2, 1]}
  class_token: ClassToken
  encoder:
    pos_embedding: PositionEmbedding
    layer:
      Residual:
        body:
          ln: LayerNorm
          self_attention: {MultiheadAttention: {num_heads: 2}}
        shortcut: identity
  select: SelectToken
  head: {Linear: {out_features: num_classes}}
"""
