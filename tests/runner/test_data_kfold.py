"""discover() on the original PACS release: folders plus `<domain>_<split>_kfold.txt` files."""

from pathlib import Path

import pytest

from runner.data import DataError, discover

CATEGORIES = ("dog", "elephant", "giraffe")  # PACS labels: dog=1, elephant=2, giraffe=3
DOMAINS = ("art_painting", "photo")


@pytest.fixture
def pacs(tmp_path, write_tree):
    """PACS-like images, 4 per (domain, category), in tmp_path/kfold; returns a split writer."""
    write_tree(tmp_path / "kfold", {d: dict.fromkeys(CATEGORIES, 4) for d in DOMAINS})

    def write_splits(
        folder: Path, prefix: str = "", train=(0, 1, 2), crossval=(3,), test=(0, 1, 2, 3)
    ) -> dict[str, Path]:
        """Split files in `folder`; images i in `train` train, in `crossval` validate."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for domain in DOMAINS:
            for split, indices in (("train", train), ("crossval", crossval), ("test", test)):
                lines = [
                    f"{prefix}{domain}/{category}/{category}_{i:03d}.png {label}"
                    for label, category in enumerate(CATEGORIES, 1)
                    for i in indices
                ]
                file = folder / f"{domain}_{split}_kfold.txt"
                file.write_text("\n".join(lines) + "\n")
                files[domain, split] = file
        return files

    return write_splits


def expected_paths(root: Path, indices) -> set[Path]:
    return {root / d / c / f"{c}_{i:03d}.png" for d in DOMAINS for c in CATEGORIES for i in indices}


@pytest.mark.parametrize("where", ["beside", "splits"])
def test_split_files_beside_or_in_a_subfolder(tmp_path, pacs, where):
    images = tmp_path / "kfold"
    pacs(images if where == "beside" else images / "splits")
    dataset = discover(images)
    assert dataset.layout == "pacs-kfold"
    assert dataset.domains == DOMAINS
    assert dataset.categories == CATEGORIES
    assert {s.path for s in dataset.train} == expected_paths(images, (0, 1, 2))
    assert {s.path for s in dataset.val} == expected_paths(images, (3,))
    for sample in dataset.train + dataset.val:
        assert sample.path.parent == images / sample.domain / sample.category


def test_pacs_release_layout_with_prefixed_lines(tmp_path, pacs):
    # As PACS unpacks: PACS/kfold/<domain>/..., PACS/pacs_label/*.txt naming kfold/<domain>/...
    pacs(tmp_path / "pacs_label", prefix="kfold/")
    dataset = discover(tmp_path)
    assert dataset.layout == "pacs-kfold"
    assert {s.path for s in dataset.train} == expected_paths(tmp_path / "kfold", (0, 1, 2))
    assert {s.path for s in dataset.val} == expected_paths(tmp_path / "kfold", (3,))
    assert any(str(tmp_path / "kfold") in note for note in dataset.notes)


def test_images_in_no_split_file_are_noted(tmp_path, pacs):
    pacs(tmp_path / "kfold", train=(0, 1), crossval=(3,))
    dataset = discover(tmp_path / "kfold")
    assert len(dataset.train) == 2 * 3 * 2
    assert any(note.startswith("6 images") for note in dataset.notes)  # index 2 of 2 x 3 groups


def test_label_disagreeing_with_folder_is_a_warning_and_the_folder_wins(tmp_path, pacs):
    files = pacs(tmp_path / "kfold")
    file = files["photo", "crossval"]
    lines = file.read_text().splitlines()
    assert lines[1] == "photo/elephant/elephant_003.png 2"
    lines[1] = "photo/elephant/elephant_003.png 3"
    file.write_text("\n".join(lines))
    dataset = discover(tmp_path / "kfold")
    warning = next(note for note in dataset.notes if note.startswith("warning: 1 label in"))
    assert f"{file}:2: label 3 (giraffe) but the image is in elephant (2)" in warning
    assert "1 dog, 2 elephant, 3 giraffe" in warning
    image = tmp_path / "kfold" / "photo" / "elephant" / "elephant_003.png"
    assert [s.category for s in dataset.val if s.path == image] == ["elephant"]


def test_many_disagreements_are_cut_at_ten(tmp_path, pacs):
    files = pacs(tmp_path / "kfold")
    for domain in DOMAINS:  # 9 lines each; make every one say 1 (dog): 6 disagree
        file = files[domain, "train"]
        paths = [line.split()[0] for line in file.read_text().splitlines()]
        file.write_text("".join(f"{path} 1\n" for path in paths))
    warning = next(n for n in discover(tmp_path / "kfold").notes if n.startswith("warning"))
    assert warning.startswith("warning: 12 labels")
    assert "and 2 more" in warning
    assert warning.count(": label 1 (dog)") == 10


def test_duplicate_line_counts_once_with_a_warning(tmp_path, pacs):
    files = pacs(tmp_path / "kfold")
    file = files["photo", "train"]
    with file.open("a") as handle:
        handle.write("photo/dog/dog_000.png 1\n")  # line 10 repeats line 1
    dataset = discover(tmp_path / "kfold")
    assert len(dataset.train) == 2 * 3 * 3
    warning = next(n for n in dataset.notes if "repeats an image" in n)
    assert f"{file}:10: photo/dog/dog_000.png repeats line 1" in warning


@pytest.mark.parametrize("images", ["kfold", "pacs_data"])
def test_split_files_in_a_sibling_folder_of_the_images(tmp_path, pacs, images):
    if images != "kfold":
        (tmp_path / "kfold").rename(tmp_path / images)
    pacs(tmp_path / "pacs_label", prefix=f"{images}/")
    dataset = discover(tmp_path / images)
    assert dataset.layout == "pacs-kfold"
    assert {s.path for s in dataset.train} == expected_paths(tmp_path / images, (0, 1, 2))


def test_sibling_split_files_for_other_domains_are_ignored(tmp_path, pacs, write_tree):
    pacs(tmp_path / "pacs_label")
    write_tree(tmp_path / "other", {"cartoon": {"dog": 2}})
    assert discover(tmp_path / "other").layout == "no-split"


def test_missing_image_names_file_and_line(tmp_path, pacs):
    files = pacs(tmp_path / "kfold")
    (tmp_path / "kfold" / "photo" / "giraffe" / "giraffe_001.png").unlink()
    with pytest.raises(DataError) as error:
        discover(tmp_path / "kfold")
    # photo_train lists giraffe images 0, 1, 2 on lines 7, 8, 9
    line = f"{files['photo', 'train']}:8: photo/giraffe/giraffe_001.png not found"
    assert line in str(error.value)


def test_malformed_line(tmp_path, pacs):
    files = pacs(tmp_path / "kfold")
    with files["art_painting", "train"].open("a") as handle:
        handle.write("\nart_painting/dog/dog_000.png\n")  # a blank line, then no label
    with pytest.raises(DataError, match=f"{files['art_painting', 'train']}:11: expected"):
        discover(tmp_path / "kfold")


def test_image_in_train_and_crossval(tmp_path, pacs):
    pacs(tmp_path / "kfold", train=(0, 1, 2), crossval=(2, 3))
    with pytest.raises(DataError, match="also listed for"):
        discover(tmp_path / "kfold")


def test_domain_folder_without_split_files(tmp_path, pacs, write_tree):
    pacs(tmp_path / "kfold")
    write_tree(tmp_path / "kfold", {"sketch": {"dog": 1}})
    with pytest.raises(DataError) as error:
        discover(tmp_path / "kfold")
    assert "no sketch_train_kfold.txt" in str(error.value)
    assert "no sketch_crossval_kfold.txt" in str(error.value)


def test_holdout_domain_with_split_files(tmp_path, pacs):
    pacs(tmp_path / "kfold", test=(0, 1, 2, 3))
    images = tmp_path / "kfold"
    dataset = discover(images, holdout_domain="photo")
    in_art = images / "art_painting"
    assert {s.path for s in dataset.train} == {
        p for p in expected_paths(images, (0, 1, 2)) if p.is_relative_to(in_art)
    }
    assert {s.path for s in dataset.val} == {
        p for p in expected_paths(images, (3,)) if p.is_relative_to(in_art)
    }
    assert {s.path for s in dataset.test} == set((images / "photo").rglob("*.png"))


def test_holdout_domain_tests_on_its_test_file(tmp_path, pacs):
    pacs(tmp_path / "kfold", test=(1, 2))  # a test file that is not the whole domain
    dataset = discover(tmp_path / "kfold", holdout_domain="photo")
    assert len(dataset.test) == 3 * 2
    assert any("photo_test_kfold.txt" in note for note in dataset.notes)
