"""`--init`: pretrained starts from a state_dict, a checkpoint, a .safetensors file or
torchvision's weights (read from a hub cache made here; nothing is downloaded)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torchvision import models

from archspec.catalog import spec_path as spec_path_of
from archspec.spec import load_spec, spec_from_text
from archspec_cli import main
from runner.training.init import InitError, load_init, with_model_name
from runner.training.model import seeded_model
from tests.runner.helpers import SMALL_SPEC, write_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SMALL = spec_from_text(SMALL_SPEC)


def same_weights(a: torch.nn.Module, b: torch.nn.Module, skip: set[str] = frozenset()) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa if k not in skip)


@pytest.mark.parametrize("kind", ["pt", "pth-wrapped", "checkpoint", "safetensors"])
def test_each_file_kind_loads_by_name(tmp_path, kind):
    source = seeded_model(SMALL, 7, seed=5)
    if kind == "pt":
        path = tmp_path / "weights.pt"
        torch.save(source.state_dict(), path)
    elif kind == "pth-wrapped":
        path = tmp_path / "weights.pth"
        torch.save({"state_dict": source.state_dict(), "epoch": 3}, path)
    elif kind == "checkpoint":
        path = write_checkpoint(
            tmp_path / "best.pt", SMALL, [str(i) for i in range(7)], model=source
        )
    else:
        path = tmp_path / "weights.safetensors"
        save_file(source.state_dict(), path)
    model = seeded_model(SMALL, 7, seed=0)
    assert not same_weights(model, source)
    lines = []
    report = load_init(model, str(path), lines.append)
    assert same_weights(model, source)
    assert report.matched_by == "name" and report.reinitialised == []
    assert lines == [f"init: loaded 6 tensors from {path}, matched by name"]


def test_other_names_match_by_order_and_shape(tmp_path):
    source = seeded_model(SMALL, 7, seed=5)
    path = tmp_path / "renamed.pt"
    torch.save({f"net.{i}": v for i, v in enumerate(source.state_dict().values())}, path)
    model = seeded_model(SMALL, 7, seed=0)
    assert load_init(model, str(path), print).matched_by == "order and shape"
    assert same_weights(model, source)


def test_a_head_of_another_class_count_is_reinitialised(tmp_path, capsys):
    domain_model = seeded_model(SMALL, 4, seed=5)  # trained for the domain task: 4 classes
    path = write_checkpoint(tmp_path / "best.pt", SMALL, list("abcd"), model=domain_model)
    model = seeded_model(SMALL, 7, seed=0)
    drawn = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_init(model, str(path))
    head = {"classifier.3.weight", "classifier.3.bias"}
    assert set(report.reinitialised) == head
    assert same_weights(model, domain_model, skip=head)
    assert all(torch.equal(model.state_dict()[k], drawn[k]) for k in head)
    assert "re-initialised classifier.3.weight, classifier.3.bias" in capsys.readouterr().out


def test_torchvision_alexnet_loads_with_identical_outputs():
    reference = models.alexnet(num_classes=7).eval()
    model = seeded_model(load_spec(ROOT / "architectures" / "torchvision_alexnet.yaml"), 7, 0)
    model.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference(x))


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """A torch hub cache of its own (TORCH_HOME), empty."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_torchvision_weights_from_the_hub_cache(hub):
    weights = models.AlexNet_Weights.IMAGENET1K_V1
    published = models.alexnet()  # random weights stand in for the published ones
    hub.mkdir(parents=True)
    torch.save(published.state_dict(), hub / Path(weights.url).name)
    model = seeded_model(load_spec(ROOT / "architectures" / "torchvision_alexnet.yaml"), 7, 0)
    report = load_init(model, "torchvision:alexnet:IMAGENET1K_V1", print)
    assert report.imagenet
    assert report.reinitialised == ["classifier.6.weight", "classifier.6.bias"]
    assert same_weights(model, published, skip=set(report.reinitialised))


def test_torchvision_weights_missing_offline_say_where_to_put_them(hub):
    model = seeded_model(SMALL, 7, 0)
    with pytest.raises(InitError) as error:
        load_init(model, "torchvision:alexnet")
    message = str(error.value)
    assert str(hub / "alexnet-owt-7be5be79.pth") in message
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message


def test_a_zoo_spec_takes_its_own_models_weights_by_name(hub):
    weights = models.ResNet18_Weights.DEFAULT
    published = models.resnet18()  # random weights stand in for the published ones
    hub.mkdir(parents=True)
    torch.save(published.state_dict(), hub / Path(weights.url).name)
    spec_path = spec_path_of("resnet18")
    source = with_model_name("torchvision:DEFAULT", spec_path)
    assert source == "torchvision:resnet18:DEFAULT"
    model = seeded_model(load_spec(spec_path), 1000, 0)
    report = load_init(model, source, print)
    assert report.matched_by == "name" and not report.reinitialised
    assert same_weights(model, published)


def test_a_weights_name_alone_needs_a_zoo_spec():
    with pytest.raises(InitError, match=r"not a zoo spec.*torchvision:resnet50:DEFAULT"):
        with_model_name("torchvision:DEFAULT", ROOT / "architectures" / "tiny.yaml")
    assert with_model_name("torchvision:alexnet", None) == "torchvision:alexnet"  # as given


def test_unknown_torchvision_weights_are_listed(hub):
    with pytest.raises(InitError, match="IMAGENET1K_V1"):
        load_init(seeded_model(SMALL, 7, 0), "torchvision:alexnet:IMAGENET22K")


# --- what the user gets wrong, through the command line ---------------------------------------


def train(spec: Path, tmp_path: Path, *argv: str) -> int:
    return main(
        ["train", str(spec), "--task", "category", "--epochs", "1", "--out", str(tmp_path / "runs"),
         "--quiet", *argv]
    )  # fmt: skip


def test_init_with_tensors_that_do_not_fit_names_the_first_mismatch(spec_file, tmp_path, capsys):
    wider = spec_from_text(SMALL_SPEC.replace("out_channels: 6", "out_channels: 8"))
    path = tmp_path / "wider.pt"
    torch.save(seeded_model(wider, 7, 0).state_dict(), path)
    assert train(spec_file, tmp_path, "--init", str(path)) == 2
    err = capsys.readouterr().err
    assert "its tensors do not fit the model: tensor 0 disagrees" in err
    assert "the model's features.0.weight is 6x3x5x5" in err
    assert "the state_dict's features.0.weight is 8x3x5x5" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_init_from_another_network_names_where_it_parts(spec_file, tmp_path, capsys):
    deeper = spec_from_text(
        SMALL_SPEC.replace("    - ReLU\n", "    - ReLU\n    - Linear: {out_features: 16}\n")
    )
    path = tmp_path / "deeper.pt"
    torch.save(
        {f"t{i}": v for i, v in enumerate(seeded_model(deeper, 7, 0).state_dict().values())}, path
    )
    assert train(spec_file, tmp_path, "--init", str(path)) == 2
    err = capsys.readouterr().err
    assert "the model has 6 tensors but the state_dict has 8" in err and "Traceback" not in err


def test_init_torchvision_nosuchnet(spec_file, tmp_path, capsys):
    assert train(spec_file, tmp_path, "--init", "torchvision:alexnett") == 2
    err = capsys.readouterr().err
    assert "torchvision has no model 'alexnett'; did you mean alexnet?" in err
    assert train(spec_file, tmp_path, "--init", "torchvision:nosuchnet") == 2
    assert "torchvision has no model 'nosuchnet'" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, b"not a tensor file"])
def test_init_file_missing_or_unreadable(spec_file, tmp_path, capsys, content):
    path = tmp_path / "weights.pt"
    if content is not None:
        path.write_bytes(content)
    assert train(spec_file, tmp_path, "--init", str(path)) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err


def test_init_file_torch_refuses_never_advises_running_its_code(spec_file, tmp_path, capsys):
    path = tmp_path / "pickled.pt"
    torch.save({"made": datetime.date(2020, 1, 1)}, path)  # a global weights_only refuses
    assert train(spec_file, tmp_path, "--init", str(path)) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "not a file torch.save wrote with plain tensors" in err
    assert "weights_only" not in err and "Traceback" not in err
