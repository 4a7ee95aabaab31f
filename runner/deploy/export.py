"""Export a trained model to ONNX or TorchScript, checked against PyTorch before it is written.

A deployed model describes itself: the label names, task, spec name, input shape and the
normalisation it expects travel inside the file (ONNX `metadata_props`, TorchScript
`_extra_files`, under the same keys). The export is built in memory, loaded back by its own
runtime (onnxruntime, torch.jit.load), run on seeded random batches and compared with the PyTorch
model. Only an export within TOLERANCE is written, atomically: a bad or half-written file never
sits under the final name.

ONNX goes through `torch.onnx.export(dynamo=True)`, the torch.export-based exporter that is
PyTorch's default since 2.9 (the TorchScript-based one is deprecated). It needs onnx and
onnxscript; the check needs onnxruntime: `pip install archspec[export]`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from archspec.errors import UserError
from archspec.io import nearest_existing, write_atomic
from archspec.memory import check_memory
from archspec.shapes import resolve
from runner.data import PACS_MEAN, PACS_STD
from runner.training.checkpoint import Checkpoint
from runner.training.rundir import RUN_FILES

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}  # format -> suffix of the default file name
DEFAULT_OPSET = 18  # what the dynamo exporter writes natively (lower ones are converted down)
TOLERANCE = 1e-4  # largest |export - PyTorch| accepted on the logits
MAX_EXAMPLE_BYTES = 2**30  # --batch beyond this would only exhaust memory, proving nothing more
INPUT_NAME, OUTPUT_NAME, BATCH_DIM = "image", "logits", "batch"
PREPROCESSING = (
    "RGB image resized to input_shape's H x W, scaled to [0, 1], then (x - mean) / std per "
    f"channel; input '{INPUT_NAME}' float32 ({BATCH_DIM}, C, H, W), output '{OUTPUT_NAME}' "
    f"({BATCH_DIM}, len(labels)): softmax gives the probabilities"
)
# A model runs a (B, C, H, W) float32 batch and returns (B, num_classes) logits.
Runner = Callable[[torch.Tensor], torch.Tensor]


class ExportError(UserError):
    """An export that cannot be made, or that does not compute what the PyTorch model does."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    size_bytes: int
    opset: int | None  # ONNX only
    differences: dict[int, float]  # batch size -> largest |export - PyTorch| over the logits

    @property
    def max_difference(self) -> float:
        return max(self.differences.values())


def default_export_path(checkpoint_path: Path, fmt: str) -> Path:
    """`model.onnx` / `model.pt` beside the checkpoint (in its run directory)."""
    return Path(checkpoint_path).parent / f"model{FORMATS[fmt]}"


def export_metadata(checkpoint: Checkpoint) -> dict[str, str]:
    """What a deployment needs to feed the model and name its outputs; lists as JSON text."""
    return {
        "labels": json.dumps(list(checkpoint.labels)),
        "task": checkpoint.task,
        "spec_name": checkpoint.spec.name,
        "input_shape": json.dumps(list(checkpoint.spec.input_shape)),  # (C, H, W)
        "mean": json.dumps(list(PACS_MEAN)),  # training normalises every batch with these
        "std": json.dumps(list(PACS_STD)),
        "preprocessing": PREPROCESSING,
    }


# Long: trace, check against PyTorch at two batch sizes, then write; each step's error names
# what to do, and nothing is written until the check has passed.
def export_checkpoint(
    checkpoint: Checkpoint,
    fmt: str,
    out: Path | None = None,
    *,
    opset: int | None = None,
    batch: int = 2,
    seed: int = 0,
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Export `checkpoint`'s model as `fmt`, check it against PyTorch, write it atomically.

    `batch` is the example batch size used to trace and to check; an ONNX model still takes any
    batch size, which the check proves by also running a batch of another size.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    path = Path(out) if out is not None else default_export_path(checkpoint.path, fmt)
    _check_destination(path, checkpoint.path, fmt)
    if batch < 1:
        raise ExportError(f"--batch must be at least 1, got {batch}")
    example_bytes = batch * math.prod(checkpoint.spec.input_shape) * 4  # float32
    if example_bytes > MAX_EXAMPLE_BYTES:
        raise ExportError(
            f"--batch {batch} needs {example_bytes / 2**30:.1f} GiB for the example batch alone; "
            "it only has to exercise the batch dimension: the default, 2, does"
        )
    if opset is not None and fmt != "onnx":
        raise ExportError("--opset applies to --format onnx only")
    if fmt == "onnx":  # before the model is built: say what to install, or fix, first
        _import_export_dependencies()
        _check_opset(opset or DEFAULT_OPSET)

    resolved = resolve(checkpoint.spec, len(checkpoint.labels))
    check_memory(resolved, "cpu", batch, training=False, what="export")  # before building
    model = checkpoint.build_model()
    shape = checkpoint.spec.input_shape
    generator = torch.Generator().manual_seed(seed)
    example = torch.randn(batch, *shape, generator=generator)  # (B, C, H, W)
    metadata = export_metadata(checkpoint)
    if fmt == "onnx":
        try:
            data, opset = onnx_bytes(model, example, metadata, opset or DEFAULT_OPSET)
        except OpsetError as e:
            lowest = lowest_opset(model, example, metadata, above=e.asked, known_good=e.written)
            raise ExportError(
                f"cannot write ONNX opset {e.asked} for {checkpoint.spec.name}: the exporter "
                f"cannot convert this model down to it; the lowest opset it exports to is "
                f"{lowest}: use --opset {lowest} or higher"
            ) from None
        other = torch.randn(1 if batch != 1 else 2, *shape, generator=generator)
        batches = [example, other]  # two batch sizes: the batch dimension is really dynamic
    else:
        data = torchscript_bytes(model, example, metadata)
        batches = [example]

    exported = load_exported(data, fmt)
    differences = {len(x): largest_difference(model, exported, x) for x in batches}
    worst = max(differences.values())
    if not worst <= tolerance:  # also catches NaN
        measured = ", ".join(f"{d:.3g} at batch {b}" for b, d in differences.items())
        raise ExportError(
            f"the {fmt} export of {checkpoint.path} does not compute what the PyTorch model "
            f"does: largest |difference| {measured} (tolerance {tolerance:g}); "
            f"nothing was written to {path}"
        )
    try:
        write_atomic(path, lambda f: f.write(data))
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from e
    return ExportResult(path, fmt, len(data), opset, differences)


class OpsetError(ExportError):
    """The exporter wrote another opset than the one asked for (converting down failed)."""

    def __init__(self, asked: int, written: int):
        super().__init__(f"cannot write ONNX opset {asked} (the exporter wrote opset {written})")
        self.asked, self.written = asked, written


def lowest_opset(
    model: nn.Module,
    example: torch.Tensor,
    metadata: dict[str, str],
    *,
    above: int,
    known_good: int,
) -> int:
    """The lowest opset in (above, known_good] that `model` exports to, found by exporting.

    Which opsets work depends on the model's operators and the installed onnxscript's
    converters, so it is measured, not listed. Bisection assumes that an opset which converts
    makes every higher one convert too; it costs a few exports, and only on this error path.
    """
    low, high = above, known_good  # low fails, high works
    while high - low > 1:
        middle = (low + high) // 2
        try:
            onnx_bytes(model, example, metadata, middle)
        except OpsetError:
            low = middle
        else:
            high = middle
    return high


def _check_destination(path: Path, checkpoint_path: Path, fmt: str) -> None:
    if path.is_dir():
        example = path / f"model{FORMATS[fmt]}"
        raise ExportError(f"--out {path} is a directory; give a file name, e.g. {example}")
    blocker = nearest_existing(path.parent)
    if not blocker.is_dir():
        raise ExportError(f"--out {path} lies under {blocker}, which is a file, not a folder")
    if path.exists() and path.resolve() == Path(checkpoint_path).resolve():
        raise ExportError(f"--out {path} is the checkpoint itself; give another file name")
    run = Path(checkpoint_path).resolve().parent
    if path.name in RUN_FILES and path.resolve().parent == run:
        example = path.with_name(f"model{FORMATS[fmt]}")
        raise ExportError(
            f"--out {path} would overwrite the run's own {path.name}; give another file name, "
            f"e.g. {example}"
        )


def largest_difference(model: nn.Module, exported: Runner, x: torch.Tensor) -> float:
    """max |exported(x) - model(x)| over the logits."""
    with torch.inference_mode():
        expected = model(x)
    return float((exported(x) - expected).abs().max())


# ---- ONNX


def onnx_bytes(
    model: nn.Module, example: torch.Tensor, metadata: dict[str, str], opset: int
) -> tuple[bytes, int]:
    """The serialised ONNX model (batch dimension dynamic, metadata set) and its opset."""
    onnx = _import_export_dependencies()
    _check_opset(opset)
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                model,
                (example,),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                dynamic_shapes=({0: torch.export.Dim(BATCH_DIM)},),
                dynamo=True,
                verbose=False,
            )
    except torch.onnx.errors.OnnxExporterError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(
            f"torch.onnx cannot export this model ({reason}); --format torchscript may work"
        ) from e
    proto = program.model_proto
    written = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if written != opset:
        # The exporter writes opset 18 and up and converts down when asked; when converting
        # fails it keeps its own opset and only logs it. A silent other opset is no answer.
        raise OpsetError(opset, written)
    _check_signature(proto)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = f"{metadata['spec_name']} ({metadata['task']} task), exported by archspec"
    return proto.SerializeToString(), written


def _check_opset(opset: int) -> None:
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not 1 <= opset <= newest:
        raise ExportError(f"--opset must be between 1 and {newest} (onnx {onnx.__version__})")


def _check_signature(proto) -> None:
    """One input `image` and one output `logits`, both with the symbolic batch dimension."""
    for role, values, name in (
        ("input", proto.graph.input, INPUT_NAME),
        ("output", proto.graph.output, OUTPUT_NAME),
    ):
        found = [
            (v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            for v in values
        ]
        if len(found) != 1 or found[0][0] != name or found[0][1][:1] != [BATCH_DIM]:
            raise ExportError(
                f"the ONNX exporter wrote the {role}s as {found}, expected one {role} {name} "
                f"with a dynamic first dimension '{BATCH_DIM}'"
            )


def _import_export_dependencies():
    """onnx, after checking that the exporter's and the check's packages are all installed."""
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(
            f"ONNX export needs {', '.join(missing)}, not installed here: "
            "pip install 'archspec[export]'"
        )
    import onnx

    return onnx


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's own logging; what matters is checked and reported afterwards."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _onnx_runner(data: bytes) -> Runner:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's pybind errors share no useful base class
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(
            f"onnxruntime {onnxruntime.__version__} cannot load the exported model ({reason}); "
            "a lower --opset may help"
        ) from e

    def run(x: torch.Tensor) -> torch.Tensor:
        (logits,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        return torch.from_numpy(logits)

    return run


# ---- TorchScript


@contextmanager
def _jit_warnings_off() -> Iterator[None]:
    # torch.jit warns on every call that it is deprecated; the command says so once instead.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        yield


def torchscript_bytes(model: nn.Module, example: torch.Tensor, metadata: dict[str, str]) -> bytes:
    """The traced model saved with `metadata` as `_extra_files` (one file per key).

    Traced, not scripted: `torch.jit.script` cannot type the model's plain-Python attributes,
    and the forward pass has no data-dependent control flow for a trace to miss.
    """
    buffer = io.BytesIO()
    with _jit_warnings_off():
        traced = torch.jit.trace(model, example, check_trace=False)  # the caller checks
        torch.jit.save(traced, buffer, _extra_files=metadata)
    return buffer.getvalue()


def _torchscript_runner(data: bytes) -> Runner:
    with _jit_warnings_off():
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x)

    return run


def load_exported(data: bytes, fmt: str) -> Runner:
    """Load serialised export `data` with its own runtime, as a deployment would."""
    return {"onnx": _onnx_runner, "torchscript": _torchscript_runner}[fmt](data)
