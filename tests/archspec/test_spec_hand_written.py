"""The compiled specs against the same networks written by hand in plain torch.nn."""

from __future__ import annotations

import copy

import pytest
import torch
from hand_written import BY_SPEC_STEM
from spec_test_paths import ARCHITECTURES
from torch import nn

from archspec.compiler import build_model

STEMS = list(BY_SPEC_STEM)


def seeded(build, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build()


@pytest.fixture(scope="module", params=STEMS)
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module]:
    """(stem, hand-written model, compiled model), each built right after torch.manual_seed(0)."""
    stem = request.param
    hand = seeded(lambda: BY_SPEC_STEM[stem](num_classes=4))
    compiled = seeded(lambda: build_model(ARCHITECTURES / f"{stem}.yaml", task="domain"))
    return stem, hand, compiled


def test_every_hand_written_model_has_a_spec() -> None:
    assert all((ARCHITECTURES / f"{stem}.yaml").is_file() for stem in STEMS)


def test_same_parameter_names_and_shapes(pair) -> None:
    _, hand, compiled = pair
    hand_shapes = {k: tuple(v.shape) for k, v in hand.state_dict().items()}
    compiled_shapes = {k: tuple(v.shape) for k, v in compiled.state_dict().items()}
    assert list(compiled_shapes) == list(hand_shapes)  # same keys, in the same order
    assert compiled_shapes == hand_shapes


def test_same_parameter_count(pair) -> None:
    _, hand, compiled = pair
    count = sum(p.numel() for p in hand.parameters())
    assert sum(p.numel() for p in compiled.parameters()) == count
    assert sum(p.numel() for p in compiled.parameters() if p.requires_grad) == count


def test_same_seed_gives_the_same_weights(pair) -> None:
    """The compiler constructs the layers in the hand-written order: same RNG draws."""
    _, hand, compiled = pair
    for (name, expected), (_, actual) in zip(
        hand.state_dict().items(), compiled.state_dict().items(), strict=True
    ):
        assert torch.equal(actual, expected), name


def test_same_printout(pair) -> None:
    _, hand, compiled = pair
    assert repr(compiled) == repr(hand)


def test_loaded_weights_give_identical_outputs(pair) -> None:
    _, hand, compiled = pair
    other = copy.deepcopy(hand)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(torch.rand_like(parameter))  # weights unlike the compiled model's
    first = "features.0.weight"
    assert not torch.equal(other.state_dict()[first], compiled.state_dict()[first])
    other.load_state_dict(compiled.state_dict())
    x = torch.randn(1, 3, 227, 227, generator=torch.Generator().manual_seed(2))
    compiled.eval()
    other.eval()
    with torch.no_grad():
        assert torch.equal(compiled(x), other(x))
