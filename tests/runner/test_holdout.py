"""Leave-one-domain-out: the epoch is chosen on the source domains, the held-out one is only
tested; the sweep trains one run per domain and reports the papers' table."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from archspec_cli import main
from runner.data import write_synthetic
from runner.study.sweep import run_sweep
from runner.training.config import TrainConfig
from runner.training.train import train_run
from tests.runner.helpers import SMALL_SPEC


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lodo") / "data"
    write_synthetic(root, seed=0, train_per_class=3, val_per_class=1, size=24)
    return root


def train(spec: Path, data: Path, out: Path, **overrides) -> Path:
    settings = dict(
        spec=str(spec),
        task="category",
        data=str(data),
        epochs=4,
        batch_size=16,
        lr=3e-3,
        out=str(out),
        workers=1,
        holdout_domain="sketch",
    )
    return train_run(TrainConfig(**{**settings, **overrides}), progress=False)


def metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def with_adversarial_labels(data: Path, copy: Path, domain: str) -> Path:
    """A copy of `data` whose `domain` images carry the wrong category: every category folder
    of that domain renamed to the next one, so a model right on it scores 0 there."""
    shutil.copytree(data, copy)
    for split in ("train", "val"):
        folder = copy / split / domain
        names = sorted(p.name for p in folder.iterdir())
        for name in names:
            (folder / name).rename(folder / f"tmp-{name}")
        for name, shifted in zip(names, names[1:] + names[:1], strict=True):
            (folder / f"tmp-{name}").rename(folder / shifted)
    return copy


def test_selection_never_reads_the_held_out_domain(synthetic, spec_file, tmp_path):
    honest = train(spec_file, synthetic, tmp_path / "a")
    adversarial_data = with_adversarial_labels(synthetic, tmp_path / "adversarial", "sketch")
    adversarial = train(spec_file, adversarial_data, tmp_path / "b")
    rows_a, rows_b = metrics(honest), metrics(adversarial)
    # The held-out labels changed what the test scores say...
    assert [r["test_accuracy"] for r in rows_a] != [r["test_accuracy"] for r in rows_b]
    # ...and nothing else: training, validation and the chosen epoch are the same.
    for key in ("train_loss", "val_accuracy", "val_loss"):
        assert [r[key] for r in rows_a] == [r[key] for r in rows_b]
    summary_a = json.loads((honest / "summary.json").read_text())
    summary_b = json.loads((adversarial / "summary.json").read_text())
    assert summary_a["best_epoch"] == summary_b["best_epoch"]
    assert summary_a["test_accuracy"] == float(rows_a[summary_a["best_epoch"] - 1]["test_accuracy"])
    assert "training-domain validation" in summary_a["selection"]
    tests = [float(r["test_accuracy"]) for r in rows_b]
    assert summary_b["oracle_test_accuracy"] == max(tests)
    assert summary_b["oracle_epoch"] == tests.index(max(tests)) + 1


def test_without_a_held_out_domain_nothing_is_tested(synthetic, spec_file, tmp_path):
    run = train(spec_file, synthetic, tmp_path, holdout_domain=None, epochs=1)
    assert {r["test_accuracy"] for r in metrics(run)} == {""}
    summary = json.loads((run / "summary.json").read_text())
    assert "test_accuracy" not in summary and "oracle_test_accuracy" not in summary


def test_leave_one_domain_out_sweep_report(synthetic, spec_file, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(SMALL_SPEC.replace("name: Small", "name: Other"))
    training = dict(data=str(synthetic), epochs=1, batch_size=32, workers=1, holdout_domain="all")
    result = run_sweep([spec_file, other], ["category"], tmp_path / "sweep", training, say=print)
    domains = ("art_painting", "cartoon", "photo", "sketch")
    assert sorted(r.name for r in result.runs) == sorted(
        f"{stem}-category-holdout-{d}" for stem in ("small", "other") for d in domains
    )
    report = result.report.read_text()
    assert "## Leave-one-domain-out" in report
    assert "training-domain validation" in report
    header = "| Spec | art_painting | cartoon | photo | sketch | Average |"
    assert report.count(header) == 3  # test, source validation, oracle
    table = report.split(header)[1].split("\n\n")[0]
    for run in result.runs:
        summary = json.loads((run.path / "summary.json").read_text())
        assert summary["holdout_domain"] == run.holdout
    small = [
        json.loads(
            (tmp_path / "sweep" / f"small-category-holdout-{d}" / "summary.json").read_text()
        )
        for d in domains
    ]
    cells = [f"{s['test_accuracy']:.1%}" for s in small]
    average = sum(s["test_accuracy"] for s in small) / 4
    assert f"| Small | {' | '.join(cells)} | {average:.1%} |" in table


def test_holdout_all_with_the_domain_task_is_refused(spec_file, tmp_path, capsys):
    code = main(
        ["sweep", str(spec_file), "--task", "domain", "--holdout-domain", "all",
         "--out", str(tmp_path / "sweep")]
    )  # fmt: skip
    assert code == 2
    assert "--task category" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_unknown_held_out_domain_is_refused(synthetic, spec_file, tmp_path, capsys):
    code = main(
        ["train", str(spec_file), "--task", "category", "--data", str(synthetic),
         "--holdout-domain", "painting", "--out", str(tmp_path)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown --holdout-domain 'painting'" in err and "art_painting, cartoon" in err
    assert "Traceback" not in err
