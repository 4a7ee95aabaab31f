"""The shipped ResNet-18 and SqueezeNet 1.1 are torchvision's: same parameter counts, same
printout of each block, and torchvision's (randomly initialised) weights give the same outputs."""

from __future__ import annotations

import pytest
import torch
import torchvision
from spec_test_paths import ZOO
from test_spec_cli import table_rows

from archspec.compiler import build_model
from archspec.errors import UserError
from archspec.weights import load_state_dict_matching

SPECS = {
    "resnet18": (ZOO / "resnet18.yaml", 11_689_512),
    "squeezenet1_1": (ZOO / "squeezenet1_1.yaml", 1_235_496),
}


@pytest.mark.parametrize("name", SPECS)
def test_build_reports_torchvisions_parameter_count(name: str, cli) -> None:
    path, params = SPECS[name]
    result = cli("build", path, "--num-classes", "1000")
    assert result.code == 0, result.err
    assert f"Total params: {params:,}\n" in result.out
    assert table_rows(result.out)[-1][0].startswith(("Linear-", "Flatten-"))


@pytest.mark.parametrize("name", SPECS)
def test_torchvision_weights_load_and_give_the_same_outputs(name: str) -> None:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None).eval()
    model = build_model(SPECS[name][0], num_classes=1000).eval()
    report = load_state_dict_matching(model, reference.state_dict())
    assert report.matched_by == "name" and report.renamed == 0  # torchvision's own names
    assert len(report.pairs) == len(reference.state_dict())
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        difference = (model(x) - reference(x)).abs().max().item()
    assert difference <= 1e-6


def test_the_models_print_as_torchvisions() -> None:
    reference = torchvision.models.resnet18(weights=None)
    assert repr(build_model(SPECS["resnet18"][0], num_classes=1000)) == repr(reference)
    squeeze = torchvision.models.squeezenet1_1(weights=None)  # it flattens in forward()
    model = build_model(SPECS["squeezenet1_1"][0], num_classes=1000)
    assert repr(model.features) == repr(squeeze.features)
    reference = torchvision.models.resnet18(weights=None)
    model = build_model(SPECS["resnet18"][0], num_classes=1000)
    assert [n for n, _ in model.layer2[0].named_children()] == [
        "conv1", "bn1", "relu", "conv2", "bn2", "downsample"
    ]  # fmt: skip


def test_a_state_dict_of_another_structure_is_refused_with_the_first_disagreement() -> None:
    model = build_model(SPECS["resnet18"][0], num_classes=10)
    reference = torchvision.models.resnet18(weights=None)  # 1000 classes: fc differs
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(UserError, match=r"tensor 120 disagrees: the model's fc.weight is 10x512 "
                       r"but the state_dict's fc.weight is 1000x512"):  # fmt: skip
        load_state_dict_matching(model, reference.state_dict())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    squeeze = torchvision.models.squeezenet1_1(weights=None)
    with pytest.raises(UserError, match="the model has 122 tensors but the state_dict has 52"):
        load_state_dict_matching(model, squeeze.state_dict())


def test_same_names_match_by_name() -> None:
    model = build_model(SPECS["squeezenet1_1"][0], num_classes=5)
    other = build_model(SPECS["squeezenet1_1"][0], num_classes=5)
    state = dict(reversed(list(other.state_dict().items())))  # order no longer helps
    report = load_state_dict_matching(model, state)
    assert report.matched_by == "name" and report.renamed == 0
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in model.state_dict().items())
