"""A checkpoint of a spec with blocks: its conv layers are found by module path, in run order."""

from __future__ import annotations

from spec_test_paths import ZOO

from archspec.spec import load_spec
from runner.training.checkpoint import Checkpoint
from runner.training.model import seeded_model
from runner.visualize.layers import conv_layers


def test_conv_layers_of_a_residual_spec_are_found_by_their_module_paths() -> None:
    path = ZOO / "resnet18.yaml"
    spec = load_spec(path)
    model = seeded_model(spec, 4, 0)
    state = model.state_dict()
    ckpt = Checkpoint(path, spec, "domain", ("a", "b", "c", "d"), state, {"seed": 0}, 1, {})
    layers = conv_layers(ckpt)
    assert len(layers) == 20  # stem, 16 in the blocks, 3 projections
    assert [layer.resolved.path for layer in layers[:4]] == [
        "conv1",
        "layer1.0.conv1",
        "layer1.0.conv2",
        "layer1.1.conv1",
    ]
    projection = next(layer for layer in layers if layer.resolved.path == "layer2.0.downsample.0")
    assert projection.describe() == "128x64 kernels 1x1"
    assert (projection.weight == state["layer2.0.downsample.0.weight"]).all()
