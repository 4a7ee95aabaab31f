"""The sweep: every spec x task trained once, an interrupted sweep resumed, one report.

train_run is replaced by a fake that writes a minimal but real run directory (a real checkpoint
of a tiny spec, metrics.csv, summary.json) and records how it was called.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from archspec.errors import UserError
from archspec.spec import load_spec
from archspec_cli import main
from runner.study import report, sweep
from runner.training.config import TrainConfig
from runner.training.model import seeded_model
from tests.runner.helpers import write_checkpoint
from tests.runner.study_data import small_cache, small_embedded  # noqa: F401 (fixtures)

SPEC = """
name: {name}
input_shape: [3, 12, 12]
sections:
  features:
    - Conv2d: {{out_channels: 4, kernel_size: 3}}
    - ReLU
    - Conv2d: {{out_channels: 6, kernel_size: 3}}
  classifier:
    - Linear: {{out_features: num_classes}}
"""
LABELS = {
    "category": ("circle", "cross", "heart", "ring", "square", "star", "triangle"),
    "domain": ("art_painting", "cartoon", "photo", "sketch"),
}


# The report's CKA runs on the validation images; here the small embedded set's 56.
pytestmark = pytest.mark.usefixtures("small_embedded")


HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second"


class FakeTrainer:
    """Stands in for training.train.train_run; `interrupt_on=n` raises Ctrl-C in the n-th call."""

    def __init__(self, interrupt_on: int | None = None):
        self.calls: list[tuple[str, Path | None, int]] = []
        self.interrupt_on = interrupt_on

    def accuracy(self, config: TrainConfig) -> float:
        stem = len(Path(config.spec).stem)
        task = {"category": 0.5, "domain": 0.875}[config.task]
        return task + stem / 100 + config.seed * stem / 1000

    def __call__(self, config: TrainConfig, resume: Path | None = None, progress: bool = True):
        self.calls.append((config.name, resume, config.epochs))
        run = Path(config.out) / config.name
        spec = load_spec(config.spec, config.spec_set)
        labels = LABELS[config.task]
        if resume is None:
            run.mkdir(parents=True)  # like the real one: never into an existing folder
            (run / "config.yaml").write_text(yaml.safe_dump(config.to_data()))
            (run / "spec.yaml").write_text(yaml.safe_dump(spec.to_data(), sort_keys=False))
        else:
            assert (run / "last.pt").is_file()
        model = seeded_model(spec, len(labels), config.seed)

        def save(name: str, epoch: int) -> None:
            write_checkpoint(run / name, spec, labels, task=config.task, model=model,
                             config=config.to_data(), epoch=epoch)  # fmt: skip

        save("last.pt", 1)
        if len(self.calls) == self.interrupt_on:
            raise KeyboardInterrupt
        accuracy = self.accuracy(config)
        rows = [f"{e},1.0,0.5,1.1,{accuracy},0.001,2.0,50.0" for e in range(1, config.epochs + 1)]
        (run / "metrics.csv").write_text("\n".join([HEADER, *rows]) + "\n")
        save("best.pt", config.epochs)
        save("last.pt", config.epochs)
        summary = {
            "spec_name": spec.name,
            "spec_path": config.spec,
            "task": config.task,
            "labels": list(labels),
            "epochs": config.epochs,
            "best_val_accuracy": accuracy,
            "best_epoch": config.epochs,
            "final_val_accuracy": accuracy,
            "seconds_per_epoch": 2.0,
            "params": 1234,
            "mult_adds": 56789,
        }
        (run / "summary.json").write_text(json.dumps(summary))
        return run


@pytest.fixture
def specs(tmp_path: Path) -> list[Path]:
    paths = []
    for stem, name in (("alpha", "AlphaNet"), ("beta", "BetaNet")):
        path = tmp_path / "specs" / f"{stem}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(SPEC.format(name=name))
        paths.append(path)
    return paths


def install(monkeypatch, trainer: FakeTrainer) -> FakeTrainer:
    monkeypatch.setattr(sweep, "train_run", trainer)
    return trainer


def skip_report(monkeypatch) -> list[list[str]]:
    """Replace the report (tested on its own below) by a stub recording which runs it got."""
    reports: list[list[str]] = []

    def write_report(out, runs, say=print):
        reports.append([run.name for run in runs])
        return out / "report.md"

    monkeypatch.setattr(report, "write_report", write_report)
    return reports


def test_an_interrupted_sweep_resumes_without_retraining_finished_runs(
    tmp_path, specs, monkeypatch, capsys
):
    out = tmp_path / "sweep"
    args = ["sweep", *map(str, specs), "--task", "category", "domain", "--epochs", "2"]
    args += ["--out", str(out), "--quiet"]
    reports = skip_report(monkeypatch)
    first = install(monkeypatch, FakeTrainer(interrupt_on=2))
    assert main(args) == 130  # Ctrl-C during alpha-domain
    assert first.calls == [("alpha-category", None, 2), ("alpha-domain", None, 2)]
    assert "run the same command again" in capsys.readouterr().out
    assert reports == []

    second = install(monkeypatch, FakeTrainer())
    assert main(args) == 0
    assert second.calls == [
        ("alpha-domain", out / "alpha-domain", 2),  # resumed from its last.pt
        ("beta-category", None, 2),
        ("beta-domain", None, 2),
    ]  # alpha-category, finished, was not trained again
    assert "alpha-category: finished, skipped" in capsys.readouterr().out
    every_run = ["alpha-category", "alpha-domain", "beta-category", "beta-domain"]
    assert reports == [every_run]

    third = install(monkeypatch, FakeTrainer())
    assert main(args) == 0
    assert third.calls == []  # everything finished: only the report is written again
    assert reports == [every_run, every_run]


def test_the_report_has_tables_chart_filters_and_comparisons_with_relative_links(
    tmp_path, specs, monkeypatch
):
    install(monkeypatch, FakeTrainer())
    out = tmp_path / "sweep"
    result = sweep.run_sweep(specs, ["category", "domain"], out, {"epochs": 3}, say=lambda s: None)
    assert result.report == out / "report.md"
    text = result.report.read_text()

    assert "## Category task" in text and "## Domain task" in text
    # AlphaNet's category run: 0.5 + len("alpha") / 100 = 55.0%, best at epoch 3
    assert "| AlphaNet | 1,234 | 0.06 M | 55.0% | 3 | 55.0% | 2.0 | [alpha-category](" in text
    assert "| BetaNet | 1,234 | 0.06 M | 91.5% | 3 | 91.5% |" in text  # 0.875 + 0.04
    assert "Training settings: epochs 3, batch size 128" in text
    for spec in ("AlphaNet", "BetaNet"):
        assert f"## {spec} (`" in text
    assert text.count("| Layer | Kernels | category vs domain |") == 2
    assert text.count("| category moved | domain moved | CKA | CKA baseline |") == 2
    assert "### Category vs domain: filters and linear CKA" in text
    assert "the kernels are much different for the two sets" in text
    diagrams = text.split("## Network diagrams", 1)[1]  # the last section, one block per spec
    for spec in ("AlphaNet", "BetaNet"):
        block = diagrams.split(f"### {spec}\n\n", 1)[1]
        assert block.startswith("```mermaid\nflowchart TD\n")
        assert 'L3["Conv2d-3<br/>' in block.split("\n```", 1)[0]
    assert diagrams.count("```mermaid") == 2

    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "accuracy.png" in links
    assert "alpha-domain/filters/conv2d-1-rgb.png" in links
    assert "beta-category/filters/conv2d-3.png" in links
    assert "compare-alpha-category-vs-alpha-domain/cka.png" in links
    assert "alpha-category/curves.png" in links
    assert all(not Path(link).is_absolute() for link in links)
    moved = tmp_path / "moved" / "elsewhere"
    shutil.move(out, moved)
    missing = [link for link in links if not (moved / link).exists()]
    assert missing == []


def test_one_task_means_no_comparison(tmp_path, specs, monkeypatch):
    trainer = install(monkeypatch, FakeTrainer())
    result = sweep.run_sweep(specs[:1], ["domain"], tmp_path / "s", {"epochs": 1}, say=print)
    assert [c[0] for c in trainer.calls] == ["alpha-domain"]
    text = result.report.read_text()
    assert "## Domain task" in text and "## Category task" not in text
    assert "vs domain" not in text
    assert not list((tmp_path / "s").glob("compare-*"))


def test_a_run_with_other_settings_is_not_reused(tmp_path, specs, monkeypatch):
    skip_report(monkeypatch)
    install(monkeypatch, FakeTrainer())
    out = tmp_path / "s"
    sweep.run_sweep(specs[:1], ["domain"], out, {"epochs": 1}, say=print)
    trainer = install(monkeypatch, FakeTrainer())
    with pytest.raises(UserError, match=r"alpha-domain was trained with other settings \(lr="):
        sweep.run_sweep(specs[:1], ["domain"], out, {"epochs": 1, "lr": 0.1}, say=print)
    assert trainer.calls == []


def test_a_finished_run_asked_for_more_epochs_is_extended(tmp_path, specs, monkeypatch):
    skip_report(monkeypatch)
    install(monkeypatch, FakeTrainer())
    out = tmp_path / "s"
    sweep.run_sweep(specs[:1], ["domain"], out, {"epochs": 1}, say=print)
    trainer = install(monkeypatch, FakeTrainer())
    sweep.run_sweep(specs[:1], ["domain"], out, {"epochs": 4}, say=print)
    assert trainer.calls == [("alpha-domain", out / "alpha-domain", 4)]
    with pytest.raises(UserError, match="trained for 4 epochs, this sweep asks for 2"):
        sweep.run_sweep(specs[:1], ["domain"], out, {"epochs": 2}, say=print)


def test_a_folder_left_before_the_first_checkpoint_is_trained_again(tmp_path, specs, monkeypatch):
    skip_report(monkeypatch)
    out = tmp_path / "s"
    unstarted = out / "alpha-domain"
    unstarted.mkdir(parents=True)
    config = TrainConfig(str(specs[0]), "domain", epochs=1, out=str(out), name="alpha-domain")
    (unstarted / "config.yaml").write_text(yaml.safe_dump(config.to_data()))
    trainer = install(monkeypatch, FakeTrainer())
    sweep.run_sweep(specs[:1], ["domain"], out, {"epochs": 1}, say=print)
    assert trainer.calls == [("alpha-domain", None, 1)]

    (out / "beta-domain").mkdir()
    (out / "beta-domain" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=r"notes\.txt"):
        sweep.run_sweep(specs[1:], ["domain"], out, {"epochs": 1}, say=print)
    assert (out / "beta-domain" / "notes.txt").read_text() == "mine"


def test_bad_specs_are_reported_before_anything_is_trained(tmp_path, specs, monkeypatch, capsys):
    broken = tmp_path / "specs" / "broken.yaml"
    broken.write_text(SPEC.format(name="Broken").replace("kernel_size: 3}", "kernel_size: 30}"))
    trainer = install(monkeypatch, FakeTrainer())
    assert main(["sweep", str(specs[0]), str(broken), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "Traceback" not in err
    assert trainer.calls == []


def test_two_specs_with_one_stem_are_refused(tmp_path, specs, monkeypatch):
    other = tmp_path / "other" / "alpha.yaml"
    other.parent.mkdir()
    other.write_text(SPEC.format(name="AlphaTwo"))
    trainer = install(monkeypatch, FakeTrainer())
    with pytest.raises(UserError, match="alpha-<task>"):
        sweep.run_sweep([specs[0], other], ["domain"], tmp_path / "s", {}, say=print)
    assert trainer.calls == []


def test_a_held_out_domain_with_the_domain_task_is_refused_before_training(tmp_path, capsys):
    from archspec_cli import main

    spec = Path(__file__).parents[2] / "architectures" / "tiny.yaml"
    code = main(
        [
            "sweep",
            str(spec),
            "--holdout-domain",
            "sketch",
            "--out",
            str(tmp_path / "sweep"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--task category" in err and "Traceback" not in err
    assert not (tmp_path / "sweep").exists()


def test_a_real_sweep_stopped_by_ctrl_c_ends_as_if_never_stopped(tmp_path, monkeypatch):
    """Real training: Ctrl-C in the middle of the second run, then the same sweep again."""
    import torch

    from runner.data import write_synthetic
    from runner.training.checkpoint import load_checkpoint
    from runner.training.train import train_run
    from tests.runner.helpers import SMALL_SPEC

    data = tmp_path / "data"
    write_synthetic(data, seed=0, train_per_class=2, val_per_class=1, size=24)
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC)
    # The memory format is pinned: "auto" times both at start, and the two runs compared below
    # could pick different ones, whose float sums differ in the last bits.
    training = {"data": str(data), "epochs": 2, "batch_size": 16, "workers": 1,
                "memory_format": "contiguous"}  # fmt: skip
    calls: list[tuple[str, Path | None]] = []

    def stopping_train_run(config, resume=None, progress=True):
        calls.append((config.name, resume))

        def ctrl_c(epoch: int, batch: int) -> None:
            if len(calls) == 2 and (epoch, batch) == (1, 1):
                raise KeyboardInterrupt

        return train_run(config, resume=resume, progress=False, on_step=ctrl_c)

    monkeypatch.setattr(sweep, "train_run", stopping_train_run)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep([spec], ["category", "domain"], tmp_path / "a", training, say=print)
    assert (tmp_path / "a" / "small-category" / "summary.json").is_file()
    assert not (tmp_path / "a" / "small-domain" / "summary.json").exists()

    sweep.run_sweep([spec], ["category", "domain"], tmp_path / "a", training, say=print)
    # The finished run was not trained again; the stopped one was resumed, not restarted.
    assert calls[2:] == [("small-domain", tmp_path / "a" / "small-domain")]

    monkeypatch.setattr(sweep, "train_run", train_run)
    sweep.run_sweep([spec], ["category", "domain"], tmp_path / "b", training, say=print)
    for name in ("small-category", "small-domain"):
        a = yaml.safe_load((tmp_path / "a" / name / "summary.json").read_text())
        b = yaml.safe_load((tmp_path / "b" / name / "summary.json").read_text())
        for key in ("best_val_accuracy", "best_epoch", "final_val_accuracy", "labels"):
            assert a[key] == b[key], (name, key)
        weights_a = load_checkpoint(tmp_path / "a" / name / "last.pt").model_state
        weights_b = load_checkpoint(tmp_path / "b" / name / "last.pt").model_state
        assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a), name


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ---- seeds ---------------------------------------------------------------------------------------


def test_seeds_train_every_spec_once_per_seed_and_the_report_gives_mean_and_se(
    tmp_path, specs, monkeypatch
):
    trainer = install(monkeypatch, FakeTrainer())
    out = tmp_path / "s"
    result = sweep.run_sweep(specs, ["category"], out, {"epochs": 2}, seeds=[0, 1, 2], say=print)
    assert [c[0] for c in trainer.calls] == [
        f"{stem}-category-seed{n}" for stem in ("alpha", "beta") for n in range(3)
    ]
    for n in range(3):
        config = yaml.safe_load((out / f"alpha-category-seed{n}" / "config.yaml").read_text())
        assert config["seed"] == n
    text = result.report.read_text()
    assert "# Study: 2 specs x 1 task x 3 seeds" in text
    assert (
        "Training settings: epochs 2, batch size 128, lr 0.001, weight decay 0.0, seeds 0, 1, 2"
        in text
    )
    # AlphaNet: 0.55, 0.555, 0.56 -> mean 55.5%, sd 0.005, SE 0.005 / sqrt(3) = 0.29 points
    assert "| AlphaNet | 1,234 | 0.06 M | 55.5% ± 0.3 (n=3) | 2 | 55.5% ± 0.3 (n=3) |" in text
    assert "[seed 0](alpha-category-seed0/) [seed 1](alpha-category-seed1/)" in text
    # BetaNet - AlphaNet: -1.0, -1.1, -1.2 points; mean -1.1, SE 0.0577, t(2) 4.303: -1.35 to -0.85
    row = next(
        line for line in text.splitlines() if line.startswith("| BetaNet | category | 0, 1, 2")
    )
    assert row == "| BetaNet | category | 0, 1, 2 | -1.0 -1.1 -1.2 | -1.1 | -1.3 to -0.9 | worse |"
    assert "Figures of seed 0" in text


def test_a_sweep_without_seeds_pairs_its_variants_but_draws_no_verdict(
    tmp_path, specs, monkeypatch
):
    install(monkeypatch, FakeTrainer())
    result = sweep.run_sweep(specs, ["domain"], tmp_path / "s", {"epochs": 1}, say=print)
    text = result.report.read_text()
    tables = text.split("## Paired")[0]
    assert "±" not in tables and "(n=" not in tables  # one run each: accuracies as before
    assert "| BetaNet | domain | 0 | -1.0 | -1.0 |  | no difference detected at n=1 seed |" in text
    assert "train with --seeds 3" in text


def test_seeds_flags_count_or_list_them(tmp_path, specs, monkeypatch, capsys):
    trainer = install(monkeypatch, FakeTrainer())
    skip_report(monkeypatch)
    out = tmp_path / "s"
    common = [str(specs[0]), "--task", "domain", "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(["sweep", *common, "--seeds", "2"]) == 0
    assert [c[0] for c in trainer.calls] == ["alpha-domain-seed0", "alpha-domain-seed1"]
    assert main(["sweep", *common, "--seeds", "1", "5"]) == 0
    assert [c[0] for c in trainer.calls[2:]] == ["alpha-domain-seed5"]  # seed 1 is finished
    for bad, message in (
        (["--seeds", "0"], "give how many seeds"),
        (["--seeds", "1", "1"], "seed 1 given twice"),
        (["--seeds", "0", "-2"], "seeds are 0 or more"),
        (["--seeds", "3", "--seed", "4"], "--seed and --seeds do not go together"),
    ):
        assert main(["sweep", *common, *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert len(trainer.calls) == 3


def test_a_real_three_seed_sweep_then_a_fourth_seed_trains_only_it(tmp_path, monkeypatch):
    """Real training on the small embedded set: 1 epoch of the smallest spec, 12x12 images."""
    from runner.training.train import train_run

    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC.format(name="Tiny"))
    calls: list[str] = []

    def counting_train_run(config, resume=None, progress=True):
        calls.append(config.name)
        return train_run(config, resume=resume, progress=False)

    monkeypatch.setattr(sweep, "train_run", counting_train_run)
    out = tmp_path / "sweep"
    args = ["sweep", str(spec), "--task", "category", "--epochs", "1", "--batch-size", "32"]
    args += ["--workers", "1", "--device", "cpu", "--out", str(out), "--quiet"]
    assert main([*args, "--seeds", "3"]) == 0
    assert calls == [f"tiny-category-seed{n}" for n in range(3)]
    assert sorted(p.name for p in out.glob("tiny-*")) == calls
    text = (out / "report.md").read_text()
    accuracies = [
        json.loads((out / name / "summary.json").read_text())["best_val_accuracy"] for name in calls
    ]
    assert f"| {report.Estimate.of(accuracies).percent()} |" in text and "(n=3)" in text

    assert re.search(r"\| Tiny \| category \| .* \| \d+\.\d\d \(cpu\) \|", text)  # latency

    assert main([*args, "--seeds", "4"]) == 0
    assert calls[3:] == ["tiny-category-seed3"]  # seeds 0-2 finished: skipped
    assert "(n=4)" in (out / "report.md").read_text()


def test_the_lodo_table_gives_mean_and_se_over_seeds_of_each_domain_and_of_the_average(specs):
    from runner.study.lodo_table import lodo_section
    from runner.study.plan import plan_sweep
    from runner.study.replicates import group_seeds

    runs = plan_sweep(
        specs[:1], ["category"], Path("s"), holdouts=["photo", "sketch"], seeds=[0, 1]
    )
    test = {
        "alpha-category-holdout-photo-seed0": 0.55,
        "alpha-category-holdout-photo-seed1": 0.65,
        "alpha-category-holdout-sketch-seed0": 0.25,
        "alpha-category-holdout-sketch-seed1": 0.35,
    }
    assert sorted(r.name for r in runs) == sorted(test)
    summaries = {name: {"test_accuracy": value} for name, value in test.items()}
    text = "\n".join(lodo_section(group_seeds(runs), summaries))
    # photo: mean 0.60, sd 0.0707, SE 0.05; sketch 0.30 ± 0.05; the seeds' averages 0.40, 0.50
    assert "| AlphaNet | 60.0% ± 5.0 (n=2) | 30.0% ± 5.0 (n=2) | 45.0% ± 5.0 (n=2) |" in text
    assert "over 2 seeds" in text


def test_with_seeds_the_cka_baseline_is_another_seed_of_the_same_spec_and_task(
    tmp_path, specs, monkeypatch
):
    install(monkeypatch, FakeTrainer())
    out = tmp_path / "s"
    tasks = ["category", "domain"]
    result = sweep.run_sweep(specs[:1], tasks, out, {"epochs": 1}, seeds=[0, 1], say=print)
    text = result.report.read_text()
    assert "CKA baseline: category seed 0 against another seed" in text
    comparison = out / "compare-alpha-category-seed0-vs-alpha-domain-seed0" / "comparison.md"
    assert "alpha-category-seed1 (category task, seed 1)" in comparison.read_text()
    assert not list(out.glob("compare-*seed1*"))  # figures and comparisons: the first seed's


def test_the_cost_section_sets_accuracy_beside_cost_and_marks_the_frontier(
    tmp_path, specs, monkeypatch
):
    from runner.study.cost_table import cost_section
    from runner.study.replicates import group_seeds

    install(monkeypatch, FakeTrainer())
    out = tmp_path / "s"
    # beta: fewer parameters in the summary below and less accurate; alpha more of both
    runs = sweep.run_sweep(specs, ["domain"], out, {"epochs": 2}, seeds=[0, 1], say=print).runs
    summaries = {r.name: json.loads((r.path / "summary.json").read_text()) for r in runs}
    for name in summaries:
        if name.startswith("beta"):
            summaries[name]["params"] = 1000
    measured = {"alpha-domain-seed0": 2.0, "beta-domain-seed0": 3.0}
    lines = cost_section(
        group_seeds(runs), summaries, out, measure=lambda run: (measured[run.name], "cpu")
    )
    text = "\n".join(lines)
    # alpha: 0.925, 0.93 (n=2); on the frontier of every cost (beta is cheaper only in params)
    alpha = (
        "| AlphaNet | domain | 92.8% ± 0.3 (n=2) | 1,234 | 56,789 | 2.00 (cpu) | 50 (batch 128) "
    )
    assert alpha + "| parameters, mult-adds, ms / image |" in text
    assert "| BetaNet | domain | 91.7% ± 0.2 (n=2) | 1,000 | 56,789 | 3.00 (cpu) " in text
    assert text.split("| BetaNet |")[1].splitlines()[0].endswith("| parameters |")
    assert "pareto.png" in text and (out / "pareto.png").is_file()


@pytest.mark.skipif(torch_cuda(), reason="this machine has the run's device")
def test_latency_on_a_device_this_machine_lacks_is_not_measured_and_says_why(tmp_path):
    from runner.study.latency import run_latency

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"device": "cuda"}))
    assert run_latency(tmp_path) == (None, "cuda, not on this machine")


# ---- archspec report DIR... ----------------------------------------------------------------------


def test_report_merges_the_seeds_of_two_sweep_folders(tmp_path, specs, monkeypatch, capsys):
    install(monkeypatch, FakeTrainer())
    a, b, merged = tmp_path / "a", tmp_path / "b", tmp_path / "merged"
    sweep.run_sweep(specs, ["domain"], a, {"epochs": 1}, seeds=[0, 1], say=print)
    sweep.run_sweep(specs, ["domain"], b, {"epochs": 1}, seeds=[2], say=print)
    (b / "unfinished").mkdir()
    (b / "unfinished" / "config.yaml").write_text("task: domain\n")
    assert main(["report", str(a), str(b), "--out", str(merged)]) == 0
    assert "unfinished: not finished (no summary.json); left out" in capsys.readouterr().out
    text = (merged / "report.md").read_text()
    # AlphaNet, domain: 0.925, 0.93, 0.935 -> 93.0% ± 0.3 (n=3)
    assert "| AlphaNet | 1,234 | 0.06 M | 93.0% ± 0.3 (n=3) |" in text
    assert "(../a/alpha-domain-seed0/)" in text and "(../b/alpha-domain-seed2/)" in text
    assert "| BetaNet | domain | 0, 1, 2 |" in text  # paired over all three seeds

    own = (a / "report.md").read_text()
    assert main(["report", str(a)]) == 0  # one folder: its report written again, alike
    assert (a / "report.md").read_text().split("## Cost")[0] == own.split("## Cost")[0]


def test_report_keeps_grid_values_apart_from_the_sweeps_own_sets(tmp_path, specs, monkeypatch):
    install(monkeypatch, FakeTrainer())
    out = tmp_path / "g"
    training = {"epochs": 1, "spec_set": ("classifier.0.bias=false",)}
    grid = [("features.0.out_channels", ("4", "8"))]
    sweep.run_sweep(specs[:1], ["domain"], out, training, grid=grid, say=print)
    assert main(["report", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| AlphaNet (out_channels=4) | " in text and "| AlphaNet (out_channels=8) | " in text
    assert "bias=" not in text.split("## Domain task")[1].split("## Accuracy against")[0]


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"lr": 0.01}, r"trained with other settings \(lr\)"),
        ({"val_fraction": 0.3}, r"validation splits differ \(val_fraction\)"),
        ({"epochs": 2}, r"other settings \(epochs\)"),
    ],
)
def test_report_refuses_runs_that_measure_something_else(
    tmp_path, specs, monkeypatch, capsys, other, why
):
    install(monkeypatch, FakeTrainer())
    a, b = tmp_path / "a", tmp_path / "b"
    sweep.run_sweep(specs[:1], ["domain"], a, {"epochs": 1}, seeds=[0], say=print)
    sweep.run_sweep(specs[:1], ["domain"], b, {"epochs": 1, **other}, seeds=[1], say=print)
    capsys.readouterr()
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert re.search(why, err) and "alpha-domain-seed1" in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_report_refuses_two_folders_without_out_and_a_folder_without_runs(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), str(empty)]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    assert main(["report", str(empty)]) == 2
    assert "holds no run directories" in capsys.readouterr().err


def test_held_out_domains_are_paired_each_and_on_their_seed_by_seed_average(specs):
    from runner.study.paired_table import paired_section
    from runner.study.plan import plan_sweep
    from runner.study.replicates import group_seeds

    holdouts = ["photo", "sketch"]
    runs = plan_sweep(specs, ["category"], Path("s"), holdouts=holdouts, seeds=[0, 1, 2])
    test = {"alpha": {"photo": (0.50, 0.52, 0.54), "sketch": (0.30, 0.30, 0.36)},
            "beta": {"photo": (0.60, 0.61, 0.65), "sketch": (0.30, 0.32, 0.34)}}  # fmt: skip
    summaries = {r.name: {"test_accuracy": test[r.spec_path.stem][r.holdout][r.seed]} for r in runs}
    text = "\n".join(paired_section(group_seeds(runs), summaries))
    # photo: +10, +9, +11 points -> mean +10, SE 0.577, t(2) 4.303: +7.5 to +12.5
    row = "| BetaNet | category, photo held out | 0, 1, 2 | +10.0 +9.0 +11.0 | +10.0 "
    assert row + "| +7.5 to +12.5 | better |" in text
    # sketch: 0, +2, -2 -> mean 0: no difference
    assert "| +0.0 +2.0 -2.0 | +0.0 | -5.0 to +5.0 | no difference detected at n=3 seeds |" in text
    # averages per seed: alpha 0.40, 0.41, 0.45; beta 0.45, 0.465, 0.495 -> +5.0, +5.5, +4.5:
    # sd 0.5, SE 0.289, half-width 4.303 x 0.289 = 1.24
    average = "| BetaNet | category, average of photo, sketch held out | 0, 1, 2 | +5.0 +5.5 +4.5 "
    assert average + "| +5.0 | +3.8 to +6.2 | better |" in text
    assert "of 3 rows, about 1 in 20" in text
