"""A training recipe: optimizer, schedule, loss, augmentation and normalisation, as plain data.

A recipe file uses the training flags' names, flat, and is validated like a spec (every problem
located by line, unknown fields with a suggestion):

    optimizer: sgd        # --optimizer
    momentum: 0.9         # --momentum
    lr: 0.01              # --lr
    schedule: cosine      # --schedule
    warmup_epochs: 1      # --warmup-epochs
    augment: domainbed    # --augment
    label_smoothing: 0.1  # --label-smoothing
    normalize: imagenet   # --normalize (or {mean: [...], std: [...]})

Flags override the file; whatever neither gives is the study's: Adam, lr 1e-3, no weight decay,
a constant learning rate, no augmentation, PACS normalisation.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from archspec.errors import Problem, SpecError, UserError
from archspec.loader import Document, read_spec_file
from runner.data.images import PACS_MEAN, PACS_STD

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's pretrained weights expect these
IMAGENET_STD = (0.229, 0.224, 0.225)
NAMED_NORMALIZATIONS = {"pacs": (PACS_MEAN, PACS_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}

Fraction = Annotated[float, Field(ge=0, lt=1)]


class Normalization(BaseModel):
    """Explicit per-channel statistics of the images, each in [0, 1] units."""

    model_config = ConfigDict(extra="forbid")

    mean: tuple[float, ...] = Field(min_length=1, max_length=3)
    std: tuple[Annotated[float, Field(gt=0)], ...] = Field(min_length=1, max_length=3)

    @model_validator(mode="after")
    def _same_length(self) -> Normalization:
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean has {len(self.mean)} values and std {len(self.std)}")
        return self


class Recipe(BaseModel):
    """Every field is also a training flag of that name (`--warmup-epochs` for warmup_epochs)."""

    model_config = ConfigDict(extra="forbid")

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"  # Adam: the study's
    lr: Annotated[float, Field(gt=0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    momentum: Fraction = 0.0  # sgd only
    nesterov: bool = False  # sgd with momentum only
    schedule: Literal["constant", "cosine", "step"] = "constant"
    warmup_epochs: Annotated[int, Field(ge=0)] = 0  # cosine: linear ramp over these epochs
    step_size: Annotated[int, Field(ge=1)] = 30  # step: epochs between decays
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1  # step: the decay factor
    label_smoothing: Fraction = 0.0
    augment: Literal["none", "flip", "domainbed"] = "none"
    # None: PACS's statistics, or ImageNet's when starting from torchvision's weights.
    normalize: Literal["pacs", "imagenet"] | Normalization | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        # A setting the chosen optimizer or schedule ignores is a mistake, not a no-op.
        if self.optimizer != "sgd" and self.momentum:
            raise ValueError("momentum applies to optimizer sgd only (Adam keeps its own)")
        if self.nesterov and not (self.optimizer == "sgd" and self.momentum > 0):
            raise ValueError("nesterov needs optimizer sgd with a momentum above 0")
        if self.warmup_epochs and self.schedule != "cosine":
            raise ValueError("warmup_epochs applies to schedule cosine only")
        return self

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


RECIPE_FIELDS = tuple(Recipe.model_fields)


def recipe_of(config: Any) -> Recipe:
    """The recipe a TrainConfig (or any object with the fields) describes."""
    return Recipe.model_validate({name: getattr(config, name) for name in RECIPE_FIELDS})


def load_recipe(path: str | Path) -> dict[str, Any]:
    """The fields a recipe file sets (validated, located errors); the others stay unset."""
    path = Path(path)
    if path.is_file() and _only_comments(path):
        return {}  # an empty recipe: the study's, like no recipe at all
    doc = read_spec_file(path)
    if not isinstance(doc.data, Mapping):
        raise SpecError(
            doc.source,
            [Problem("a recipe is a mapping of training settings, e.g. optimizer: sgd", line=1)],
        )
    try:
        recipe = Recipe.model_validate(doc.data)
    except ValidationError as e:
        raise SpecError(doc.source, [_problem(doc, err) for err in e.errors()]) from None
    return recipe.model_dump(mode="json", include=set(doc.data))


def _only_comments(path: Path) -> bool:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False  # read_spec_file says why
    return all(not line.strip() or line.lstrip().startswith("#") for line in lines)


def check_recipe(fields: Mapping[str, Any], source: str = "the training flags") -> Recipe:
    """Validate recipe fields from flags (and a file); a UserError names the flags."""
    try:
        return Recipe.model_validate(dict(fields))
    except ValidationError as e:
        lines = [f"  {_flag(err['loc'])}: {_message(err)}" for err in e.errors()]
        raise UserError(f"{source}:\n" + "\n".join(lines)) from None


def parse_normalize_flag(text: str) -> str | dict[str, list[float]]:
    """`pacs`, `imagenet`, or explicit statistics `MEAN,MEAN,MEAN/STD,STD,STD`."""
    if text in NAMED_NORMALIZATIONS:
        return text
    try:
        mean, std = text.split("/")
        return {
            "mean": [float(v) for v in mean.split(",")],
            "std": [float(v) for v in std.split(",")],
        }
    except ValueError:
        raise UserError(
            f"--normalize {text!r}: give pacs, imagenet, or MEAN/STD as comma-separated values "
            "per channel, e.g. 0.5,0.5,0.5/0.25,0.25,0.25"
        ) from None


def statistics(recipe: Recipe, *, pretrained_imagenet: bool) -> tuple[str, tuple, tuple]:
    """(name, mean, std) of the normalisation; ImageNet's by default for torchvision weights."""
    chosen = recipe.normalize
    if chosen is None:
        chosen = "imagenet" if pretrained_imagenet else "pacs"
    if isinstance(chosen, Normalization):
        return "explicit", chosen.mean, chosen.std
    mean, std = NAMED_NORMALIZATIONS[chosen]
    return chosen, mean, std


def run_normalization(config: Mapping[str, Any], channels: int) -> tuple[tuple, tuple]:
    """(mean, std) per input channel that a run with this stored config was trained with."""
    from runner.data.channels import per_channel

    recipe = Recipe.model_validate({k: config[k] for k in RECIPE_FIELDS if k in config})
    imagenet = str(config.get("init") or "").startswith("torchvision:")
    _, mean, std = statistics(recipe, pretrained_imagenet=imagenet)
    return per_channel(mean, channels), per_channel(std, channels)


def lr_factor(recipe: Recipe, epochs: int):
    """epoch -> multiplier of lr, the schedule as a pure function of the epoch (0-based)."""

    def constant(epoch: int) -> float:
        return 1.0

    def cosine(epoch: int) -> float:
        warm = recipe.warmup_epochs
        if epoch < warm:  # linear ramp, never 0: the first epoch must learn something
            return (epoch + 1) / (warm + 1)
        span = max(epochs - warm, 1)
        return 0.5 * (1 + math.cos(math.pi * (epoch - warm) / span))

    def step(epoch: int) -> float:
        return recipe.gamma ** (epoch // recipe.step_size)

    return {"constant": constant, "cosine": cosine, "step": step}[recipe.schedule]


def _flag(loc: tuple) -> str:
    return "--" + str(loc[0]).replace("_", "-") if loc else "the recipe"


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "not a recipe setting"
    return str(err["msg"]).removeprefix("Value error, ")


def _problem(doc: Document, err: Any) -> Problem:
    loc = err["loc"]
    line = doc.line_of(tuple(loc[:1])) if loc else 1
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[0]), RECIPE_FIELDS, n=1)
        hint = (
            f"did you mean '{close[0]}'?" if close else f"the fields are {', '.join(RECIPE_FIELDS)}"
        )
        return Problem(f"unknown field '{loc[0]}'", hint=hint, line=line)
    where = ".".join(str(p) for p in loc if not str(p).startswith("literal")) or "recipe"
    if not loc:  # a check across fields: its message starts with the field it is about
        field = _message(err).split()[0]
        return Problem(_message(err), line=doc.line_of((field,)) or 1)
    got = err.get("input")
    return Problem(f"{where}: {_message(err)} (got {got!r})", line=line)
