"""The report's "Network diagrams" section: a Mermaid block per variant, the changes against the
base coloured, and the `archspec draw` command in place of a network too large to show."""

from __future__ import annotations

from pathlib import Path

import yaml

from archspec.spec import load_spec
from runner.study import diagram_section as section
from runner.study.plan import SweepRun

SPEC = """
name: {name}
input_shape: [3, 12, 12]
sections:
  features:
    - Conv2d: {{out_channels: 4, kernel_size: 3}}
    - ReLU
{extra}  classifier:
    - Linear: {{out_features: num_classes}}
"""


def runs(tmp_path: Path) -> list[SweepRun]:
    made = []
    for stem, name, extra in (
        ("alexnet", "Base", ""),
        ("pooled", "Pooled", "    - MaxPool2d: {kernel_size: 2}\n"),
    ):
        path = tmp_path / f"{stem}.yaml"
        path.write_text(SPEC.format(name=name, extra=extra))
        made.append(SweepRun(path, load_spec(path), "domain", tmp_path / f"{stem}-domain"))
    return made


def test_a_mermaid_block_per_variant_with_the_changes_against_the_base(tmp_path):
    text = "\n".join(section.diagram_section(runs(tmp_path)))
    assert text.startswith("## Network diagrams\n")
    assert "Against Base (`" in text
    base, pooled = text.split("### Base\n\n")[1].split("### Pooled\n\n")
    for block in (base, pooled):
        assert block.startswith("```mermaid\nflowchart TD\n")
        assert block.count("```") == 2
    assert "classDef" not in base  # the base is drawn plain
    assert "  class L3,legend_added added" in pooled  # MaxPool2d-3, only in Pooled
    # the Linear after the pool takes fewer inputs; num_classes is the domain task's 4
    assert 'L4["Linear-4<br/>out_features=num_classes<br/>4<br/>in_features 400-#gt;100"]' in pooled
    assert "  class L4,legend_changed changed" in pooled


def test_a_network_too_large_is_left_out_with_the_command_that_draws_it(tmp_path, monkeypatch):
    monkeypatch.setattr(section, "MAX_DRAWN_LAYERS", 3)
    made = runs(tmp_path)
    made[1].path.mkdir()
    config = {"spec_set": ["features.0.out_channels=8"]}
    (made[1].path / "config.yaml").write_text(yaml.safe_dump(config))
    text = "\n".join(section.diagram_section(made))
    base, pooled = text.split("### Base\n\n")[1].split("### Pooled\n\n")
    assert base.startswith("```mermaid")  # 3 layers: drawn
    assert "```mermaid" not in pooled
    assert "4 layers, more than a diagram here can show legibly (3): left out." in pooled
    command = f"archspec draw {made[1].spec_path.as_posix()} --out pooled.svg --task domain"
    assert f"`{command} --set features.0.out_channels=8`" in pooled


def test_no_runs_no_section():
    assert section.diagram_section([]) == []
