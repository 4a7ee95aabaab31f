"""Size limits before parsing: a file over MAX_FILE_BYTES is refused without being read in
full, and a file under it with more values than any spec has is refused before its values are
built (what keeps memory bounded; times and memory were measured by hand, see README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec import loader
from archspec.errors import SpecError
from archspec.spec import spec_from_text

EXIT_USER_ERROR = 2
HEAD = "name: Net\ninput_shape: [3, 4, 4]\nsections:\n  features:\n    - ReLU\n"


def assert_refused(result, *fragments: str) -> None:
    assert result.code == EXIT_USER_ERROR, result.text
    assert "Traceback" not in result.text
    for fragment in fragments:
        assert fragment in result.text, f"{fragment!r} not in:\n{result.text}"


@pytest.mark.parametrize("command", ["validate", "build"])
def test_a_six_megabyte_file_is_refused(command: str, cli, tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(HEAD + "# " + "x" * (6 * 1024 * 1024) + "\n", encoding="utf-8")
    result = cli(command, path, "--num-classes", "2")
    assert_refused(result, f"{path}: 1 problem", "the file is larger than 5 MB", "fix: ")


def test_a_file_just_under_the_limit_is_read(cli, tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    padding = loader.MAX_FILE_BYTES - len(HEAD) - 3
    path.write_text(HEAD + "# " + "x" * padding + "\n", encoding="utf-8")
    assert path.stat().st_size == loader.MAX_FILE_BYTES
    result = cli("validate", path)
    assert result.code == 0, result.text


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_file_without_an_end_is_refused_after_the_limit(cli) -> None:
    assert_refused(cli("validate", "/dev/zero"), "the file is larger than 5 MB")


def test_text_over_the_limit_is_refused() -> None:
    with pytest.raises(SpecError, match="larger than 5 MB"):
        spec_from_text(HEAD + "#" * (loader.MAX_FILE_BYTES + 1))


def many_values(count: int) -> str:
    return HEAD + "description: [" + "0," * count + "0]\n"


def test_too_many_values_are_refused_before_they_are_built(cli, tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text(many_values(loader.MAX_NODES), encoding="utf-8")
    assert path.stat().st_size < loader.MAX_FILE_BYTES
    result = cli("validate", path)
    assert_refused(result, "line 6: the spec holds more than 200,000 keys and values", "fix: ")


def test_the_pure_python_loader_counts_values_too(monkeypatch) -> None:
    monkeypatch.setattr(loader, "_CLoader", None)
    monkeypatch.setattr(loader, "MAX_NODES", 1_000)  # the same check, reached sooner
    with pytest.raises(SpecError, match="more than 1,000 keys and values") as error:
        loader.parse_spec_text(many_values(1_000))
    assert error.value.problems[0].line == 6


def test_a_yaml_mistake_in_a_large_file_is_located(cli, tmp_path: Path) -> None:
    """Past SLOW_PATH_BYTES libyaml's own wording is kept: the pure-Python parser would take
    seconds a megabyte to word it."""
    path = tmp_path / "broken.yaml"
    text = HEAD + "description: " + "x" * loader.SLOW_PATH_BYTES + "\n   bad: [\n"
    path.write_text(text, encoding="utf-8")
    result = cli("validate", path)
    assert_refused(result, "line 7: YAML syntax error", "fix: check indentation")


def test_windows_line_ends_are_read_as_before(cli, tmp_path: Path) -> None:
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"name: Net\r\ninput_shape: [3, 4, 4]\r\nsections:\r\n  f: [Relu]\r\n")
    assert_refused(cli("validate", path), "line 4, f[0]: unknown layer kind 'Relu'")
