"""`archspec predict` on generated PNGs, against the model's outputs computed here independently."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from archspec.spec import load_spec
from archspec_cli import main
from runner.deploy import predict as predict_module
from runner.training.checkpoint import load_checkpoint
from runner.training.model import seeded_model
from tests.runner.helpers import write_checkpoint

ARCHITECTURES = Path(__file__).resolve().parents[2] / "architectures"
LABELS = ("art_painting", "cartoon", "photo", "sketch")  # the PACS domains
PACS_MEAN = torch.tensor([0.7659, 0.7463, 0.7173]).view(3, 1, 1)  # the study's (DESIGN.md)
PACS_STD = torch.tensor([0.3089, 0.3181, 0.3470]).view(3, 1, 1)
# One colour per label; the checkpoint's last layer is fitted so that colour i means LABELS[i].
COLOURS = ((220, 30, 30), (30, 200, 40), (20, 40, 230), (245, 245, 245))


def write_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int], seed: int) -> Path:
    """A noisy colour PNG of `size` (width, height)."""
    noise = np.random.default_rng(seed).normal(0, 25, (size[1], size[0], 3))
    pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def preprocess(path: Path) -> torch.Tensor:
    """(3, 227, 227) as training normalises it: RGB / 255, then PACS mean and std. No resize."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)  # (H, W, 3)
    return (torch.from_numpy(pixels).permute(2, 0, 1) / 255 - PACS_MEAN) / PACS_STD


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One 227x227 image per label colour: no resize, so `preprocess` sees what predict sees."""
    folder = tmp_path_factory.mktemp("images")
    return [
        write_image(folder / f"{LABELS[i]}.png", colour, (227, 227), seed=i)
        for i, colour in enumerate(COLOURS)
    ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, images: list[Path]) -> Path:
    """best.pt of tiny.yaml (seeded) whose last Linear is fitted to tell the colours apart.

    Untrained, every image gets the same label; fitted, a mix-up of images or label order
    shows as a wrong label, not only as a small change in probability.
    """
    spec = load_spec(ARCHITECTURES / "tiny.yaml")
    model = seeded_model(spec, len(LABELS), seed=0).eval()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    seen = []
    hook = last.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    with torch.inference_mode():
        model(torch.stack([preprocess(p) for p in images]))
    hook.remove()
    features = seen[0]  # (4, 1024): what the last layer sees of each image
    # Logits wanted: 4.5 for the image's label, then -0.5, -1, -1.5 for the next labels in turn
    # (no ties, so the top-3 order is well defined).
    n = len(LABELS)
    shift = (torch.arange(n)[None, :] - torch.arange(n)[:, None]) % n  # (image, label) -> 0..3
    targets = torch.where(shift == 0, 4.5, -0.5 * shift)
    weight = torch.linalg.lstsq(features, targets).solution.T  # (4, 1024)
    with torch.no_grad():
        last.weight.copy_(weight)
        last.bias.zero_()
    run = tmp_path_factory.mktemp("run")
    write_checkpoint(run / "best.pt", spec, LABELS, model=model, epoch=7)
    return run


@pytest.fixture(scope="module")
def expected(run_dir: Path, images: list[Path]) -> torch.Tensor:
    """(N, 4) probabilities of each image, from the checkpoint's model, computed here."""
    model = load_checkpoint(run_dir / "best.pt").build_model()
    with torch.inference_mode():
        return torch.softmax(model(torch.stack([preprocess(p) for p in images])), dim=1)


def test_json_gives_each_image_its_label_and_probabilities(
    run_dir: Path, images: list[Path], expected: torch.Tensor, capsys
) -> None:
    assert main(["predict", str(run_dir), *map(str, images), "--top", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["spec_name"], result["task"], result["labels"]) == (
        "AlexNetTiny",
        "domain",
        list(LABELS),
    )
    assert [p["image"] for p in result["predictions"]] == [str(p) for p in images]
    for i, prediction in enumerate(result["predictions"]):
        assert prediction["label"] == LABELS[i] == LABELS[int(expected[i].argmax())]
        assert prediction["probability"] == pytest.approx(float(expected[i].max()), abs=1e-4)
        top = prediction["top"]
        assert len(top) == len(LABELS)  # --top 10 of 4 labels lists all 4
        assert sum(t["probability"] for t in top) == pytest.approx(1.0, abs=1e-5)
        for t in top:
            p = float(expected[i, LABELS.index(t["label"])])
            assert t["probability"] == pytest.approx(p, abs=1e-4)
        probabilities = [t["probability"] for t in top]
        assert probabilities == sorted(probabilities, reverse=True)


def test_text_lists_top_label_then_top_k_aligned(
    run_dir: Path, images: list[Path], expected: torch.Tensor, tmp_path: Path, capsys
) -> None:
    small = write_image(tmp_path / "small.png", COLOURS[2], (64, 40), seed=9)  # resized to 227
    assert main(["predict", str(run_dir / "best.pt"), *map(str, images), str(small)]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert "AlexNetTiny" in header
    assert len(lines) == len(images) + 1
    for i, line in enumerate(lines[: len(images)]):
        path, label, probability, top, k, *ranked = line.split()
        assert (path, label) == (str(images[i]), LABELS[i])
        assert float(probability) == pytest.approx(float(expected[i].max()), abs=1e-3)
        assert (top, k) == ("top", "3:")
        assert ranked[0::2] == [LABELS[j] for j in expected[i].argsort(descending=True)[:3]]
        assert float(ranked[1]) == float(probability)
    assert lines[-1].split()[0] == str(small)
    # aligned: every line's top label and its top-3 list start in the same column
    assert len({line.index(" top 3: ") for line in lines}) == 1
    assert len({line.index(line.split()[1], len(line.split()[0])) for line in lines}) == 1


def test_a_corrupt_image_is_named_and_the_others_still_labelled(
    run_dir: Path, images: list[Path], tmp_path: Path, capsys
):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n but then nothing an image would hold")
    assert main(["predict", str(run_dir), str(images[0]), str(corrupt)]) == 2
    captured = capsys.readouterr()
    assert "1 image of 2 was not labelled, cannot be decoded as an image" in captured.err
    assert f"  {corrupt}" in captured.err
    assert "Traceback" not in captured.err
    _, first, second = captured.out.splitlines()
    assert first.split()[:2] == [str(images[0]), LABELS[0]]
    assert second.split(maxsplit=1) == [str(corrupt), "cannot be decoded as an image"]


def test_a_missing_image_is_named(run_dir: Path, tmp_path: Path, write_png, capsys) -> None:
    missing = tmp_path / "nowhere.png"
    empty = tmp_path / "empty"
    (empty / ".hidden").mkdir(parents=True)
    write_png(empty / ".hidden" / "x.png")  # hidden: not an image of the folder
    (empty / "notes.txt").write_text("not an image")
    assert main(["predict", str(run_dir), str(missing), str(empty)]) == 2
    err = capsys.readouterr().err
    assert "2 paths of 2 cannot be used" in err
    assert f"{missing}: no such file or folder" in err
    assert f"{empty}: a folder with no image files" in err


@pytest.fixture
def folder(images: list[Path], tmp_path: Path) -> Path:
    """images[0], [1] at the top, [2], [3] one level down; a note and a hidden file beside."""
    root = tmp_path / "to-label"
    (root / "more").mkdir(parents=True)
    for i, image in enumerate(images):
        shutil.copy(image, (root if i < 2 else root / "more") / image.name.upper())
    (root / "notes.txt").write_text("not an image")
    (root / "._art_painting.png").write_bytes(b"macOS resource fork")
    return root


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_folder_stands_for_every_image_in_it(
    run_dir: Path, folder: Path, expected: torch.Tensor, capsys
) -> None:
    assert main(["predict", str(run_dir), str(folder), "--csv"]) == 0
    rows = read_csv(capsys.readouterr().out)
    names = [LABELS[i].upper() + ".PNG" for i in range(4)]
    wanted = [folder / names[0], folder / names[1], folder / "more" / names[2]]
    wanted.append(folder / "more" / names[3])
    assert [Path(r["image"]) for r in sorted(rows, key=lambda r: r["image"])] == sorted(wanted)
    for row in rows:
        i = names.index(Path(row["image"]).name)
        assert row["label"] == LABELS[i]
        assert float(row["probability"]) == pytest.approx(float(expected[i].max()), abs=1e-4)
        assert row["error"] == ""


def test_an_unreadable_file_in_a_folder_is_named_in_its_row_and_on_stderr(
    run_dir: Path, folder: Path, capsys
) -> None:
    broken = folder / "more" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    assert main(["predict", str(run_dir), str(folder), "--csv"]) == 2
    captured = capsys.readouterr()
    rows = {Path(r["image"]): r for r in read_csv(captured.out)}
    assert len(rows) == 5
    assert rows[broken]["label"] == "" and rows[broken]["error"] == "cannot be decoded as an image"
    assert all(r["label"] in LABELS for path, r in rows.items() if path != broken)
    assert "1 image of 5 was not labelled" in captured.err and str(broken) in captured.err


def test_predicting_a_folder_goes_chunk_by_chunk(
    run_dir: Path, folder: Path, expected: torch.Tensor, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(predict_module, "CHUNK", 3)  # 4 images: a chunk of 3, then one of 1
    assert main(["predict", str(run_dir), str(folder), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["predictions"]
    assert sorted(p["label"] for p in result) == sorted(LABELS)
    for p in result:
        assert p["label"] == Path(p["image"]).stem.lower()


def test_a_run_directory_without_a_checkpoint(tmp_path: Path, images: list[Path], capsys):
    assert main(["predict", str(tmp_path), str(images[0])]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} has no best.pt" in err
    assert "Traceback" not in err


def test_top_must_be_positive(run_dir: Path, images: list[Path], capsys) -> None:
    assert main(["predict", str(run_dir), str(images[0]), "--top", "0"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err
