"""`archspec cache info|clear`: every cache under $ARCHSPEC_CACHE, and only ours removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec_cli import main
from runner.data.cache import cache_folder
from runner.data.cache_root import cache_root


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("ARCHSPEC_CACHE", str(root))
    monkeypatch.delenv("ARCHSPEC_DECODED_CACHE", raising=False)
    dataset = root / "synthetic-v2-seed3" / "train"
    dataset.mkdir(parents=True)
    (dataset / "a.png").write_bytes(b"x" * 1000)
    (root / ".synthetic-v2-seed0-k3j2").mkdir()  # left half-written by a killed run
    decoded = root / "decoded"
    decoded.mkdir()
    (decoded / "images-abc.bin").write_bytes(b"y" * 5000)
    (decoded / ".images-abc.lock").touch()
    (root / "notes.txt").write_text("the user's own file")  # not ours: never removed
    return root


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["cache", *args])
    return code, capsys.readouterr().out


def test_every_cache_is_under_one_root(root, tmp_path, monkeypatch) -> None:
    assert cache_root() == root
    assert cache_folder() == root / "decoded"
    monkeypatch.delenv("ARCHSPEC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "archspec"
    assert cache_folder() == tmp_path / "xdg" / "archspec" / "decoded"


def test_info_lists_sizes(root, capsys) -> None:
    code, out = run(capsys, "info")
    assert code == 0
    assert f"cache root: {root}" in out
    assert "embedded dataset, seed 3" in out and "1.0 kB" in out
    assert "embedded dataset (partial)" in out
    assert "decoded images" in out and "5.0 kB" in out
    assert "total: 6.0 kB" in out


def test_clear_one_kind_then_all_leaves_other_files(root, capsys) -> None:
    code, out = run(capsys, "clear", "decoded")
    assert code == 0 and "freed 5.0 kB" in out
    assert not (root / "decoded" / "images-abc.bin").exists()
    assert (root / "synthetic-v2-seed3" / "train" / "a.png").exists()
    code, out = run(capsys, "clear")
    assert code == 0
    assert not (root / "synthetic-v2-seed3").exists()
    assert not (root / ".synthetic-v2-seed0-k3j2").exists()
    assert (root / "notes.txt").read_text() == "the user's own file"
    code, out = run(capsys, "clear")
    assert code == 0 and "nothing to remove" in out


def test_a_root_that_does_not_exist_is_empty(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ARCHSPEC_CACHE", str(tmp_path / "none"))
    monkeypatch.setenv("ARCHSPEC_DECODED_CACHE", "off")
    code, out = run(capsys, "info")
    assert code == 0 and "nothing cached" in out


def test_an_unknown_kind_is_refused(root, capsys) -> None:
    assert main(["cache", "clear", "weights"]) == 2
    assert "unknown cache 'weights': give datasets or decoded" in capsys.readouterr().err
    assert (root / "decoded" / "images-abc.bin").exists()
