"""Commands that use a trained model outside training: export, predict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from archspec.text import plural

# runner.deploy.export.FORMATS; kept here so --help is fast
EXPORT_FORMATS = ("onnx", "torchscript")
DEFAULT_OPSET = 18  # runner.deploy.export.DEFAULT_OPSET, likewise


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a trained model as ONNX or TorchScript, checked against PyTorch",
        description="Export the model of a run (its best.pt) or of a checkpoint file. The label "
        "names, task, spec name, input shape and normalisation go inside the file. The export "
        "is run against PyTorch before it is written; a mismatch above 1e-4 writes nothing.",
    )
    p.add_argument("run", type=Path, metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    p.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="where to write it (default: model.onnx / model.pt beside the checkpoint)",
    )
    p.add_argument(
        "--opset",
        type=int,
        metavar="N",
        help=f"ONNX operator set version (default: {DEFAULT_OPSET})",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=2,
        metavar="N",
        help="batch size of the example used to trace and check; an ONNX model still takes "
        "any batch size",
    )
    p.set_defaults(handler=export_command)

    p = subparsers.add_parser(
        "predict",
        help="label images, or every image in folders, with a trained model",
        description="Decode and normalise each image as training did, run the model of a run "
        "(its best.pt) or of a checkpoint file, print the most probable labels. A folder "
        "stands for every image in it, at any depth. Images that cannot be decoded are named "
        "and the others still labelled (exit code 2 then).",
    )
    p.add_argument("run", type=Path, metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("images", type=Path, nargs="+", metavar="IMAGE|DIR")
    p.add_argument("--top", type=int, default=3, metavar="K", help="labels listed per image")
    output = p.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print JSON (default: an aligned text table)"
    )
    output.add_argument(
        "--csv",
        action="store_true",
        help="print CSV: image, label, probability, error (default: an aligned text table)",
    )
    p.set_defaults(handler=predict_command)


def export_command(args: argparse.Namespace) -> int:
    from runner.deploy.export import TOLERANCE, export_checkpoint
    from runner.training.checkpoint import find_checkpoint, load_checkpoint

    checkpoint = load_checkpoint(find_checkpoint(args.run, "best.pt"))
    result = export_checkpoint(
        checkpoint, args.format, args.out, opset=args.opset, batch=args.batch
    )
    runtime = "onnxruntime" if result.format == "onnx" else "torch.jit.load"
    measured = ", ".join(f"{d:.2g} at batch {b}" for b, d in result.differences.items())
    print(
        f"checked with {runtime} against PyTorch: largest |difference| {measured} "
        f"(tolerance {TOLERANCE:.0e})"
    )
    kind = f"ONNX opset {result.opset}" if result.opset is not None else "TorchScript"
    c, h, w = checkpoint.spec.input_shape
    print(
        f"wrote {result.path} ({kind}, {result.size_bytes / 1e6:.1f} MB): {checkpoint.spec.name}, "
        f"{checkpoint.task} task, image (batch, {c}, {h}, {w}) -> logits "
        f"(batch, {len(checkpoint.labels)})"
    )
    if args.format == "torchscript":
        print(
            "note: PyTorch deprecates TorchScript (torch.jit); prefer --format onnx for new "
            "deployments",
            file=sys.stderr,
        )
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from runner.deploy.predict import (
        format_predictions,
        predict,
        predictions_to_csv,
        predictions_to_data,
        unreadable_error,
    )
    from runner.training.checkpoint import find_checkpoint, load_checkpoint

    checkpoint = load_checkpoint(find_checkpoint(args.run, "best.pt"))
    predictions = predict(checkpoint, args.images, args.top)
    if args.json:
        print(json.dumps(predictions_to_data(checkpoint, predictions), indent=2))
    elif args.csv:
        print(predictions_to_csv(predictions), end="")
    else:
        labels = plural(len(checkpoint.labels), "label")
        print(
            f"# {checkpoint.spec.name}, {checkpoint.task} task ({labels}), "
            f"{checkpoint.path} after epoch {checkpoint.epoch}"
        )
        print(format_predictions(predictions))
    error = unreadable_error(predictions)  # after the labels of the others are out
    if error is not None:
        raise error
    return 0
