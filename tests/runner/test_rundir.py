"""Run directories: claimed atomically by concurrent runs, and refused early when `--out` cannot
hold them (a file, under a file, read-only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archspec.errors import UserError
from archspec_cli import main
from runner.training.rundir import check_out_dir, new_run_dir
from tests.runner.helpers import SMALL_SPEC

ROOT = Path(__file__).resolve().parents[2]


def race(out: Path, name: str, threads: int) -> tuple[list[Path], list[BaseException]]:
    """`threads` threads calling new_run_dir(out, name) at the same moment."""
    start = threading.Barrier(threads)
    claimed: list[Path] = []
    failures: list[BaseException] = []

    def claim() -> None:
        start.wait()  # all threads look for a free name at once
        try:
            claimed.append(new_run_dir(out, name).path)
        except BaseException as e:  # any failure is the test's finding
            failures.append(e)

    workers = [threading.Thread(target=claim) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return claimed, failures


def test_racing_threads_each_claim_their_own_directory(tmp_path: Path) -> None:
    threads = 12
    for round_ in range(8):
        name = f"run{round_}"
        claimed, failures = race(tmp_path, name, threads)
        assert failures == []
        assert len(set(claimed)) == threads  # no two threads were handed the same folder
        expected = [name] + [f"{name}-{n}" for n in range(2, threads + 1)]
        assert sorted(p.name for p in tmp_path.glob(f"{name}*")) == sorted(expected)


CLAIM = """
import os, sys
from pathlib import Path
from runner.training.rundir import new_run_dir
out, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    pass
for _ in range(40):
    run = new_run_dir(out, "same")
    (run.path / f"owner-{os.getpid()}").touch()
"""


def test_two_processes_claiming_the_same_name_never_share_a_directory(tmp_path: Path) -> None:
    out, go = tmp_path / "runs", tmp_path / "go"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM, str(out), str(r), str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    try:
        while not all(r.exists() for r in ready) and all(p.poll() is None for p in procs):
            time.sleep(0.005)
        go.touch()  # both start claiming together
        errors = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], errors
    runs = sorted(out.iterdir())
    assert len(runs) == 80
    for run in runs:
        assert len(list(run.iterdir())) == 1, f"{run} was handed to both processes"


def test_two_trainings_at_once_with_the_same_name_write_two_runs(
    synthetic: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    out = tmp_path / "runs"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "archspec", "train", str(spec), "--task", "domain"]
    command += ["--data", str(synthetic), "--epochs", "1", "--batch-size", "8", "--workers", "1"]
    command += ["--out", str(out), "--name", "same", "--quiet", "--device", "cpu"]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs = [subprocess.Popen(command, env=env, **pipes) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert sorted(p.name for p in out.iterdir()) == ["same", "same-2"]
    said = sorted(
        line for stdout, _ in results for line in stdout.splitlines() if "run dir" in line
    )
    assert said == [f"run directory: {out / 'same'}", f"run directory: {out / 'same-2'}"]
    for run in ("same", "same-2"):
        assert (out / run / "summary.json").is_file() and (out / run / "best.pt").is_file()


# ---- an --out that cannot hold runs


def test_out_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    out.write_text("notes")
    with pytest.raises(UserError, match=f"--out {out} is a file"):
        new_run_dir(out, "run")
    assert out.read_text() == "notes"


def test_out_lies_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("notes")
    out = tmp_path / "notes" / "runs"
    with pytest.raises(UserError, match=f"lies under {tmp_path / 'notes'}, which is a file"):
        new_run_dir(out, "run")


@contextmanager
def made_read_only(folder: Path) -> Iterator[Path]:
    """`folder`, made a folder this process really cannot create anything in, even as root.

    chmod stops other users; root ignores it, but not the immutable attribute (chattr +i).
    It proves the folder is unwritable by trying, and skips the test where it cannot be made so.
    """
    immutable = False
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        made = chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True)
        immutable = bool(made) and made.returncode == 0
    else:
        folder.chmod(0o555)
    try:
        try:
            (folder / "probe").mkdir()
        except OSError:
            pass
        else:
            pytest.skip("cannot make a read-only folder here")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    with made_read_only(folder):
        yield folder


def test_a_read_only_out(read_only_dir: Path) -> None:
    with pytest.raises(UserError, match=r"cannot write in .*read-only"):
        new_run_dir(read_only_dir, "run")
    with pytest.raises(UserError, match="cannot write in"):
        new_run_dir(read_only_dir / "deeper" / "runs", "run")  # the nearest existing folder
    assert list(read_only_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".", "", "/abs"])
def test_a_name_that_is_a_path_is_refused(tmp_path: Path, name: str) -> None:
    out = tmp_path / "runs"
    with pytest.raises(UserError, match="is not a folder name"):
        new_run_dir(out, name)
    assert list(tmp_path.iterdir()) == []  # nothing made, inside or outside --out


def test_train_refuses_such_a_name_before_reading_data(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    args = ["train", str(spec), "--task", "domain", "--data", str(tmp_path / "no-such-data")]
    assert main([*args, "--out", str(tmp_path / "runs"), "--name", "../x"]) == 2
    err = capsys.readouterr().err
    assert "--name '../x' is not a folder name" in err and "no-such-data" not in err


def test_check_out_dir_creates_nothing(tmp_path: Path) -> None:
    check_out_dir(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_check_out_dir_did_not_foresee_is_a_user_error(
    tmp_path: Path, monkeypatch
) -> None:
    # os.access can say yes where mkdir then fails (root on a network mount, a full disk).
    def refuse(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UserError, match=r"cannot create a run directory there \(No space left"):
        new_run_dir(tmp_path, "run")


@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("where", ["file", "under a file", "read-only"])
def test_train_and_sweep_refuse_such_an_out_before_reading_any_data(
    tmp_path: Path, capsys, request, where: str, command: str
) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    if where == "read-only":
        out = request.getfixturevalue("read_only_dir")
    else:
        (tmp_path / "notes").write_text("notes")
        out = tmp_path / "notes" if where == "file" else tmp_path / "notes" / "runs"
    missing = tmp_path / "no-such-data"  # read only after --out passes, so never read
    args = [command, str(spec), "--task", "domain", "--data", str(missing), "--out", str(out)]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert f"--out {out}" in err and "no-such-data" not in err
    assert "Traceback" not in err
