"""The finish phase: the last checkpoint, the learning-curve and confusion figures, and
summary.json; a Ctrl-C now lets them finish, a second one stops with a resume hint.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from archspec.compiler import compile_spec
from runner.training import hooks
from runner.training.checkpoint import (
    load_checkpoint,
)
from runner.training.checkpoint_writer import to_cpu
from runner.training.epoch import evaluate, hard_stop_hint
from runner.training.run_state import Training
from runner.training.saving import save_in_background, timed_checkpoint, wait_quietly
from runner.training.stop import StopRequest


def finish_or_hint(t: Training, stop: StopRequest) -> None:
    """The last checkpoint, figures and summary. A Ctrl-C now lets them finish (training is
    over); a second one stops, saying how `--resume` writes what is missing."""
    stop.requested = False
    stop.message = "finishing the run: last.pt, figures, summary.json (Ctrl-C again to stop now)"
    try:
        hooks.before_finish()
        with timed_checkpoint(t):
            t.writer.wait()
            if t.saved_epoch != t.config.epochs or t.best_weights is not None:
                save_in_background(t, t.config.epochs)  # written while the figures are drawn
        _finish(t)
    except KeyboardInterrupt:
        wait_quietly(t)
        t.say(hard_stop_hint(t) + " (this writes the summary and figures)")
        raise


def _best_model(t: Training) -> nn.Module:
    """The best weights, from memory when this process found them (best.pt may be in writing)."""
    if t.best_state is None:
        return load_checkpoint(t.run.best).build_model()
    model = compile_spec(t.resolved)
    model.load_state_dict(to_cpu(t.best_state))
    return model.eval()


def _finish(t: Training) -> None:
    """Figures and summary.json from the best model; summary.json marks the run finished."""
    from archspec.summary import summarize
    from runner.figures import plot_confusion, plot_curves

    run, config, data = t.run, t.config, t.data
    best = _best_model(t)
    stats = summarize(best, t.resolved)
    best.to(device=t.device, memory_format=t.layout)
    val = evaluate(
        best,
        data.val_images,
        data.val_labels,
        config.batch_size,
        t.device,
        precision=config.precision,
        memory_format=t.layout,
        mean=t.mean,
        std=t.std,
    )
    title = f"{t.spec.name}, {config.task} task"
    plot_curves(run.metrics, run.path / "curves.png", title=title)
    plot_confusion(
        data.val_labels.tolist(),
        val.predicted.tolist(),
        data.labels,
        run.path / "confusion.png",
        title=f"{title}: validation, best epoch {t.best['best_epoch']}",
    )
    seconds = [float(r["seconds"]) for r in t.rows]
    with timed_checkpoint(t):
        t.writer.wait()  # last.pt and best.pt on disk before summary.json says "finished"
    run.write_summary(
        {
            "spec_name": t.spec.name,
            "spec_path": config.spec,
            "task": config.task,
            "labels": list(data.labels),
            "epochs": config.epochs,
            "best_val_accuracy": t.best["best_accuracy"],
            "best_epoch": t.best["best_epoch"],
            "final_val_accuracy": float(t.rows[-1]["val_accuracy"]) if t.rows else None,
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            "params": stats.total_params,
            "mult_adds": stats.total_mult_adds,
            "checkpoint_seconds": round(t.checkpoint_seconds, 3),
            **_held_out_summary(t),
        }
    )
    print(
        f"best eval accuracy {t.best['best_accuracy']:.4f} at epoch {t.best['best_epoch']}; "
        f"see {run.path}"
    )


def _held_out_summary(t: Training) -> dict[str, Any]:
    """The held-out domain's accuracy at the epoch chosen on the source domains, and apart from
    it, labelled, the oracle: the best of any epoch, which only a peek at the test labels finds."""
    if t.config.holdout_domain is None or not t.rows:
        return {}
    tests = {int(r["epoch"]): float(r["test_accuracy"]) for r in t.rows}
    oracle_epoch = max(tests, key=lambda epoch: (tests[epoch], -epoch))
    return {
        "holdout_domain": t.config.holdout_domain,
        "selection": "training-domain validation: the epoch with the best accuracy on the "
        "source domains' validation images",
        "test_accuracy": tests[t.best["best_epoch"]],
        "oracle_test_accuracy": tests[oracle_epoch],
        "oracle_epoch": oracle_epoch,
    }
