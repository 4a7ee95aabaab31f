"""One epoch: its steps in the sampler's order, the progress bar, a stop between batches,
and the evaluation on the validation (and test) images that ends it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from runner.data import PACS_MEAN, PACS_STD, normalize
from runner.training import hooks
from runner.training.device import (
    autocast,
)
from runner.training.run_state import EpochSums, Evaluation, Training
from runner.training.saving import save_now, wait_quietly
from runner.training.step import train_step
from runner.training.stop import StopRequest

StepHook = Callable[[int, int], None]  # (epoch, batch) after each optimizer step; for tests
LOSS_SHOWN_EVERY = 10.0  # seconds between progress-bar loss updates (each waits for the GPU)


def train_epoch(
    t: Training, epoch: int, stop: StopRequest, progress: bool, on_step: StepHook | None
) -> EpochSums:
    """One pass over this process's share of the training images; on Ctrl-C, save and re-raise."""
    size = t.config.batch_size
    t.sampler.set_epoch(epoch)
    # This process's share, in this epoch's order, on the device once: a batch is a slice.
    order = torch.tensor(list(t.sampler), device=t.train_x.device)
    whole, rest = divmod(len(order), size)
    batches = whole + (1 if rest > 1 or (rest == 1 and not t.drop_lone_image) else 0)
    first_batch, sums = 0, EpochSums()
    if t.position is not None:  # resuming mid-epoch: same order, same totals so far
        first_batch, sums = t.position["batch"], EpochSums(**t.position["sums"])
        t.position = None
    t.net.train()
    bar = _progress_bar(t, epoch, min(first_batch * size, len(order)), progress)
    next_batch, in_step = first_batch, False  # the batches before next_batch are in `sums`
    started = shown = time.perf_counter()
    try:
        for batch in range(first_batch, batches):
            if _stop_requested(t, stop, batch):
                raise stop.interrupted()
            index = order[batch * size : (batch + 1) * size]
            in_step = True
            _train_step(t, sums, index, functools.partial(hooks.mid_step, epoch, batch))
            in_step, next_batch = False, batch + 1
            bar.update(len(index))
            if progress and time.perf_counter() - shown > LOSS_SHOWN_EVERY:
                shown = time.perf_counter()
                bar.set_postfix(loss=f"{sums.read()['loss'] / sums.seen:.4f}")
            hooks.after_step(epoch, batch)
            if on_step is not None:
                on_step(epoch, batch)
    except KeyboardInterrupt:
        bar.close()
        _stopped(t, epoch, next_batch, sums, started, in_step)
        raise
    bar.close()
    sums.read()  # the one wait for the GPU in an epoch: the epoch's time is then true
    sums.seconds += time.perf_counter() - started
    return sums


def _progress_bar(t: Training, epoch: int, done: int, progress: bool) -> tqdm:
    """Images done and images/s; the loss now and then (reading it waits for the GPU)."""
    return tqdm(
        total=len(t.sampler),
        initial=done,
        unit="img",
        desc=f"epoch {epoch + 1}/{t.config.epochs}",
        disable=not progress,
        leave=False,
    )


def _stop_requested(t: Training, stop: StopRequest, batch: int) -> bool:
    """Ctrl-C seen by any process. Asking the others is a collective, so under torchrun it is
    done every 16 batches only; alone, every batch (it costs nothing)."""
    if not t.world.distributed:
        return stop.requested
    return batch % 16 == 0 and t.world.any(stop.requested)


def _train_step(
    t: Training, sums: EpochSums, index: torch.Tensor, after_forward: Callable[[], None]
) -> None:
    """One optimizer step on the images at `index`, added to `sums` without waiting."""
    x = t.batches(index)
    y = t.train_y[index].to(t.device, non_blocking=True)
    loss, correct = train_step(
        t.net,
        t.optimizer,
        t.scaler,
        x,
        y,
        t.config.precision,
        after_forward,
        label_smoothing=t.recipe.label_smoothing,
    )
    sums.add(loss, correct, len(index))


def _stopped(
    t: Training, epoch: int, next_batch: int, sums: EpochSums, started: float, in_step: bool
) -> None:
    """Ctrl-C: save the exact position so `--resume` continues with batch `next_batch`. Stopped
    inside a step (a second Ctrl-C), the weights may be half updated: last.pt stays as it was."""
    if in_step:
        if t.world.is_main:
            wait_quietly(t)
            t.say(hard_stop_hint(t))
        return
    sums.seconds += time.perf_counter() - started
    # Totals of all processes, kept by the main one (the others restart from zero).
    totals = sums.read()
    loss_sum, correct, seen = t.world.sum(totals["loss"], totals["correct"], totals["seen"])
    if t.world.is_main:
        kept = {"loss": loss_sum, "correct": int(correct), "seen": int(seen)}
        save_now(t, epoch, {"batch": next_batch, "sums": {**totals, **kept}})
        t.say(
            f"\ninterrupted in epoch {epoch + 1}; saved {t.run.last}. Continue with:\n"
            f"  {t.resume_command}"
        )


def hard_stop_hint(t: Training) -> str:
    if t.saved_epoch is None:
        return "\nstopped at once, before the first checkpoint: there is nothing to resume"
    return (
        f"\nstopped at once; {t.run.last} holds the run after epoch {t.saved_epoch}. "
        f"Continue with:\n  {t.resume_command}"
    )


def evaluate_epoch(t: Training, epoch: int, sums: EpochSums) -> tuple[dict[str, Any], float]:
    """Score the validation images; return the epoch's metrics.csv row and the exact accuracy
    (the row's is rounded for the file; selection compares the exact one)."""
    totals = sums.read()
    loss_sum, correct, seen = t.world.sum(totals["loss"], totals["correct"], totals["seen"])
    val = _score(t, t.val_x, t.val_y)
    val_loss_sum, val_correct, val_count = t.world.sum(val.loss_sum, val.correct, val.count)
    val_loss, val_accuracy = val_loss_sum / val_count, val_correct / val_count
    tested = {}
    if t.test_x is not None:
        test = _score(t, t.test_x, t.test_y)
        test_loss_sum, test_correct, test_count = t.world.sum(
            test.loss_sum, test.correct, test.count
        )
        tested = {
            "test_loss": round(test_loss_sum / test_count, 6),
            "test_accuracy": round(test_correct / test_count, 6),
        }
    t.say(
        f"[Epoch {epoch + 1}] eval accuracy: {val_accuracy:.4f}, loss: {val_loss:.4f}"
        + (f"; held-out {t.config.holdout_domain}: {tested['test_accuracy']:.4f}" if tested else "")
    )
    row = {
        "epoch": epoch + 1,
        "train_loss": round(loss_sum / seen, 6),
        "train_accuracy": round(correct / seen, 6),
        "val_loss": round(val_loss, 6),
        "val_accuracy": round(val_accuracy, 6),
        **tested,
        "lr": t.optimizer.param_groups[0]["lr"],
        "seconds": round(sums.seconds, 3),
        "images_per_second": round(seen / sums.seconds, 1),
    }
    return row, val_accuracy


def _score(t: Training, images: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    return evaluate(
        t.net,
        images,
        labels,
        t.config.batch_size,
        t.device,
        precision=t.config.precision,
        memory_format=t.layout,
        mean=t.mean,
        std=t.std,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
    *,
    precision: str = "fp32",
    memory_format: torch.memory_format = torch.contiguous_format,
    mean: Sequence[float] = PACS_MEAN,
    std: Sequence[float] = PACS_STD,
) -> Evaluation:
    """Summed loss, correct count and predicted labels over `images`, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    predictions = []
    for start in range(0, len(labels), batch_size):
        x = normalize(images[start : start + batch_size].to(device), mean, std)
        y = labels[start : start + batch_size].to(device)
        with autocast(device, precision):
            logits = model(x.contiguous(memory_format=memory_format))
        loss_sum += nn.functional.cross_entropy(logits.float(), y, reduction="sum").double()
        predictions.append(logits.argmax(1))
    model.train(was_training)
    predicted = torch.cat(predictions).cpu() if predictions else torch.empty(0, dtype=torch.int64)
    correct = int((predicted == labels.cpu()).sum())
    return Evaluation(loss_sum.item(), correct, len(labels), predicted)
