"""The wheel, installed into a fresh virtual environment, works outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from spec_test_paths import REPO, SHIPPED_SPECS


def run(*args: object, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


def site_folders() -> list[str]:
    """The folders this test's dependencies are installed in (a venv's, the base's)."""
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the fresh environment's bin folder, the wheel) with only the wheel installed in it."""
    root = tmp_path_factory.mktemp("wheel")
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", REPO,
        cwd=root,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{built.stdout}\n{built.stderr}")
    (wheel,) = (root / "dist").glob("archspec_torch-*.whl")
    env_dir = root / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    # The dependencies (torch...) come from this test's environment, read-only; archspec itself
    # only from the wheel.
    purelib = run(bin_dir / "python", "-c", PURELIB, cwd=root).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text("\n".join(site_folders()) + "\n")
    done = run(bin_dir / "python", "-m", "pip", "install", "--no-deps", "--quiet", wheel, cwd=root)
    assert done.returncode == 0, done.stderr
    return bin_dir, wheel


def test_the_wheel_carries_the_specs_and_the_schema(installed) -> None:
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for spec in SHIPPED_SPECS:
        assert f"archspec/{spec.relative_to(REPO)}" in names  # the zoo's in architectures/zoo/
    assert "archspec/architectures/archspec-spec.schema.json" in names
    assert "archspec/py.typed" in names


def test_names_work_in_an_empty_folder(installed, tmp_path) -> None:
    bin_dir, _ = installed
    env = {**os.environ, "PYTHONPATH": ""}  # nothing of the repository on the path
    (tmp_path / "mine.yaml").write_text("extends: tiny\nname: Mine\n")
    archspec = bin_dir / "archspec"
    built = run(archspec, "build", "alexnet", "--num-classes", "10", cwd=tmp_path, env=env)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("AlexNet(")
    checked = run(archspec, "validate", "mine.yaml", cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "mine.yaml: ok (Mine:" in checked.stdout
    listed = run(archspec, "models", cwd=tmp_path, env=env)
    assert {line.split()[0] for line in listed.stdout.splitlines()[1:]} == {
        p.stem for p in SHIPPED_SPECS
    }
    code = (
        "import archspec; print(archspec.__file__);"
        "print(sum(p.numel() for p in archspec.build('tiny', num_classes=4).parameters()))"
    )
    api = run(bin_dir / "python", "-c", code, cwd=tmp_path, env=env)
    assert api.returncode == 0, api.stderr
    where, count = api.stdout.split()
    assert str(REPO) not in where and "site-packages" in where
    assert int(count) > 0
    version = run(archspec, "--version", cwd=tmp_path, env=env)
    assert version.stdout.startswith("archspec-torch 0.") and "source tree" not in version.stdout
