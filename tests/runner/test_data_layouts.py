"""discover(): the split-folders and no-split layouts, leave-one-domain-out, and user mistakes."""

import random
from collections import Counter

import pytest

from runner.data import DataError, discover

COUNTS = {"photo": {"dog": 10, "cat": 5}, "sketch": {"dog": 2, "cat": 1}}


def groups(samples):
    return Counter((s.domain, s.category) for s in samples)


# --- split-folders -------------------------------------------------------------------------


def test_split_folders_found_with_counts_and_names(tmp_path, write_tree):
    write_tree(tmp_path / "train", {"photo": {"dog": 3, "cat": 2}, "sketch": {"dog": 1, "cat": 4}})
    write_tree(tmp_path / "val", {"photo": {"dog": 1, "cat": 1}, "sketch": {"dog": 2, "cat": 1}})
    dataset = discover(tmp_path)
    assert dataset.layout == "split-folders"
    assert dataset.domains == ("photo", "sketch")
    assert dataset.categories == ("cat", "dog")
    assert groups(dataset.train) == {
        ("photo", "dog"): 3, ("photo", "cat"): 2, ("sketch", "dog"): 1, ("sketch", "cat"): 4
    }  # fmt: skip
    assert groups(dataset.val) == {
        ("photo", "dog"): 1, ("photo", "cat"): 1, ("sketch", "dog"): 2, ("sketch", "cat"): 1
    }  # fmt: skip
    for sample in dataset.train:
        assert sample.path.is_relative_to(tmp_path / "train" / sample.domain / sample.category)
    for sample in dataset.val:
        assert sample.path.is_relative_to(tmp_path / "val" / sample.domain / sample.category)
    assert dataset.holdout_domain is None


def test_extensions_any_case_and_hidden_files_ignored(tmp_path, write_png):
    for split in ("train", "val"):
        folder = tmp_path / split / "photo" / "dog"
        for name in ("a.png", "b.JPG", "c.jpeg", "d.Png", "e.WebP", "f.bmp", "g.tif"):
            write_png(folder / name)  # PNG bytes under other names: discovery goes by extension
        write_png(folder / ".hidden.png")
        write_png(tmp_path / split / "photo" / ".cache" / "x.png")  # hidden category folder
        write_png(tmp_path / split / ".trash" / "dog" / "y.png")  # hidden domain folder
        (folder / "notes.txt").write_text("not an image")
        (folder / "h.heic").write_bytes(b"not decoded")
    (tmp_path / "train" / "photo" / "dog" / "more").mkdir()  # a folder nested one level too deep
    dataset = discover(tmp_path)
    assert sorted(s.path.name for s in dataset.train) == [
        "a.png",
        "b.JPG",
        "c.jpeg",
        "d.Png",
        "e.WebP",
        "f.bmp",
        "g.tif",
    ]
    assert dataset.domains == ("photo",)
    assert dataset.categories == ("dog",)
    # What is left out is counted, once for both splits; hidden files are not worth a word.
    assert dataset.notes[-1] == (
        "note: left out 4 files that are not images (.heic: 2, .txt: 2) and 1 folder "
        "inside image folders (images must sit directly in them)"
    )


def test_nothing_left_out_says_nothing(tmp_path, write_tree):
    write_tree(tmp_path / "train", {"photo": {"dog": 2}})
    write_tree(tmp_path / "val", {"photo": {"dog": 1}})
    assert not any("left out" in note for note in discover(tmp_path).notes)


def test_split_folders_with_different_labels_name_the_difference(tmp_path, write_tree):
    write_tree(tmp_path / "train", {"photo": {"dog": 1, "cat": 1}, "sketch": {"dog": 1}})
    write_tree(tmp_path / "val", {"photo": {"dog": 1, "horse": 1}, "cartoon": {"dog": 1}})
    with pytest.raises(DataError) as error:
        discover(tmp_path)
    message = str(error.value)
    assert "domains only in train: sketch; only in val: cartoon" in message
    assert "categories only in train: cat; only in val: horse" in message


def test_train_without_val_is_refused(tmp_path, write_tree):
    write_tree(tmp_path / "train", {"photo": {"dog": 2}})
    write_tree(tmp_path / "test", {"photo": {"dog": 2}})
    with pytest.raises(DataError, match=r"no val folder \(rename test to val"):
        discover(tmp_path)


# --- no-split: seeded, stratified hold-out -----------------------------------------------


def test_no_split_holds_out_a_share_of_every_group(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    dataset = discover(tmp_path)
    assert dataset.layout == "no-split"
    assert dataset.domains == ("photo", "sketch")
    assert dataset.categories == ("cat", "dog")
    # round(0.2 * n), at least one when n >= 2, none out of a group of one
    assert groups(dataset.val) == {("photo", "dog"): 2, ("photo", "cat"): 1, ("sketch", "dog"): 1}
    assert groups(dataset.train) == {
        ("photo", "dog"): 8, ("photo", "cat"): 4, ("sketch", "dog"): 1, ("sketch", "cat"): 1
    }  # fmt: skip
    assert not {s.path for s in dataset.train} & {s.path for s in dataset.val}
    assert any("20%" in note and "seed 0" in note for note in dataset.notes)


def test_no_split_follows_the_documented_shuffle(tmp_path, write_tree):
    # The documented recipe: sort a group's files by name, shuffle with
    # random.Random(f"{seed}-{domain}-{category}"), the first round(fraction * n) validate.
    paths = write_tree(tmp_path, {"photo": {"dog": 20}})
    for seed in (0, 7):
        expected = sorted(paths)
        random.Random(f"{seed}-photo-dog").shuffle(expected)
        dataset = discover(tmp_path, seed=seed, val_fraction=0.25)
        assert {s.path for s in dataset.val} == set(expected[:5])


def test_no_split_is_deterministic_and_seeded(tmp_path, write_tree):
    write_tree(tmp_path, {"photo": {"dog": 20, "cat": 20}, "sketch": {"dog": 20}})
    first, again, other = discover(tmp_path), discover(tmp_path), discover(tmp_path, seed=1)
    assert first.val == again.val and first.train == again.train
    assert {s.path for s in first.val} != {s.path for s in other.val}
    assert groups(other.val) == groups(first.val)  # a new seed changes which, not how many


def test_no_split_refuses_a_fraction_outside_zero_one(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(DataError, match="between 0 and 1"):
            discover(tmp_path, val_fraction=fraction)


# --- leave-one-domain-out ------------------------------------------------------------------


def test_holdout_domain_validates_on_the_sources_and_tests_on_all_of_it(tmp_path, write_tree):
    write_tree(tmp_path / "train", {"photo": {"dog": 3}, "sketch": {"dog": 2, "cat": 2}})
    write_tree(tmp_path / "val", {"photo": {"dog": 1}, "sketch": {"dog": 1, "cat": 1}})
    dataset = discover(tmp_path, holdout_domain="sketch")
    assert dataset.holdout_domain == "sketch"
    assert {s.path for s in dataset.train} == set((tmp_path / "train" / "photo").rglob("*.png"))
    assert {s.path for s in dataset.val} == set((tmp_path / "val" / "photo").rglob("*.png"))
    assert {s.path for s in dataset.test} == set(tmp_path.glob("*/sketch/*/*.png"))
    assert len(dataset.test) == 6
    assert dataset.domains == ("photo", "sketch")  # label names keep every domain
    assert any("sketch" in note and "6 images" in note for note in dataset.notes)


def test_holdout_domain_in_no_split_layout(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    dataset = discover(tmp_path, holdout_domain="photo")
    assert groups(dataset.test) == {("photo", "dog"): 10, ("photo", "cat"): 5}
    assert groups(dataset.train) == {("sketch", "dog"): 1, ("sketch", "cat"): 1}
    assert groups(dataset.val) == {("sketch", "dog"): 1}  # 20% of sketch's groups, at least 1


def test_without_holdout_domain_there_is_no_test(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    dataset = discover(tmp_path)
    assert dataset.test == ()
    assert dataset == discover(tmp_path)


def test_unknown_holdout_domain_lists_the_valid_ones(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    with pytest.raises(DataError, match=r"'painting'.*photo, sketch"):
        discover(tmp_path, holdout_domain="painting")


# --- what the user gets wrong ----------------------------------------------------------------


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        discover(tmp_path / "nowhere")


def test_root_is_a_file(tmp_path, write_png):
    with pytest.raises(DataError, match="is not a folder"):
        discover(write_png(tmp_path / "one.png"))


@pytest.mark.parametrize("content", ["nothing", "loose images"])
def test_root_without_layout_says_what_is_expected(tmp_path, write_png, content):
    if content == "loose images":
        write_png(tmp_path / "a.png")
    with pytest.raises(DataError) as error:
        discover(tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message
    assert "DIR/train/<domain>/<category>/<image>" in message
    assert "kfold" in message


def test_empty_category_folder_is_named(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    (tmp_path / "sketch" / "horse").mkdir()
    (tmp_path / "sketch" / "horse" / "readme.txt").write_text("no pictures")
    with pytest.raises(DataError, match=f"no images under {tmp_path / 'sketch' / 'horse'}"):
        discover(tmp_path)


def test_domain_without_category_folders_is_named(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    (tmp_path / "cartoon").mkdir()
    with pytest.raises(DataError, match=f"no category folders in {tmp_path / 'cartoon'}"):
        discover(tmp_path)


def test_class_folders_split_stratified_and_seeded(tmp_path, write_tree):
    write_tree(tmp_path, {"photo": {"dog": 10, "cat": 5}})
    dataset = discover(tmp_path / "photo", seed=3)
    assert dataset.layout == "class-folders"
    assert dataset.domains == ()
    assert dataset.categories == ("cat", "dog")
    assert Counter(s.category for s in dataset.val) == {"dog": 2, "cat": 1}
    assert Counter(s.category for s in dataset.train) == {"dog": 8, "cat": 4}
    assert dataset == discover(tmp_path / "photo", seed=3)
    assert dataset.val != discover(tmp_path / "photo", seed=4).val


def test_class_folders_have_no_domains_to_hold_out(tmp_path, write_tree):
    write_tree(tmp_path, {"photo": {"dog": 2, "cat": 2}})
    with pytest.raises(DataError, match="has no domains"):
        discover(tmp_path / "photo", holdout_domain="sketch")


def test_mixed_class_and_domain_folders_are_explained(tmp_path, write_tree, write_png):
    write_tree(tmp_path, {"photo": {"dog": 2}})
    write_png(tmp_path / "cat" / "a.png")
    with pytest.raises(DataError, match="holds images but no category folders"):
        discover(tmp_path)


def test_all_problems_are_reported_together(tmp_path, write_tree):
    write_tree(tmp_path, COUNTS)
    (tmp_path / "sketch" / "horse").mkdir()
    (tmp_path / "cartoon").mkdir()
    with pytest.raises(DataError) as error:
        discover(tmp_path)
    assert "2 problems" in str(error.value)
    assert "horse" in str(error.value) and "cartoon" in str(error.value)


def test_empty_split_folder(tmp_path, write_tree):
    write_tree(tmp_path / "train", COUNTS)
    (tmp_path / "val").mkdir()
    with pytest.raises(DataError, match=f"no domain folders in {tmp_path / 'val'}"):
        discover(tmp_path)
