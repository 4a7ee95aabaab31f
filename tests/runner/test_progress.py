"""Progress bars on a terminal only: a log file gets the per-epoch lines, not every redraw."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from archspec_cli import main
from archspec_cli.progress import show_progress
from tests.runner.helpers import SMALL_SPEC


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal_and_never_when_quiet() -> None:
    assert show_progress(False, Terminal())
    assert not show_progress(True, Terminal())
    assert not show_progress(False, io.StringIO())  # a file, a pipe


def train_args(spec: Path, data: Path, out: Path) -> list[str]:
    return [
        "train", str(spec), "--task", "domain", "--data", str(data), "--epochs", "1",
        "--batch-size", "8", "--workers", "1", "--out", str(out), "--device", "cpu",
    ]  # fmt: skip


def test_training_into_a_log_draws_no_bars(synthetic: Path, tmp_path: Path, capsys) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    assert main(train_args(spec, synthetic, tmp_path / "runs")) == 0  # stderr: not a terminal
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "img/s" not in captured.err
    assert "decoding" not in captured.err and "epoch 1/1" not in captured.err
    assert "[Epoch 1] eval accuracy" in captured.out  # progress is still reported, per epoch


def test_training_on_a_terminal_draws_bars(
    synthetic: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)  # what tqdm and show_progress write to
    assert main(train_args(spec, synthetic, tmp_path / "runs")) == 0
    assert "decoding" in terminal.getvalue() and "epoch 1/1" in terminal.getvalue()
