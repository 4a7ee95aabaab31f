"""What the commands that read a run say when given the wrong thing: a run stopped before its
first epoch (last.pt only), or a model written by `archspec export` instead of a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.spec import load_spec
from archspec_cli import main
from tests.runner.helpers import SMALL_SPEC, write_checkpoint

LABELS = ("art_painting", "cartoon", "photo", "sketch")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory):
    """Small (3x24x24, a few thousand weights): exports and loads in a fraction of a second."""
    path = tmp_path_factory.mktemp("spec") / "small.yaml"
    path.write_text(SMALL_SPEC)
    return load_spec(path)


@pytest.fixture
def image(tmp_path: Path, write_png) -> Path:
    return write_png(tmp_path / "images" / "one.png", size=(32, 32))


@pytest.fixture
def stopped_run(tmp_path: Path, spec) -> Path:
    """A run stopped inside its first epoch: last.pt (epoch 0), no best.pt."""
    run = tmp_path / "tiny-domain"
    run.mkdir()
    write_checkpoint(run / "last.pt", spec, LABELS, epoch=0)
    return run


def commands(run: Path, image: Path, tmp_path: Path) -> dict[str, list[str]]:
    return {
        "predict": ["predict", str(run), str(image)],
        "export": ["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "m.pt")],
        "visualize": ["visualize", str(run), "--out", str(tmp_path / "filters")],
        "compare": ["compare", str(run), str(run), "--out", str(tmp_path / "cmp")],
    }


@pytest.mark.parametrize("command", ["predict", "export", "visualize", "compare"])
def test_a_run_stopped_before_its_first_epoch_points_to_its_last_pt(
    stopped_run: Path, image: Path, tmp_path: Path, capsys, command: str
) -> None:
    assert main(commands(stopped_run, image, tmp_path)[command]) == 2
    err = capsys.readouterr().err
    assert f"{stopped_run} has no best.pt" in err
    assert "stopped before its first epoch" in err
    assert f"give {stopped_run / 'last.pt'}" in err
    assert "has no checkpoint yet" not in err  # the old message denied the last.pt it listed
    assert "Traceback" not in err


def test_the_resume_command_it_suggests_names_the_run_s_spec(
    stopped_run: Path, image: Path, capsys
) -> None:
    (stopped_run / "config.yaml").write_text("spec: architectures/tiny.yaml\ntask: domain\n")
    assert main(["predict", str(stopped_run), str(image)]) == 2
    err = capsys.readouterr().err
    assert f"`archspec train architectures/tiny.yaml --resume {stopped_run}`" in err


def test_the_last_pt_it_points_to_works(stopped_run: Path, image: Path, capsys) -> None:
    assert main(["predict", str(stopped_run / "last.pt"), str(image)]) == 0
    assert "one.png" in capsys.readouterr().out


def test_a_folder_with_no_checkpoint_at_all(tmp_path: Path, image: Path, capsys) -> None:
    assert main(["predict", str(tmp_path), str(image)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} has no best.pt: is it a run directory of `archspec train`?" in err


def test_a_folder_with_other_checkpoints_lists_them(tmp_path: Path, spec, image, capsys):
    write_checkpoint(tmp_path / "epoch5.pt", spec, LABELS)
    assert main(["predict", str(tmp_path), str(image)]) == 2
    err = capsys.readouterr().err
    assert f"give one of its checkpoints instead: {tmp_path / 'epoch5.pt'}" in err


def test_resuming_a_folder_without_last_pt_does_not_offer_best_pt(tmp_path: Path, spec, capsys):
    write_checkpoint(tmp_path / "best.pt", spec, LABELS)
    assert main(["train", "spec.yaml", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} has no last.pt to resume from" in err and "best.pt" not in err


@pytest.mark.parametrize(("fmt", "kind"), [("onnx", "ONNX"), ("torchscript", "TorchScript")])
def test_an_exported_model_is_named_as_such(
    tmp_path: Path, spec, image: Path, capsys, fmt: str, kind: str
) -> None:
    run = tmp_path / "run"
    write_checkpoint(run / "best.pt", spec, LABELS)
    assert main(["export", str(run), "--format", fmt]) == 0
    exported = run / ("model.onnx" if fmt == "onnx" else "model.pt")
    capsys.readouterr()
    assert main(["predict", str(exported), str(image)]) == 2
    err = capsys.readouterr().err
    assert f"{exported} is an exported {kind} model" in err
    assert "run directory" in err and "best.pt" in err
    assert "weights_only" not in err  # torch's advice to load it with code execution on
    assert "Traceback" not in err
