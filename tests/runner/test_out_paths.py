"""Every command that writes refuses an output path it cannot use with a message, exit 2, before
any work, and leaves what is there alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.spec import load_spec
from archspec_cli import main
from tests.runner.helpers import SMALL_SPEC, write_checkpoint
from tests.runner.test_rundir import made_read_only

LABELS = ("art_painting", "cartoon", "photo", "sketch")


def small_spec(folder: Path):
    path = folder / "small.yaml"
    path.write_text(SMALL_SPEC)
    spec = load_spec(path)
    path.unlink()
    return spec


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    write_checkpoint(folder / "best.pt", small_spec(folder), LABELS)
    return folder


def command(name: str, run: Path, out: Path) -> list[str]:
    return {
        "export": ["export", str(run), "--format", "torchscript", "--out", str(out / "m.pt")],
        "visualize": ["visualize", str(run), "--out", str(out)],
        "compare": ["compare", str(run), str(run), "--out", str(out)],
        "data synth": ["data", "synth", str(out), "--train-per-class", "1", "--size", "8"],
        "schema": ["schema", "--out", str(out / "s.json")],
    }[name]


NAMES = ["export", "visualize", "compare", "data synth", "schema"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_output_path_through_a_file(run: Path, tmp_path: Path, capsys, name, where) -> None:
    notes = tmp_path / "notes"
    notes.write_text("notes")
    out = notes if where == "a file" else notes / "deeper"
    if name in ("export", "schema") and where == "a file":
        out = notes  # their --out is a file name: notes/m.pt lies under the file
    assert main(command(name, run, out)) == 2
    err = capsys.readouterr().err
    assert str(notes) in err and "file" in err
    assert "Traceback" not in err
    assert notes.read_text() == "notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


def test_a_read_only_run_directory_is_a_message_not_a_traceback(tmp_path: Path, capsys) -> None:
    # visualize writes RUN/filters/ by default: there is no --out to check first, so the file
    # system refuses it, and the command line names the folder instead of a traceback.
    run = tmp_path / "run"
    write_checkpoint(run / "best.pt", small_spec(tmp_path), LABELS)
    with made_read_only(run):
        assert main(["visualize", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'filters'}: " in err
    assert "Traceback" not in err
    assert sorted(p.name for p in run.iterdir()) == ["best.pt"]
