"""Layer kinds from installed packages, through the `archspec.layers` entry-point group.

Each test installs a tiny distribution into a folder (its module and a real .dist-info with
entry_points.txt, what `pip install --target` leaves), puts that folder on the child process's
PYTHONPATH, and runs archspec there: importlib.metadata finds it as it finds any package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from spec_test_paths import REPO

SCALE = '''
import torch
from torch import nn

from archspec.layers.base import LayerSpec


class LearnedScale(nn.Module):
    def __init__(self, init: float = 1.0):
        super().__init__()
        self.init = init
        self.weight = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x):
        return x * self.weight

    def extra_repr(self):
        return f"init={self.init}"


class Scale(LayerSpec):
    """A learned scalar times the input."""

    torch_class = LearnedScale
    init: float = 1.0

    def build(self, shape, num_classes):  # a module of its own, not one of torch.nn's
        return LearnedScale(**self.torch_kwargs(shape, num_classes))
'''

SPEC = """\
name: WithScale
input_shape: [3, 8, 8]
sections:
  features:
    - Conv2d: {out_channels: 4, kernel_size: 3}
    - Scale: {init: 0.5}
  classifier:
    - Linear: {out_features: 2}
"""


def install(site: Path, dist: str, module: str, source: str, entry_points: str) -> Path:
    """Install the distribution `dist` 0.1, whose module `module` holds `source`, into `site`."""
    package = site / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    (info / "RECORD").write_text("")
    return site


def run_python(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def archspec(*args: str) -> str:
    """Python code running `archspec ARGS` and exiting with its code."""
    return f"import sys; from archspec_cli import main; sys.exit(main({list(args)!r}))"


def test_a_plugin_kind_is_listed_and_builds(tmp_path) -> None:
    site = install(
        tmp_path / "site",
        "archspec-scale",
        "archspec_scale",
        SCALE,
        "[archspec.layers]\nScale = archspec_scale:Scale\n",
    )
    (tmp_path / "net.yaml").write_text(SPEC)
    code = "\n".join(
        [
            "from archspec_cli import main",
            "assert main(['layers']) == 0",
            "print('---')",
            "assert main(['build', 'net.yaml', '--no-summary']) == 0",
        ]
    )
    completed = run_python(site, code, tmp_path)
    assert completed.returncode == 0, completed.stderr
    listing, printout = completed.stdout.split("---\n")
    assert "Scale  [input: any shape]  [from archspec-scale 0.1]  A learned scalar" in listing
    assert "Conv2d  [input: (C, H, W)]  [built-in]" in listing
    assert "    init: default 1.0" in listing
    assert "(1): LearnedScale(init=0.5)" in printout
    assert "(0): Linear(in_features=144, out_features=2, bias=True)" in printout


def test_without_the_plugin_its_kind_is_unknown(cli, tmp_path) -> None:
    (tmp_path / "net.yaml").write_text(SPEC)
    result = cli("validate", tmp_path / "net.yaml")
    assert result.code == 2
    assert "line 6, features[1]: unknown layer kind 'Scale'" in result.out


def test_a_plugin_cannot_take_a_built_in_kind(tmp_path) -> None:
    clash = '''
    from torch import nn
    from archspec.layers.base import LayerSpec

    class Conv2d(LayerSpec):
        """A convolution that is not PyTorch's."""
        torch_class = nn.Identity
    '''
    site = install(
        tmp_path / "site",
        "fancy-conv",
        "fancy_conv",
        clash,
        "[archspec.layers]\nConv2d = fancy_conv:Conv2d\n",
    )
    completed = run_python(site, archspec("layers"), tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert (
        "archspec layers: error: the package fancy-conv 0.1 adds the layer kind 'Conv2d', which "
        "is a built-in kind; a plugin cannot replace a kind" in completed.stderr
    )


def test_a_plugin_that_fails_to_import_is_named(tmp_path) -> None:
    site = install(
        tmp_path / "site",
        "broken-kinds",
        "broken_kinds",
        "raise RuntimeError('needs a GPU library')\n",
        "[archspec.layers]\nWeird = broken_kinds:Weird\n",
    )
    (tmp_path / "net.yaml").write_text(SPEC)
    completed = run_python(site, archspec("validate", "net.yaml"), tmp_path)
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    assert (
        "the package broken-kinds 0.1 adds the layer kind 'Weird' (broken_kinds:Weird), which "
        "cannot be imported: RuntimeError: needs a GPU library" in completed.stderr
    )


def test_no_kind_may_have_a_field_called_id() -> None:
    """Specs use `id` to name layers, and take it out before a kind sees its fields."""
    from torch import nn

    from archspec.layers import LAYER_KINDS, LayerSpec, register_layer

    class Tagged(LayerSpec):
        torch_class = nn.Identity
        id: int = 0

    with pytest.raises(TypeError, match="has a field named id, which specs use to name layers"):
        register_layer(Tagged)
    assert "Tagged" not in LAYER_KINDS
