"""`archspec --version`, and --help that states every option's default."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib import metadata

import pytest
import tomllib
from spec_test_paths import REPO

from archspec import version as version_module
from archspec_cli import build_parser, main


def sub_commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) of every command and sub-command, e.g. ("data synth", ...)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{prefix}{name}", sub), *sub_commands(sub, f"{prefix}{name} ")]
    return found


COMMANDS = sub_commands(build_parser())
NO_DEFAULT = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def test_every_command_is_checked() -> None:
    names = {name for name, _ in COMMANDS}
    assert {"build", "train", "sweep", "predict", "export", "data synth"} <= names


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_help_states_the_default_of_every_option(name: str, parser) -> None:
    # argparse wraps lines, at spaces and hyphens, to the terminal's width: compare unwrapped.
    text = "".join(parser.format_help().split())
    for action in parser._actions:
        if not action.option_strings or isinstance(action, NO_DEFAULT):
            continue
        if action.required or action.const is True:  # a required flag, an on/off switch
            continue
        helped = " ".join(parser._get_formatter()._expand_help(action).split())
        assert "default" in helped, f"archspec {name} {action.option_strings[0]}: {helped!r}"
        assert "".join(helped.split()) in text
        assert "None" not in helped, f"archspec {name} {action.option_strings[0]}: {helped!r}"


def test_defaults_are_written_one_way() -> None:
    for name, parser in COMMANDS:
        text = " ".join(parser.format_help().split())
        assert "(default " not in text, f"archspec {name}: write (default: X)"


def test_version_is_the_installed_package_s(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"archspec-torch {metadata.version('archspec-torch')}\n"


def test_version_from_a_source_tree_that_was_never_installed(monkeypatch, capsys) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version_module.metadata, "version", not_installed)
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert version_module.archspec_version() == f"{declared} (source tree, not installed)"


def test_version_without_metadata_or_pyproject(monkeypatch, tmp_path) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version_module.metadata, "version", not_installed)
    monkeypatch.setattr(version_module, "PYPROJECT", tmp_path / "pyproject.toml")
    assert version_module.archspec_version() == "unknown (not installed)"


def test_python_dash_m_archspec_version() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "archspec", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("archspec-torch ") and done.stdout.strip() != "archspec-torch"


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_training_defaults_in_help_are_train_config_s(command: str) -> None:
    import dataclasses
    import re

    from runner.training.config import TrainConfig

    parser = dict(COMMANDS)[command]
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    checked = 0
    for action in parser._actions:
        name = action.dest
        value = defaults.get(name, dataclasses.MISSING)
        if value is None or value is dataclasses.MISSING or action.const is True:
            continue
        if command == "sweep" and name == "out":  # the sweep's own folder, not a run's parent
            continue
        said = re.search(r"\(default: ([^)]*)\)", parser._get_formatter()._expand_help(action))
        assert said, name
        shown = said[1] if isinstance(value, str) else type(value)(said[1])
        assert shown == value, f"--{name}: help says {said[1]}, TrainConfig has {value}"
        checked += 1
    assert checked >= 7  # --workers defaults to None (one thread per core): not compared


def test_the_other_archspec_package_installed_beside_is_named(
    monkeypatch, tmp_path, capsys
) -> None:
    # The system-architecture library of the same import name, as pip installs it.
    info = tmp_path / "archspec-0.2.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: archspec\nVersion: 0.2.7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["layers"]) == 2
    err = capsys.readouterr().err
    assert "'archspec' 0.2.7" in err and "Traceback" not in err
    assert "fix: install archspec-torch into its own virtual environment" in err
