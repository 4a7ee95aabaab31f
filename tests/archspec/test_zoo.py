"""The zoo is torchvision's: every spec in architectures/zoo/ compiles to a model with the same
state_dict keys, in the same order, with the same shapes as the torchvision model of its name
(so `load_state_dict(strict=True)` works by name), and the smallest member of each family gives
the same outputs in eval mode and has the same StochasticDepth probabilities, in order."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator

import pytest
import torch
import torchvision
from spec_test_paths import ZOO_SPECS

import archspec
from archspec.catalog import zoo_specs

NUM_CLASSES = 1000
# What torchvision is built with where its defaults add what the spec leaves out: the auxiliary
# classifiers, which only training mode returns (and the pretrained weights drop).
REFERENCE_KWARGS = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}
# The smallest member of each family: outputs compared (on the CPU, so kept to these).
SMALLEST = (
    "alexnet",
    "convnext_tiny",
    "densenet121",
    "efficientnet_b0",
    "efficientnet_v2_s",
    "googlenet",
    "inception_v3",
    "maxvit_t",
    "mnasnet0_5",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "regnet_x_400mf",
    "regnet_y_400mf",
    "resnet18",
    "resnet50",
    "resnext50_32x4d",
    "shufflenet_v2_x0_5",
    "squeezenet1_0",
    "squeezenet1_1",
    "swin_t",
    "swin_v2_t",
    "vgg11",
    "vgg11_bn",
    "vit_b_32",
    "wide_resnet50_2",
)
# Outputs are compared at a smaller size than the specs' 224x224 (every family pools adaptively
# before its classifier), which keeps the test fast and checks the same computation.
CHECK_SIZE = 128
INPUT_SIZE = {"inception_v3": 160, "vit_b_32": 224, "maxvit_t": 224}  # sizes the spec fixes


def reference(name: str) -> torch.nn.Module:
    with _block_params_on_the_cpu():
        return torchvision.models.get_model(name, weights=None, **REFERENCE_KWARGS.get(name, {}))


@contextlib.contextmanager
def _block_params_on_the_cpu() -> Iterator[None]:
    """RegNet computes its stages' widths and depths with tensors and reads them back
    (BlockParams.from_init_params), which the meta device cannot do: that computation runs on
    the CPU, the modules are still made on the device in use."""
    params = torchvision.models.regnet.BlockParams
    original = params.__dict__["from_init_params"]
    compute = original.__func__

    def on_the_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return compute(cls, *args, **kwargs)

    params.from_init_params = classmethod(on_the_cpu)
    try:
        yield
    finally:
        params.from_init_params = original


def keys_and_shapes(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(key, tuple(value.shape)) for key, value in model.state_dict().items()]


def test_every_zoo_spec_is_a_torchvision_model() -> None:
    known = set(torchvision.models.list_models(module=torchvision.models))
    assert ZOO_SPECS and {p.stem for p in ZOO_SPECS} <= known
    assert list(zoo_specs()) == [p.stem for p in ZOO_SPECS]


# The families that need tokens, layouts and attention: not convnets of CxHxW maps.
BEYOND_CONVNETS = ("convnext_", "vit_", "swin_", "maxvit_")
ZOO_BEYOND_CONVNETS = {  # those of them the zoo holds so far
    "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
    "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14",
    "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b", "maxvit_t",
}  # fmt: skip


def test_the_zoo_holds_every_torchvision_convnet() -> None:
    classification = torchvision.models.list_models(module=torchvision.models)
    convnets = {n for n in classification if not n.startswith(BEYOND_CONVNETS)}
    assert len(convnets) == 64
    assert convnets - set(zoo_specs()) == set()
    beyond = {n for n in classification if n.startswith(BEYOND_CONVNETS)}
    assert beyond & set(zoo_specs()) == ZOO_BEYOND_CONVNETS


@pytest.mark.parametrize("name", [p.stem for p in ZOO_SPECS])
def test_same_state_dict_names_order_and_shapes(name: str) -> None:
    with torch.device("meta"):
        model = archspec.build(name, num_classes=NUM_CLASSES)
        expected = reference(name)
    assert keys_and_shapes(model) == keys_and_shapes(expected)
    # and the count `archspec build` reports, from the shapes alone, is the model's
    resolved = archspec.validate_spec(name, num_classes=NUM_CLASSES)
    assert resolved.total_params == sum(p.numel() for p in expected.parameters())


# Families whose torchvision forward() calls functions (F.relu, torch.flatten, channel_shuffle,
# x.mean, x[:, 0]) that a spec writes as weightless modules: their printouts have those lines
# more, and only those.
FUNCTIONS_IN_FORWARD = (
    "densenet", "googlenet", "inception", "mnasnet", "mobilenet_v2", "shufflenet",
    "squeezenet", "vit_",
)  # fmt: skip


@pytest.mark.parametrize("name", [p.stem for p in ZOO_SPECS])
def test_prints_as_torchvision_does(name: str) -> None:
    with torch.device("meta"):
        printed = str(archspec.build(name, num_classes=NUM_CLASSES)).splitlines()
        expected = str(reference(name)).splitlines()
    if not name.startswith(FUNCTIONS_IN_FORWARD):
        assert printed == expected
        return
    lines = list(difflib.ndiff(expected, printed))
    assert [line for line in lines if line.startswith("- ")] == []
    added = [line[2:] for line in lines if line.startswith("+ ")]
    assert added and all(_weightless_line(line) for line in added), added


def _weightless_line(line: str) -> bool:
    """A printout line of a module without tensors, or of a container holding only such."""
    kinds = ("ReLU(", "AdaptiveAvgPool2d(", "AvgPool2d(", "MaxPool2d(", "Flatten(",
             "ChannelShuffle(", "Permute(",
             "SelectToken(", "Sequential(", ")")  # fmt: skip
    return line.strip().split(": ", 1)[-1].startswith(kinds)


def _randomize_batch_norm(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Running statistics and affine weights other than 0 and 1, so that a BatchNorm applied in
    the wrong place, or not at all, shows in the outputs."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.data.copy_(torch.randn(shape, generator=generator) * 0.1)


def _randomize_learned_tensors(model: torch.nn.Module, generator: torch.Generator) -> None:
    """ViT's class token starts at zeros and ConvNeXt's layer scale at 1e-6, which would hide
    a token or a block put in the wrong place."""
    for name, tensor in model.named_parameters():
        last = name.rsplit(".", 1)[-1]
        if last in ("class_token", "pos_embedding", "layer_scale", "relative_position_bias_table"):
            tensor.data.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)


def _stochastic_depths(model: torch.nn.Module) -> list[tuple[float, str]]:
    return [
        (m.p, m.mode) for m in model.modules() if isinstance(m, torchvision.ops.StochasticDepth)
    ]


@pytest.mark.parametrize("name", [n for n in SMALLEST if n in zoo_specs()])
def test_the_smallest_of_each_family_computes_what_torchvision_does(name: str) -> None:
    torch.manual_seed(0)
    expected = reference(name).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        _randomize_batch_norm(expected, generator)
        _randomize_learned_tensors(expected, generator)
    model = archspec.build(name, num_classes=NUM_CLASSES).eval()
    model.load_state_dict(expected.state_dict(), strict=True)
    assert _stochastic_depths(model) == _stochastic_depths(expected)
    size = INPUT_SIZE.get(name, CHECK_SIZE)
    x = torch.randn(2, 3, size, size, generator=generator)
    with torch.no_grad():
        difference = (model(x) - expected(x)).abs().max().item()
    assert difference <= 1e-4


@pytest.mark.parametrize("size", [448, 672])
def test_maxvit_computes_its_partitions_from_the_input_size_as_torchvision_does(size) -> None:
    """At 224x224 the first block's map is 56x56: 8x8 windows of 7x7 positions, and a grid of
    7x7 cells 8 positions apart. Larger inputs change both, as torchvision computes them."""
    with torch.device("meta"):
        expected = torchvision.models.maxvit_t(weights=None, input_size=(size, size))
        model = archspec.build("maxvit_t", sets=[f"input_shape=[3, {size}, {size}]"])
    theirs = [
        (m.p, m.grid_size[0] // m.p, m.grid_size[1] // m.p)
        for m in expected.modules()
        if isinstance(m, torchvision.models.maxvit.PartitionAttentionLayer)
    ]
    ours = [
        (m.p, m.h_partitions, m.w_partitions)
        for m in model.modules()
        if type(m).__name__ == "WindowDepartition"
    ]
    partitions = [m.p for m in model.modules() if type(m).__name__ == "WindowPartition"]
    assert ours == theirs and partitions == [p for p, _, _ in theirs]
    assert len(ours) == 2 * 11  # window and grid attention in each of the 11 layers


# Grouped and depthwise convs, squeeze-and-excitation gates, channel splits: counted as torchinfo
# counts them (it leaves out element-wise products, which `build` counts in the merges).
MULT_ADD_CHECKS = ("resnext50_32x4d", "shufflenet_v2_x0_5", "mobilenet_v3_small", "efficientnet_b0")


@pytest.mark.parametrize("name", [n for n in MULT_ADD_CHECKS if n in zoo_specs()])
def test_mult_adds_are_torchinfos(name: str) -> None:
    import torchinfo

    from archspec.shapes import MergeRow

    resolved = archspec.validate_spec(name, num_classes=NUM_CLASSES)
    stats = torchinfo.summary(
        reference(name).eval(), input_size=(1, *resolved.spec.input_shape), verbose=0
    )
    gates = sum(r.mult_adds for r in resolved.rows if isinstance(r, MergeRow))
    assert resolved.total_mult_adds - gates == stats.total_mult_adds
