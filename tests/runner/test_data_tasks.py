"""The task picks the label names and the label of every sample."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from runner.data import TASKS, DataError, Dataset, Sample, check_task, label_names, labels

SAMPLES = (
    Sample(Path("a.png"), domain="sketch", category="dog"),
    Sample(Path("b.png"), domain="photo", category="cat"),
    Sample(Path("c.png"), domain="photo", category="horse"),
)


def dataset(holdout_domain=None) -> Dataset:
    return Dataset(
        root=Path("data"),
        layout="no-split",
        train=SAMPLES[:2],
        val=SAMPLES[2:],
        domains=("photo", "sketch"),
        categories=("cat", "dog", "horse"),
        notes=(),
        holdout_domain=holdout_domain,
    )


def test_tasks():
    assert TASKS == ("category", "domain")


def test_label_names_follow_the_task():
    assert label_names(dataset(), "category") == ("cat", "dog", "horse")
    assert label_names(dataset(), "domain") == ("photo", "sketch")


def test_labels_are_int64_indices_into_the_names():
    by_category = labels(SAMPLES, ("cat", "dog", "horse"), "category")
    assert by_category.dtype == torch.int64
    assert by_category.tolist() == [1, 0, 2]
    assert labels(SAMPLES, ("photo", "sketch"), "domain").tolist() == [1, 0, 0]
    assert labels((), ("photo",), "domain").shape == (0,)


def test_labels_missing_from_the_names_are_a_user_error():
    # e.g. evaluating a checkpoint trained on other categories
    with pytest.raises(DataError, match="horse that are not among cat, dog"):
        labels(SAMPLES, ("cat", "dog"), "category")


@pytest.mark.parametrize("call", [label_names, check_task])
def test_unknown_task(call):
    with pytest.raises(DataError, match="unknown task 'style': choose one of category, domain"):
        call(dataset(), "style")


def test_unknown_task_for_labels():
    with pytest.raises(DataError, match="unknown task"):
        labels(SAMPLES, ("cat",), "colour")


def test_holdout_domain_forbids_the_domain_task():
    check_task(dataset(), "domain")
    check_task(dataset(holdout_domain="sketch"), "category")
    with pytest.raises(DataError, match="--holdout-domain makes no sense with --task domain"):
        check_task(dataset(holdout_domain="sketch"), "domain")


def test_data_without_domains_refuses_the_domain_task():
    plain = replace(dataset(), domains=(), layout="class-folders")
    check_task(plain, "category")
    with pytest.raises(DataError, match="has no domains"):
        check_task(plain, "domain")
