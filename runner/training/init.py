"""Pretrained starts: `--init SOURCE` loads weights into a freshly built model before training.

SOURCE is a `.pt`/`.pth` state_dict, an archspec checkpoint (best.pt, last.pt), a `.safetensors`
file, or `torchvision:NAME[:WEIGHTS]` (torchvision's published weights, read from torch's hub
cache). Tensors are matched by archspec's loader (archspec/weights.py): by name when the names
agree, else by order and shape (another naming scheme). The classifier's last Linear keeps its
own drawn weights when its class count differs; any other mismatch is refused, naming the first.
"""

from __future__ import annotations

import difflib
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from archspec.errors import UserError
from archspec.weights import load_state_dict_matching
from runner.training.checkpoint import load_failure

TORCHVISION = "torchvision:"


class InitError(UserError):
    """A starting point that cannot be read or does not fit the model."""


@dataclass
class InitReport:
    source: str
    matched_by: str  # "name" or "order and shape"
    loaded: list[str] = field(default_factory=list)  # the model's keys given the file's tensors
    reinitialised: list[str] = field(default_factory=list)  # kept as drawn: the head
    imagenet: bool = False  # torchvision's weights: trained on ImageNet-normalised images

    def lines(self) -> list[str]:
        lines = [
            f"init: loaded {len(self.loaded)} tensors from {self.source}, matched by "
            f"{self.matched_by}"
        ]
        if self.reinitialised:
            lines.append(
                f"init: re-initialised {', '.join(self.reinitialised)} (the class count differs)"
            )
        return lines


def load_init(
    model: nn.Module,
    source: str,
    say: Callable[[str], None] = print,
    read: tuple[dict[str, torch.Tensor], bool] | None = None,
) -> InitReport:
    """Load SOURCE's weights into `model` in place, say what was loaded, and return the report.

    `read` is what `read_state(source)` returned, when the caller read it early (to refuse a
    missing file before the data is decoded).
    """
    state, imagenet = read if read is not None else read_state(source)
    own = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state, reinitialised = keep_own_head(own, state, head_keys(model))
    try:
        loaded = load_state_dict_matching(model, state)
    except UserError as e:
        raise InitError(f"--init {source}: its tensors do not fit the model: {e}") from None
    matched_by = "name" if loaded.matched_by == "name" else "order and shape"
    names = [mine for mine, _ in loaded.pairs if mine not in reinitialised]
    report = InitReport(source, matched_by, names, reinitialised, imagenet)
    for line in report.lines():
        say(line)
    return report


# -- reading ---------------------------------------------------------------------------------


def read_state(source: str) -> tuple[dict[str, torch.Tensor], bool]:
    """(tensors by name, whether they are torchvision's ImageNet weights)."""
    if source.startswith(TORCHVISION):
        return _torchvision_state(source), True
    path = Path(source).expanduser()
    if path.is_dir() and (path / "best.pt").is_file():  # a run directory: its best model
        path = path / "best.pt"
    if not path.is_file():
        raise InitError(
            f"--init {source}: no such file; give a .pt/.pth state_dict, a checkpoint, a "
            ".safetensors file, or torchvision:NAME (e.g. torchvision:alexnet)"
        )
    if path.suffix == ".safetensors":
        try:
            from safetensors import SafetensorError
            from safetensors.torch import load_file
        except ImportError:
            raise InitError(
                f"--init {path}: reading .safetensors needs the safetensors package: "
                "pip install 'archspec[safetensors]'"
            ) from None

        try:
            return load_file(path), False
        except (SafetensorError, OSError) as e:
            raise InitError(f"--init {path}: not a readable .safetensors file ({e})") from None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise InitError(f"--init {path}: not a readable PyTorch file ({load_failure(e)})") from None
    return _tensors_of(payload, path), False


def _tensors_of(payload: object, path: Path) -> dict[str, torch.Tensor]:
    # An archspec checkpoint keeps the weights under "model"; training scripts often save
    # {"state_dict": ...}; a plain state_dict is the mapping itself.
    if isinstance(payload, dict):
        for key in ("model", "state_dict"):
            if isinstance(payload.get(key), dict):
                payload = payload[key]
                break
    if not isinstance(payload, dict) or not any(
        isinstance(v, torch.Tensor) for v in payload.values()
    ):
        raise InitError(
            f"--init {path}: holds no tensors by name; save the weights with "
            "torch.save(model.state_dict(), path)"
        )
    return {str(k): v for k, v in payload.items() if isinstance(v, torch.Tensor)}


def with_model_name(source: str, spec: str | Path | None) -> str:
    """`torchvision:DEFAULT` (a weights name alone) for a zoo spec: that model's weights,
    `torchvision:mobilenet_v3_small:DEFAULT`; any other SOURCE as it is."""
    from archspec.catalog import zoo_specs

    rest = source.removeprefix(TORCHVISION)
    if not source.startswith(TORCHVISION) or not re.fullmatch(r"[A-Z][A-Z0-9_]*", rest):
        return source
    for name, path in zoo_specs().items():
        if spec is not None and Path(spec).resolve() == path.resolve():
            return f"{TORCHVISION}{name}:{rest}"
    raise InitError(
        f"--init {source}: {spec} is not a zoo spec, so it names no torchvision model; name "
        f"the model, e.g. --init torchvision:resnet50:{rest}"
    )


def _torchvision_state(source: str) -> dict[str, torch.Tensor]:
    """torchvision:NAME[:WEIGHTS] from torch's hub cache; never downloads."""
    from torchvision import models

    name, _, weights_name = source.removeprefix(TORCHVISION).partition(":")
    known = models.list_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.models"
        raise InitError(f"--init {source}: torchvision has no model {name!r}; {hint}")
    choices = models.get_model_weights(name)
    if weights_name:
        if weights_name not in choices.__members__:
            raise InitError(
                f"--init {source}: {name} has no weights {weights_name!r}; it has "
                f"{', '.join(choices.__members__)}"
            )
        weights = choices[weights_name]
    else:
        weights = choices.DEFAULT
    file = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not file.is_file():
        raise InitError(
            f"--init {source}: torchvision's weights {weights} are not in torch's hub cache: "
            f"put {weights.url} at {file} (set TORCH_HOME to use another cache), e.g. with\n"
            f'  python -c "import torchvision; torchvision.models.get_model_weights({name!r})'
            f'.{weights.name}.get_state_dict()"'
        )
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise InitError(f"--init {source}: {file} is not readable ({e}); delete it") from None


# -- matching --------------------------------------------------------------------------------


def head_keys(model: nn.Module) -> set[str]:
    """The state_dict keys of the model's last Linear: the classifier head, sized by the task."""
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        return set()
    return {f"{linears[-1]}.weight", f"{linears[-1]}.bias"}


def keep_own_head(
    own: dict[str, torch.Tensor], given: dict[str, torch.Tensor], head: set[str]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """`given` with the head's tensors replaced by the model's own where the class count
    differs, and the keys so kept. Pairs tensors as the loader will: by name when the names
    agree, else in order."""
    if set(own) == set(given):
        pairs = [(key, key) for key in own]
    elif len(own) == len(given):
        pairs = list(zip(own, given, strict=True))
    else:
        return given, []  # the loader refuses it, naming where the two part
    kept, reinitialised = dict(given), []
    for mine, theirs in pairs:
        mine_t, theirs_t = own[mine], given[theirs]
        if mine in head and mine_t.ndim == theirs_t.ndim and mine_t.shape != theirs_t.shape:
            kept[theirs] = mine_t
            reinitialised.append(mine)
    return kept, reinitialised
