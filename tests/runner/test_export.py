"""`archspec export`: a shipped spec's checkpoint to ONNX and TorchScript, checked independently."""

from __future__ import annotations

import json
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from archspec.spec import load_spec
from archspec_cli import main
from archspec_cli.deploy_commands import DEFAULT_OPSET, EXPORT_FORMATS
from runner.deploy import export
from runner.training.checkpoint import load_checkpoint
from tests.runner.helpers import write_checkpoint

ARCHITECTURES = Path(__file__).resolve().parents[2] / "architectures"
LABELS = ("art_painting", "cartoon", "photo", "sketch")  # the PACS domains
PACS_MEAN = [0.7659, 0.7463, 0.7173]  # the study's numbers (DESIGN.md), written out on purpose
PACS_STD = [0.3089, 0.3181, 0.3470]


def smallest_shipped_spec() -> Path:
    shipped = sorted(ARCHITECTURES.glob("*.yaml"))
    tiny = ARCHITECTURES / "tiny.yaml"  # a quarter of AlexNet's conv compute: the smallest
    assert tiny in shipped, f"tiny.yaml is no longer shipped: {[p.name for p in shipped]}"
    return tiny


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory holding only best.pt of tiny.yaml, untrained (seeded weights)."""
    run = tmp_path_factory.mktemp("run")
    write_checkpoint(run / "best.pt", load_spec(smallest_shipped_spec()), LABELS)
    return run


@pytest.fixture(scope="module")
def onnx_export(run_dir: Path) -> tuple[Path, str]:
    """(model.onnx written by `archspec export RUN --format onnx`, what it printed)."""
    out = StringIO()
    with redirect_stdout(out):
        code = main(["export", str(run_dir), "--format", "onnx"])
    assert code == 0
    return run_dir / "model.onnx", out.getvalue()


@pytest.fixture(scope="module")
def pytorch_logits(run_dir: Path):
    """x -> the logits of the checkpoint's model in PyTorch, as numpy."""
    model = load_checkpoint(run_dir / "best.pt").build_model()

    def logits(x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return model(x).numpy()

    return logits


def random_images(batch: int, seed: int) -> torch.Tensor:
    """(batch, 3, 227, 227): a seed of the test's own, not the one the command checks with."""
    return torch.randn(batch, 3, 227, 227, generator=torch.Generator().manual_seed(seed))


def test_onnx_export_matches_pytorch_in_onnxruntime(
    onnx_export: tuple[Path, str], pytorch_logits
) -> None:
    path, printed = onnx_export
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (3, 1):  # neither is the batch of 2 the export was traced with
        x = random_images(batch, seed=1234 + batch)
        (logits,) = session.run(["logits"], {"image": x.numpy()})
        expected = pytorch_logits(x)
        assert logits.shape == (batch, len(LABELS))
        assert np.abs(logits - expected).max() <= 1e-4
    assert "largest |difference|" in printed
    assert f"wrote {path}" in printed


def test_onnx_export_describes_itself(onnx_export: tuple[Path, str]) -> None:
    model = onnx.load(str(onnx_export[0]))
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["labels"]) == list(LABELS)
    assert metadata["task"] == "domain"
    assert metadata["spec_name"] == "AlexNetTiny"
    assert json.loads(metadata["input_shape"]) == [3, 227, 227]
    assert json.loads(metadata["mean"]) == PACS_MEAN
    assert json.loads(metadata["std"]) == PACS_STD


def test_onnx_export_has_a_dynamic_batch_dimension(onnx_export: tuple[Path, str]) -> None:
    graph = onnx.load(str(onnx_export[0])).graph
    (image,), (logits,) = graph.input, graph.output
    assert (image.name, logits.name) == ("image", "logits")
    image_dims = [(d.dim_param, d.dim_value) for d in image.type.tensor_type.shape.dim]
    logits_dims = [(d.dim_param, d.dim_value) for d in logits.type.tensor_type.shape.dim]
    assert image_dims == [("batch", 0), ("", 3), ("", 227), ("", 227)]
    assert logits_dims == [("batch", 0), ("", len(LABELS))]


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_export_loads_and_matches(
    run_dir: Path, pytorch_logits, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "deploy" / "tiny.pt"
    checkpoint = str(run_dir / "best.pt")  # a checkpoint file, not its run directory
    assert main(["export", checkpoint, "--format", "torchscript", "--out", str(out)]) == 0
    assert "largest |difference|" in capsys.readouterr().out
    extra = dict.fromkeys(("labels", "task", "spec_name", "input_shape", "mean", "std"), "")
    loaded = torch.jit.load(str(out), map_location="cpu", _extra_files=extra)
    x = random_images(3, seed=99)
    with torch.inference_mode():
        logits = loaded(x).numpy()
    assert np.abs(logits - pytorch_logits(x)).max() <= 1e-4
    assert json.loads(extra["labels"]) == list(LABELS)
    assert extra["task"] == b"domain"
    assert json.loads(extra["input_shape"]) == [3, 227, 227]
    assert json.loads(extra["mean"]) == PACS_MEAN


def test_an_export_that_differs_from_pytorch_writes_nothing(
    run_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    real = export.load_exported

    def off_by_a_little(data: bytes, fmt: str):
        run = real(data, fmt)
        return lambda x: run(x) + 1e-3

    monkeypatch.setattr(export, "load_exported", off_by_a_little)
    out = tmp_path / "model.pt"
    out.write_bytes(b"an earlier export")
    code = main(["export", str(run_dir), "--format", "torchscript", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "does not compute what the PyTorch model does" in err
    assert f"nothing was written to {out}" in err
    assert "Traceback" not in err
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no temporary file left


def test_an_unknown_format_is_refused_by_the_command_line(run_dir: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(run_dir), "--format", "tflite"])
    assert exit_.value.code == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err


def test_the_command_line_offers_every_format_the_exporter_knows() -> None:
    assert set(EXPORT_FORMATS) == set(export.FORMATS)
    assert DEFAULT_OPSET == export.DEFAULT_OPSET  # what --help says is what is used


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--format", "torchscript", "--opset", "18"], "--opset applies to --format onnx only"),
        (["--format", "onnx", "--batch", "0"], "--batch must be at least 1"),
        (["--format", "onnx", "--opset", "999"], "--opset must be between 1 and"),
        (["--format", "torchscript", "--batch", "100000"], "GiB for the example batch alone"),
    ],
)
def test_bad_flags_are_refused(run_dir: Path, capsys, flags: list[str], message: str) -> None:
    assert main(["export", str(run_dir), *flags, "--out", str(run_dir / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (run_dir / "x.onnx").exists()


def test_a_run_directory_without_a_checkpoint(tmp_path: Path, capsys) -> None:
    assert main(["export", str(tmp_path), "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} has no best.pt" in err
    assert "Traceback" not in err


def test_an_existing_directory_as_out(run_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path} is a directory" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_checkpoint_itself_as_out(run_dir: Path, capsys) -> None:
    before = (run_dir / "best.pt").read_bytes()
    out = str(run_dir / "best.pt")
    assert main(["export", str(run_dir), "--format", "torchscript", "--out", out]) == 2
    assert "is the checkpoint itself" in capsys.readouterr().err
    assert (run_dir / "best.pt").read_bytes() == before


def test_missing_onnx_packages_say_how_to_install_them(
    run_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "onnxruntime" in err
    assert "pip install 'archspec[export]'" in err
    assert not out.exists()


# What the installed exporter does with tiny.yaml, measured by exporting at every opset: it writes
# opset 18 and converts down, which works to opset 15 and fails below. One outcome per opset.
LOWEST_OPSET = 15


@pytest.mark.parametrize("opset", [13, 15, 17])
def test_each_opset_is_written_as_asked_or_refused_naming_the_lowest(
    run_dir: Path, tmp_path: Path, capsys, opset: int
) -> None:
    out = tmp_path / "old.onnx"
    code = main(
        ["export", str(run_dir), "--format", "onnx", "--opset", str(opset), "--out", str(out)]
    )
    err = capsys.readouterr().err
    if opset >= LOWEST_OPSET:
        assert code == 0, err
        opsets = {o.domain: o.version for o in onnx.load(str(out)).opset_import}
        assert opsets.get("", opsets.get("ai.onnx")) == opset
    else:
        assert code == 2
        assert f"cannot write ONNX opset {opset}" in err
        assert f"use --opset {LOWEST_OPSET} or higher" in err
        assert "Traceback" not in err
        assert not out.exists()


@pytest.mark.parametrize("name", ["last.pt", "spec.yaml"])
def test_the_runs_own_files_are_never_overwritten(run_dir: Path, name: str, capsys) -> None:
    own = run_dir / name
    own.write_bytes(b"the run's own file")  # whether the run wrote one or not
    out = str(own)
    assert main(["export", str(run_dir), "--format", "torchscript", "--out", out]) == 2
    err = capsys.readouterr().err
    assert f"would overwrite the run's own {name}" in err and "Traceback" not in err
    assert own.read_bytes() == b"the run's own file"
    own.unlink()  # the module's run directory, as the other tests expect it
