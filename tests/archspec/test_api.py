"""The Python API: `archspec.build` and the rest, and the README's page about it, run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from spec_test_paths import ARCHITECTURES, REPO

import archspec
from archspec_cli import main

API_SECTION = "## Install as a library; the Python API"


def readme_snippets() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(API_SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_readme_page_runs_as_written(tmp_path, monkeypatch, capsys) -> None:
    snippets = readme_snippets()
    assert snippets, "the README's API page has no python snippet"
    monkeypatch.chdir(tmp_path)  # names work from any folder
    for snippet in snippets:
        exec(compile(snippet, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "missing required field 'out_channels'" in out and "fix:" in out
    assert "kernel_size" in out  # the diff names the changed field


def test_all_names_exist_and_are_documented() -> None:
    assert len(set(archspec.__all__)) == len(archspec.__all__)
    for name in archspec.__all__:
        value = getattr(archspec, name)
        if callable(value) and not isinstance(value, type) and name != "SpecLike":
            assert value.__doc__, f"archspec.{name} has no docstring"


def test_importing_archspec_does_not_import_torch() -> None:
    code = "import sys, archspec; archspec.summarize('resnet18'); print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_build_matches_the_command_line_s_model(capsys) -> None:
    model = archspec.build(ARCHITECTURES / "tiny.yaml", task="domain", device="meta")
    assert main(["build", "tiny", "--task", "domain", "--no-summary"]) == 0
    assert capsys.readouterr().out == f"{model}\n"


def test_build_under_the_meta_device_allocates_nothing() -> None:
    with torch.device("meta"):
        model = archspec.build("resnet18")
    tensors = [*model.parameters(), *model.buffers()]
    assert tensors and all(t.is_meta for t in tensors)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512  # torchvision's, 1000 classes


def test_a_mapping_is_a_spec_and_sets_apply_to_it() -> None:
    data = {
        "name": "Small",
        "input_shape": [3, 16, 16],
        "sections": {"features": [{"Conv2d": {"id": "c", "out_channels": 4, "kernel_size": 3}}]},
    }
    wide = archspec.validate_spec(data, sets=["c.out_channels=6"])
    assert wide.output_shape == (6, 14, 14)
    assert data["sections"]["features"][0]["Conv2d"]["out_channels"] == 4  # not changed


def test_spec_errors_carry_the_located_message(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: Bad\nsections:\n  features:\n    - Conv2d: {out_channels: 4}\n")
    with pytest.raises(archspec.SpecError) as error:
        archspec.load_spec(path)
    assert "line 4, features[0] Conv2d: missing required field 'kernel_size'" in str(error.value)
    assert error.value.problems[0].line == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "colour"}, "task must be one of domain, category"),
        ({"num_classes": 0}, "at least 1"),
    ],
)
def test_bad_arguments_are_value_errors(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        archspec.build("tiny", device="meta", **kwargs)


def test_a_spec_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(archspec.SpecError, match="a spec is a name, a path or a mapping, got int"):
        archspec.load_spec(3)  # type: ignore[arg-type]


def test_the_registry_is_read_only() -> None:
    kinds = archspec.layer_kinds()
    assert "Conv2d" in kinds
    with pytest.raises(TypeError):
        kinds["Mine"] = object  # type: ignore[index]


def test_no_name_hides_a_module_of_the_package() -> None:
    # `archspec.diff` must stay the module (monkeypatch and `import archspec.diff` rely on it)
    package = Path(archspec.__file__).parent
    for name in archspec.__all__:
        assert not (package / f"{name}.py").exists() and not (package / name).is_dir(), name
