"""Training recipes: every field, from a file and from flags, checked like a spec; exact resume
with a schedule and augmentation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
import yaml

from archspec_cli import build_parser, main
from archspec_cli.run_commands import training_overrides
from runner.training.augment import Augmenter
from runner.training.checkpoint import load_checkpoint
from runner.training.config import TrainConfig
from runner.training.optimization import build_optimizer, build_schedule
from runner.training.recipe import IMAGENET_MEAN, Recipe, recipe_of, statistics
from runner.training.train import train_run

FULL_RECIPE = """\
# every field, with a value that is not the default
optimizer: sgd
lr: 0.05
weight_decay: 0.0005
momentum: 0.9
nesterov: true
schedule: cosine
warmup_epochs: 2
label_smoothing: 0.1
augment: domainbed
normalize: {mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3]}
"""


def overrides(*argv: str) -> dict:
    args = build_parser().parse_args(["train", "spec.yaml", "--task", "category", *argv])
    return training_overrides(args)


def test_every_field_from_a_file_reaches_the_config(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(FULL_RECIPE)
    given = overrides("--recipe", str(recipe))
    config = TrainConfig(spec="s.yaml", task="category", **given)
    assert recipe_of(config) == Recipe.model_validate(yaml.safe_load(FULL_RECIPE))
    assert config.recipe == str(recipe)


def test_flags_override_the_file(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("optimizer: sgd\nmomentum: 0.9\nlr: 0.01\n")
    given = overrides("--recipe", str(recipe), "--lr", "0.1", "--normalize", "imagenet")
    assert given["lr"] == 0.1 and given["momentum"] == 0.9 and given["normalize"] == "imagenet"


def test_defaults_are_the_study_recipe():
    recipe = recipe_of(TrainConfig(spec="s.yaml", task="domain"))
    assert (recipe.optimizer, recipe.lr, recipe.weight_decay, recipe.schedule) == (
        "adam",
        1e-3,
        0.0,
        "constant",
    )
    assert recipe.augment == "none" and recipe.label_smoothing == 0
    assert statistics(recipe, pretrained_imagenet=False)[0] == "pacs"
    assert statistics(recipe, pretrained_imagenet=True)[1] == IMAGENET_MEAN


@pytest.mark.parametrize(
    ("settings", "kind", "expected"),
    [
        ({"optimizer": "adam", "weight_decay": 0.1}, torch.optim.Adam, {"weight_decay": 0.1}),
        ({"optimizer": "adamw", "lr": 0.01}, torch.optim.AdamW, {"lr": 0.01}),
        (
            {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
            torch.optim.SGD,
            {"momentum": 0.9, "nesterov": True},
        ),
    ],
)
def test_optimizers(settings, kind, expected):
    optimizer = build_optimizer(Recipe(**settings), torch.nn.Linear(2, 2).parameters())
    assert type(optimizer) is kind
    for key, value in expected.items():
        assert optimizer.param_groups[0][key] == value


def learning_rates(recipe: Recipe, epochs: int) -> list[float]:
    optimizer = build_optimizer(recipe, torch.nn.Linear(2, 2).parameters())
    schedule = build_schedule(recipe, optimizer, epochs)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # as training does, before the schedule's step
        schedule.step()
    return rates


def test_schedules():
    assert learning_rates(Recipe(lr=0.1), 3) == [0.1, 0.1, 0.1]
    warm = learning_rates(Recipe(lr=0.1, schedule="cosine", warmup_epochs=2), 6)
    assert warm[:3] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])
    assert warm[3:] == pytest.approx([0.1 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (1, 2, 3)])
    step = learning_rates(Recipe(lr=0.1, schedule="step", step_size=2, gamma=0.5), 5)
    assert step == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def augment(kind: str, batch: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The augmented batch in [0, 1] (normalised with mean 0 and std 1)."""
    channels = batch.shape[1]
    return Augmenter(kind, channels, seed)(batch, (0.0,) * channels, (1.0,) * channels)


def test_augmentations_are_per_image_and_seeded():
    batch = torch.randint(0, 256, (8, 3, 24, 24), dtype=torch.uint8)
    plain = batch.float() / 255
    assert torch.allclose(augment("none", batch), plain)
    flipped = augment("flip", batch)
    mirrored = [torch.allclose(f, b.flip(-1)) for f, b in zip(flipped, plain, strict=True)]
    assert all(m or torch.allclose(f, b) for m, f, b in zip(mirrored, flipped, plain, strict=True))
    assert 0 < sum(mirrored) < 8  # each image its own coin
    one = Augmenter("domainbed", 3, 0)
    out = one(batch, (0.0,) * 3, (1.0,) * 3)
    assert out.shape == batch.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, augment("domainbed", batch))  # the same seed draws the same
    assert not torch.equal(one(batch, (0.0,) * 3, (1.0,) * 3), out)  # and the stream moves on
    same = batch[:1].expand(8, -1, -1, -1)
    varied = augment("domainbed", same, seed=1)
    assert len({bytes(image.flatten().numpy()) for image in varied}) == 8
    assert augment("domainbed", batch[:, :1]).shape == (8, 1, 24, 24)


def test_domainbed_normalises_with_the_given_statistics():
    batch = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8)
    unit = augment("domainbed", batch)
    normalised = Augmenter("domainbed", 3, 0)(batch, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    mean, std = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.25, 0.3])
    assert torch.allclose(normalised, (unit - mean[:, None, None]) / std[:, None, None], atol=1e-5)


def test_domainbed_crop_is_torchvisions_at_full_scale_and_flip():
    """A crop of the whole image, mirrored, is torchvision's horizontal flip, pixel for pixel."""
    batch = torch.randint(0, 256, (2, 3, 20, 30), dtype=torch.uint8)
    augmenter = Augmenter("domainbed", 3, 0)
    theta = torch.zeros(2, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = torch.tensor([-1.0, 1.0]), 1.0
    from torch.nn import functional as nnf

    from runner.training.augment import _grid

    x = batch.float() / 255
    out = nnf.grid_sample(x, _grid(theta, 20, 30), mode="bilinear", align_corners=False)
    assert torch.allclose(out[0], x[0].flip(-1), atol=1e-4)
    assert torch.allclose(out[1], x[1], atol=1e-4)
    assert (
        augmenter._crop_and_flip(64, 20, 30, torch.zeros(64, dtype=torch.bool))[:, 0, 0].min()
        >= math.sqrt(0.7 * 3 / 4) * 20 / 30 - 0.05
    )  # the narrowest box torchvision allows


def test_domainbed_colour_matches_torchvision_without_hue():
    """Brightness, contrast and saturation composed into one map equal torchvision's steps."""
    from torchvision.transforms.v2 import functional as F

    image = torch.rand(1, 3, 16, 16) * 0.5 + 0.25  # no step leaves [0, 1]
    augmenter = Augmenter("domainbed", 3, 0)
    factors = {"brightness": 1.2, "contrast": 0.8, "saturation": 1.25, "hue": 0.0}
    expected = F.adjust_saturation(F.adjust_contrast(F.adjust_brightness(image, 1.2), 0.8), 1.25)
    got = augmenter.jitter_with(image, factors, ["brightness", "contrast", "saturation", "hue"])
    assert torch.allclose(got, expected, atol=1e-5)


def test_label_smoothing_and_normalisation_reach_training(synthetic, spec_file, tmp_path):
    explicit = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
    config = TrainConfig(
        spec=str(spec_file), task="category", data=str(synthetic), epochs=1, batch_size=32,
        workers=1, out=str(tmp_path), label_smoothing=0.2, normalize=explicit,
    )  # fmt: skip
    run = train_run(config, progress=False)
    saved = yaml.safe_load((run / "recipe.yaml").read_text())
    assert saved["label_smoothing"] == 0.2
    assert saved["mean"] == explicit["mean"] and saved["std"] == explicit["std"]


def test_resume_is_exact_with_cosine_and_domainbed(synthetic, spec_file, tmp_path):
    settings = dict(
        spec=str(spec_file), task="category", data=str(synthetic), epochs=3, batch_size=16,
        workers=1, optimizer="sgd", momentum=0.9, lr=0.05, schedule="cosine", warmup_epochs=1,
        augment="domainbed", memory_format="contiguous",  # auto may pick another per run
    )  # fmt: skip
    whole = train_run(TrainConfig(**settings, out=str(tmp_path / "a")), progress=False)

    def interrupt(epoch: int, batch: int) -> None:
        if (epoch, batch) == (1, 2):
            raise KeyboardInterrupt

    config = TrainConfig(**settings, out=str(tmp_path / "b"))
    with pytest.raises(KeyboardInterrupt):
        train_run(config, progress=False, on_step=interrupt)
    stopped = tmp_path / "b" / "small-category"
    resumed = train_run(config, resume=stopped, progress=False)
    a, b = load_checkpoint(whole / "last.pt"), load_checkpoint(resumed / "last.pt")
    for key in a.model_state:
        assert torch.equal(a.model_state[key], b.model_state[key]), key
    assert a.state["schedule"] == b.state["schedule"]
    assert torch.equal(a.state["augment"]["rng_state"], b.state["augment"]["rng_state"])
    with (whole / "metrics.csv").open() as f, (resumed / "metrics.csv").open() as g:
        lr_a = [row["lr"] for row in csv.DictReader(f)]
        lr_b = [row["lr"] for row in csv.DictReader(g)]
    assert lr_a == lr_b == ["0.025", "0.05", "0.025"]  # warm-up, peak, cosine half-way


# --- what the user gets wrong ------------------------------------------------------------------


def run_cli(spec_file: Path, tmp_path: Path, *argv: str) -> int:
    return main(["train", str(spec_file), "--task", "category", "--out", str(tmp_path), *argv])


def test_unknown_recipe_field_is_located_with_a_suggestion(spec_file, tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("optimizer: sgd\nmomentum: 0.9\nwarmup_epoch: 1\n")
    assert run_cli(spec_file, tmp_path, "--recipe", str(recipe)) == 2
    err = capsys.readouterr().err
    assert f"{recipe}: 1 problem" in err
    assert "line 3: unknown field 'warmup_epoch'" in err
    assert "did you mean 'warmup_epochs'?" in err
    assert "Traceback" not in err
    assert sorted(tmp_path.iterdir()) == sorted([spec_file, recipe])  # no run directory started


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optimizer: adam\nmomentum: 0.9\n", "line 2: momentum applies to optimizer sgd only"),
        ("lr: -1\n", "line 1: lr: Input should be greater than 0"),
        ("augment: mixup\n", "line 1: augment:"),
        ("- sgd\n", "a recipe is a mapping"),
        ("optimizer: !!python/object/apply:os.system [ls]\n", "not allowed"),
        ("optimizer: sgd\nlr: 0.1\x00\n", "line 2: a NUL byte at column 8: a YAML file is plain"),
    ],
)
def test_bad_recipe_values_are_located(spec_file, tmp_path, capsys, text, expected):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    assert run_cli(spec_file, tmp_path, "--recipe", str(recipe)) == 2
    assert expected in capsys.readouterr().err


def test_bad_flags_are_named(spec_file, tmp_path, capsys):
    assert run_cli(spec_file, tmp_path, "--nesterov") == 2
    assert "nesterov needs optimizer sgd" in capsys.readouterr().err
    assert run_cli(spec_file, tmp_path, "--label-smoothing", "1.5") == 2
    assert "--label-smoothing" in capsys.readouterr().err
    assert run_cli(spec_file, tmp_path, "--normalize", "grey") == 2
    assert "--normalize 'grey'" in capsys.readouterr().err
    assert run_cli(spec_file, tmp_path, "--normalize", "0.5/0.25") == 2
    assert "the spec's input has 3 channels" in capsys.readouterr().err
    assert run_cli(spec_file, tmp_path, "--momentum", "0.9") == 2
    assert "momentum applies to optimizer sgd only" in capsys.readouterr().err
    assert not (tmp_path / "small-category").exists()


def test_an_empty_recipe_is_the_study_recipe(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("# nothing changed yet\n")
    given = overrides("--recipe", str(recipe))
    config = TrainConfig(spec="s.yaml", task="category", **given)
    assert recipe_of(config) == Recipe()
