"""Linear CKA: the properties that make it the right instrument, pinned on small cases.

The study needs one of them above all: a model whose filters are the same features in another
order computes the same thing, so CKA must say 1 where filter-by-filter cosine drops.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from archspec.spec import spec_from_text
from runner.compare import MinibatchCKA, filter_similarity, hsic1, linear_cka
from runner.compare.activations import Probe, cka_matrices
from runner.compare.cka import gram
from runner.compare.measured import MeasuredLayer, measured_layers
from runner.data import normalize, write_synthetic
from runner.data.validation import validation_images
from runner.training.checkpoint import load_checkpoint
from runner.training.model import seeded_model
from runner.visualize.layers import conv_layers
from tests.runner.helpers import write_checkpoint
from tests.specs import TINY_VIT as VIT

SPEC = """
name: Permutable
input_shape: [3, 16, 16]
sections:
  features:
    - Conv2d: {out_channels: 6, kernel_size: 3}
    - ReLU: {inplace: true}
    - Conv2d: {out_channels: 5, kernel_size: 3, stride: 2}
    - ReLU
  classifier:
    - Linear: {out_features: num_classes}
"""


def numpy_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Reference: unbiased linear CKA written out with matrix products (Nguyen et al., 2021)."""

    def hsic(k: np.ndarray, m: np.ndarray) -> float:
        n = k.shape[0]
        k, m = k.copy(), m.copy()
        np.fill_diagonal(k, 0.0)
        np.fill_diagonal(m, 0.0)
        ones = np.ones(n)
        return (
            np.trace(k @ m)
            + (ones @ k @ ones) * (ones @ m @ ones) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (ones @ k @ m @ ones)
        ) / (n * (n - 3))

    k, m = x @ x.T, y @ y.T
    return hsic(k, m) / np.sqrt(hsic(k, k) * hsic(m, m))


@pytest.fixture
def features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 12, generator=g, dtype=torch.float64)
    y = x @ torch.randn(12, 8, generator=g, dtype=torch.float64)
    return x, y + 0.5 * torch.randn(40, 8, generator=g, dtype=torch.float64)


def test_cka_of_a_representation_with_itself_is_one(features):
    x, _ = features
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_rotation_and_isotropic_scaling_but_not_to_stretching(features):
    x, y = features
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=torch.Generator().manual_seed(1)).double())
    assert linear_cka(x, x @ q) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, 3.7 * x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x @ q * 0.2, y) == pytest.approx(linear_cka(x, y), abs=1e-12)
    stretch = torch.diag(torch.logspace(-2, 2, 12, dtype=torch.float64))
    assert linear_cka(x, x @ stretch) < 0.9  # only orthogonal maps and one scale leave it at 1
    assert 0.3 < linear_cka(x, y) < 0.99


def test_cka_agrees_with_a_numpy_reference(features):
    x, y = features
    assert linear_cka(x, y) == pytest.approx(numpy_cka(x.numpy(), y.numpy()), abs=1e-10)
    conv_like = torch.randn(10, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    flat = conv_like.double().flatten(1).numpy()
    assert linear_cka(conv_like, x[:10]) == pytest.approx(numpy_cka(flat, x[:10].numpy()))


def test_hsic_needs_four_images():
    with pytest.raises(ValueError, match="at least 4"):
        hsic1(gram(torch.ones(3, 2)), gram(torch.ones(3, 2)))


def test_the_minibatch_estimate_agrees_with_the_full_batch_one():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1024, 30, generator=g, dtype=torch.float64)
    y = torch.tanh(x[:, :20] @ torch.randn(20, 10, generator=g, dtype=torch.float64))
    full = linear_cka(x, y)
    sums = MinibatchCKA(1, 1)
    for rows in torch.arange(1024).split(128):  # the estimator's own default batch
        sums.add([gram(x[rows])], [gram(y[rows])])
    assert sums.result()[0][0] == pytest.approx(full, abs=0.01)
    assert 0.2 < full < 0.9  # a case where the estimate has something to get right


# ---- on models ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_synthetic(root, seed=0, train_per_class=1, val_per_class=2, size=16)
    return validation_images({"data": str(root)}, None, None)  # 56 images, every style and shape


def permuted(model: torch.nn.Module) -> torch.nn.Module:
    """A copy computing the same function with every conv layer's filters in another order:
    each conv's output channels, and the input channels of the layer after it, permuted."""
    copy = seeded_model(spec_from_text(SPEC), 3, 0)
    copy.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(5)
    conv1, conv2, linear = copy.features[0], copy.features[2], copy.classifier[0]
    p1, p2 = torch.randperm(6, generator=g), torch.randperm(5, generator=g)
    with torch.no_grad():
        conv1.weight.copy_(conv1.weight[p1])
        conv1.bias.copy_(conv1.bias[p1])
        conv2.weight.copy_(conv2.weight[:, p1][p2])
        conv2.bias.copy_(conv2.bias[p2])
        w = linear.weight.view(linear.out_features, 5, -1)  # (out, C*H*W) -> (out, C, H*W)
        linear.weight.copy_(w[:, p2].reshape(linear.out_features, -1))
    return copy.eval()


def probe(model, tmp_path, name):
    spec = spec_from_text(SPEC)
    ckpt = load_checkpoint(write_checkpoint(tmp_path / f"{name}.pt", spec, "abc", model=model))
    return Probe(model.eval(), measured_layers(spec, 3), (16, 16)), conv_layers(ckpt)


def test_permuted_filters_give_cka_one_at_every_layer_while_filter_cosine_drops(tmp_path, images):
    model = seeded_model(spec_from_text(SPEC), 3, 0).eval()
    twin = permuted(model)
    x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():  # the same function of the image
        assert torch.allclose(model(normalize(x)), twin(normalize(x)), atol=1e-5)
    (pa, layers_a), (pb, layers_b) = probe(model, tmp_path, "a"), probe(twin, tmp_path, "b")
    (matrix,) = cka_matrices(pa, [pb], images, batch=16)
    assert [matrix[i][i] for i in range(2)] == pytest.approx([1.0, 1.0], abs=1e-9)
    for la, lb in zip(layers_a, layers_b, strict=True):
        assert filter_similarity(la.weight, lb.weight) < 0.5
        assert filter_similarity(la.weight, la.weight) == pytest.approx(1.0)
    other = seeded_model(spec_from_text(SPEC), 3, 1)  # another start: CKA well below 1
    (unrelated,) = cka_matrices(pa, [probe(other, tmp_path, "c")[0]], images, batch=16)
    assert unrelated[1][1] < 0.95


def test_cka_on_models_measures_each_conv_output_before_its_in_place_relu(tmp_path, images):
    model_a, model_b = (seeded_model(spec_from_text(SPEC), 3, seed).eval() for seed in (0, 1))
    a, b = probe(model_a, tmp_path, "a")[0], probe(model_b, tmp_path, "b")[0]
    (matrix,) = cka_matrices(a, [b], images, batch=len(images.paths))
    x = normalize(images.decoded((16, 16)))
    with torch.no_grad():  # conv outputs by hand: Conv2d-1 and Conv2d-3 (after a ReLU)
        outs = [
            (m.features[0](x), m.features[2](torch.relu(m.features[0](x))))
            for m in (model_a, model_b)
        ]
    expected = [[linear_cka(oa, ob) for ob in outs[1]] for oa in outs[0]]
    assert np.allclose(matrix, expected, atol=1e-9)
    assert np.array(matrix).shape == (2, 2)


NESTED_SPEC = """
name: Nested
input_shape: [3, 16, 16]
sections:
  stem: {Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}
  layer1:
    - Residual:
        body:
          conv1: {Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}
          relu: ReLU
        shortcut: identity
  fc: {Linear: {out_features: 3}}
"""


def test_cka_hooks_each_conv_itself_in_bare_sections_and_inside_blocks():
    """A section written as one layer has no child `0`, and a conv inside a block is not the
    block: each conv is found by its own module name."""
    from archspec.compiler import compile_spec
    from archspec.shapes import resolve
    from runner.compare.activations import layer_modules

    spec = spec_from_text(NESTED_SPEC)
    model = compile_spec(resolve(spec, 3))
    layers = measured_layers(spec, 3)
    assert [m.name for m in layers] == ["Conv2d-1", "Conv2d-2"]
    assert layer_modules(model, layers) == [model.stem, model.layer1[0].conv1]


# ---- token and attention layers -----------------------------------------------------------------

# A conv, window attention on the channels-last map (Swin's), and a conv again.
WINDOWS = """
name: TinyWindows
input_shape: [3, 16, 16]
sections:
  stem: {Conv2d: {out_channels: 8, kernel_size: 4, stride: 2, padding: 1}}
  to_last: {Permute: {dims: [0, 2, 3, 1]}}
  attn: {ShiftedWindowAttention: {window_size: 4, shift_size: 2, num_heads: 2}}
  to_first: {Permute: {dims: [0, 3, 1, 2]}}
  conv: {Conv2d: {out_channels: 6, kernel_size: 3}}
  head:
    - Flatten
    - Linear: {out_features: num_classes}
"""


def vit_attention_output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """TinyViT's attention output, computed step by step as torchvision's ViT does."""
    tokens = model.conv_proj(x).flatten(2).permute(0, 2, 1)
    tokens = torch.cat([model.class_token.expand(len(x), -1, -1), tokens], dim=1)
    tokens = tokens + model.encoder.pos_embedding
    return model.encoder.layer.self_attention(model.encoder.layer.ln(tokens))


def randomized(spec_text: str, seed: int) -> torch.nn.Module:
    model = seeded_model(spec_from_text(spec_text), 3, seed).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # the learned tensors start at zeros (or a fixed table); make them matter
        for name, p in model.named_parameters():
            if "class_token" in name or "pos_embedding" in name or "bias_table" in name:
                p.copy_(torch.randn(p.shape, generator=g))
    return model


def test_attention_layers_are_measured_by_their_output_averaged_over_the_tokens(images):
    layers = measured_layers(spec_from_text(VIT), 3)
    assert [(m.name, m.path, m.pooled) for m in layers] == [
        ("Conv2d-1", "conv_proj", False),
        ("MultiheadAttention-7", "encoder.layer.self_attention", True),
    ]
    model_a, model_b = randomized(VIT, 0), randomized(VIT, 1)
    a, b = (Probe(m, layers, (16, 16)) for m in (model_a, model_b))
    (matrix,) = cka_matrices(a, [b], images, batch=len(images.paths))
    x = normalize(images.decoded((16, 16)))
    with torch.no_grad():  # by hand: the conv's whole map, the attention's mean over 17 tokens
        outs = [
            (m.conv_proj(x), vit_attention_output(m, x).mean(dim=1)) for m in (model_a, model_b)
        ]
    expected = [[linear_cka(oa, ob) for ob in outs[1]] for oa in outs[0]]
    assert np.allclose(matrix, expected, atol=1e-9)


def test_window_attention_is_averaged_over_the_maps_height_and_width(images):
    spec = spec_from_text(WINDOWS)
    layers = measured_layers(spec, 3)
    assert [(m.name, m.pooled) for m in layers] == [
        ("Conv2d-1", False),
        ("ShiftedWindowAttention-3", True),
        ("Conv2d-5", False),
    ]
    model_a, model_b = randomized(WINDOWS, 0), randomized(WINDOWS, 1)
    a, b = (Probe(m, layers, (16, 16)) for m in (model_a, model_b))
    (matrix,) = cka_matrices(a, [b], images, batch=len(images.paths))
    x = normalize(images.decoded((16, 16)))
    with torch.no_grad():
        outs = []
        for m in (model_a, model_b):
            stem = m.stem(x)
            attended = m.attn(stem.permute(0, 2, 3, 1))  # (n, 8, 8, 8): H, W, C
            outs.append((stem, attended.mean(dim=(1, 2)), m.conv(attended.permute(0, 3, 1, 2))))
    expected = [[linear_cka(oa, ob) for ob in outs[1]] for oa in outs[0]]
    assert np.allclose(matrix, expected, atol=1e-9)


def test_an_average_over_positions_does_not_depend_on_their_order():
    layer = MeasuredLayer("MultiheadAttention-3", "attn", 1)  # tokens: features on axis 1
    out = torch.randn(6, 10, 4)
    shuffled = out[:, torch.randperm(10)]
    assert layer.features(out).shape == (6, 4)
    assert torch.allclose(layer.features(out), layer.features(shuffled), atol=1e-6)
    whole = MeasuredLayer("Conv2d-1", "conv", None)
    assert whole.features(out).shape == (6, 40)
