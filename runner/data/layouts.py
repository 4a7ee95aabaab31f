"""Find the images of a dataset in any of the three layouts people have, split into train and val.

1. split-folders: `DIR/train/<domain>/<category>/<image>` and `DIR/val/<domain>/<category>/...`
2. pacs-kfold:    `DIR/<domain>/<category>/<image>` plus the PACS split files
                  `<domain>_{train,crossval}_kfold.txt` in DIR or a direct sub-folder of it
                  (train trains, crossval validates, test is not used; see kfold.py for the lines)
3. no-split:      `DIR/<domain>/<category>/<image>` alone: a seeded, stratified share of every
                  (domain, category) group is held out for validation
4. class-folders: `DIR/<category>/<image>` (torchvision's ImageFolder): no domains, so only the
                  category task; a seeded, stratified share of every category validates

With a held-out domain D (leave-one-domain-out), every layout gives three parts: train and val
from the other (source) domains only, as the layout splits them, and test = every image of D
(in pacs-kfold, D's test file, which PACS makes the whole domain). The epoch is chosen on val;
test is only ever reported.

Label names are the folder names, sorted. Images are JPEG, PNG, WebP, GIF, BMP or TIFF files
(by extension, in any letter case); hidden
files and folders (a leading dot) are ignored.
"""

import random
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from archspec.text import plural
from runner.data.errors import DataError
from runner.data.folders import (
    Tree,
    categories_of,
    ignored_note,
    image_files,
    read_tree,
    visible_dirs,
)
from runner.data.kfold import (
    check_split_files_complete,
    find_image_root,
    find_split_files,
    read_split,
)

LAYOUTS = (
    "  DIR/train/<domain>/<category>/<image> with DIR/val/<domain>/<category>/<image>\n"
    "  DIR/<domain>/<category>/<image> with PACS split files <domain>_train_kfold.txt and "
    "<domain>_crossval_kfold.txt\n"
    "  DIR/<domain>/<category>/<image> alone (a share of each folder is held out for validation)\n"
    "  DIR/<category>/<image> (class folders without domains; category task only)"
)


@dataclass(frozen=True)
class Sample:
    path: Path
    domain: str
    category: str


@dataclass(frozen=True)
class Dataset:
    """What `discover` found, split into train and val."""

    root: Path
    layout: str  # "split-folders" | "pacs-kfold" | "no-split" | "class-folders"
    train: tuple[Sample, ...]
    val: tuple[Sample, ...]  # chooses the epoch: never from the held-out domain
    domains: tuple[str, ...]  # sorted folder names; label order of the domain task; () if none
    categories: tuple[str, ...]  # sorted folder names; label order of the category task
    notes: tuple[str, ...]  # things worth telling the user once
    holdout_domain: str | None = None  # set by leave-one-domain-out; forbids the domain task
    test: tuple[Sample, ...] = ()  # the held-out domain's images; empty without one


def discover(
    root: Path, *, seed: int = 0, val_fraction: float = 0.2, holdout_domain: str | None = None
) -> Dataset:
    """Find the layout under `root`, list its samples and split them; DataError on any mistake.

    `seed` and `val_fraction` only matter to the layouts without a split of their own.
    `holdout_domain` turns any layout with domains into leave-one-domain-out: train and validate
    on the other domains as the layout splits them, test on every image of the held-out one.
    """
    if not 0 < val_fraction < 1:
        raise DataError(f"the validation fraction must lie between 0 and 1, not {val_fraction}")
    root = Path(root).expanduser().absolute()  # absolute: a run directory outlives the cwd
    if not root.exists():
        raise DataError(f"data folder {root} does not exist: check the --data path")
    if not root.is_dir():
        raise DataError(
            f"{root} is not a folder: --data expects a folder laid out as one of\n{LAYOUTS}"
        )
    whole_domains = None  # domain -> its test images, where the layout lists them
    if (root / "train").is_dir() or (root / "val").is_dir():
        dataset = _split_folders(root)
    elif split_files := find_split_files(root):
        dataset, whole_domains = _pacs_kfold(root, split_files)
    elif _is_class_folders(root):
        dataset = _class_folders(root, seed, val_fraction)
    elif visible_dirs(root):
        dataset = _no_split(root, seed, val_fraction)
    else:
        raise DataError(f"no domain folders in {root}: expected one of these layouts\n{LAYOUTS}")
    if holdout_domain is not None:
        dataset = _hold_out(dataset, holdout_domain, whole_domains)
    samples = (*dataset.train, *dataset.val, *dataset.test)
    if note := ignored_note(sample.path.parent for sample in samples):
        dataset = replace(dataset, notes=(*dataset.notes, note))
    return dataset


def _samples(tree: Tree) -> tuple[Sample, ...]:
    return tuple(
        Sample(path, domain, category)
        for domain, categories in sorted(tree.items())
        for category, paths in sorted(categories.items())
        for path in paths
    )


def _sample_of(path: Path) -> Sample:
    # Every layout resolves an image to <domain>/<category>/<image>, so the folders are labels.
    return Sample(path, domain=path.parent.parent.name, category=path.parent.name)


def _by_folder(samples: list[Sample]) -> tuple[Sample, ...]:
    return tuple(sorted(samples, key=lambda s: (s.domain, s.category, s.path)))


def _read_nonempty(base: Path, skip: Collection[Path] = ()) -> Tree:
    tree = read_tree(base, skip=skip)
    if not tree:
        raise DataError(f"no domain folders in {base}: expected {base}/<domain>/<category>/<image>")
    return tree


def _split_folders(root: Path) -> Dataset:
    missing = [name for name in ("train", "val") if not (root / name).is_dir()]
    if missing:
        hint = " (rename test to val to validate on it)" if (root / "test").is_dir() else ""
        raise DataError(
            f"{root} has a {'val' if missing == ['train'] else 'train'} folder but no "
            f"{missing[0]} folder{hint}: split-folder data needs both train and val"
        )
    train, val = _read_nonempty(root / "train"), _read_nonempty(root / "val")
    differences = []
    for kind, in_train, in_val in [
        ("domains", set(train), set(val)),
        ("categories", set(categories_of(train)), set(categories_of(val))),
    ]:
        if in_train != in_val:
            only_train = ", ".join(sorted(in_train - in_val)) or "none"
            only_val = ", ".join(sorted(in_val - in_train)) or "none"
            differences.append(f"  {kind} only in train: {only_train}; only in val: {only_val}")
    if differences:
        raise DataError(
            f"{root}/train and {root}/val must have the same folders:\n" + "\n".join(differences)
        )
    return Dataset(
        root=root,
        layout="split-folders",
        train=_samples(train),
        val=_samples(val),
        domains=tuple(sorted(train)),
        categories=categories_of(train),
        notes=(),
    )


def _pacs_kfold(
    root: Path, files: dict[tuple[str, str], Path]
) -> tuple[Dataset, dict[str, tuple[Sample, ...]]]:
    """The dataset, and each domain's test file as samples (for a held-out domain)."""
    image_root = find_image_root(root, {domain for domain, _ in files})
    # Folders of split files inside the image root are not domains.
    split_dirs = {path.parent for path in files.values()} - {image_root}
    tree = _read_nonempty(image_root, split_dirs)
    check_split_files_complete(files, sorted(tree))
    split = read_split(files, image_root, tree)
    listed = split.images
    train = _by_folder([_sample_of(p) for p in listed["train"]])
    val = _by_folder([_sample_of(p) for p in listed["crossval"]])
    tests = _by_folder([_sample_of(p) for p in listed["test"]])
    where = ", ".join(sorted({str(p.parent) for p in files.values()}))
    notes = [f"PACS split files in {where}: train for training, crossval for validation"]
    notes += split.warnings
    if image_root != root:
        notes.append(f"images read from {image_root}")
    total = sum(len(paths) for categories in tree.values() for paths in categories.values())
    unused = total - len({s.path for s in train + val})
    if unused:
        notes.append(
            f"{plural(unused, 'image')} in neither a train nor a crossval split file: unused"
        )
    dataset = Dataset(
        root=root,
        layout="pacs-kfold",
        train=train,
        val=val,
        domains=tuple(sorted(tree)),
        categories=categories_of(tree),
        notes=tuple(notes),
    )
    whole = {d: tuple(s for s in tests if s.domain == d) for d in dataset.domains}
    return dataset, {d: samples for d, samples in whole.items() if samples}


def validation_count(n: int, val_fraction: float) -> int:
    """How many of a group of n go to validation: round(fraction * n), at least 1 when n >= 2.

    Never all of them: a group of two or more always keeps one image to train on.
    """
    if n < 2:
        return 0
    return min(max(round(val_fraction * n), 1), n - 1)


def _stratified(tree: Tree, seed: int, val_fraction: float) -> tuple[list[Sample], list[Sample]]:
    """A seeded share of every (domain, category) group for validation, the rest to train."""
    train: list[Sample] = []
    val: list[Sample] = []
    for domain, categories in sorted(tree.items()):
        for category, paths in sorted(categories.items()):
            shuffled = list(paths)  # sorted by name, so the shuffle does not depend on the disk
            # A string seed is hashed with SHA-512 by random.Random: stable across Python runs
            # and PYTHONHASHSEED, unlike hash().
            random.Random(f"{seed}-{domain}-{category}").shuffle(shuffled)
            k = validation_count(len(shuffled), val_fraction)
            val += [Sample(p, domain, category) for p in shuffled[:k]]
            train += [Sample(p, domain, category) for p in shuffled[k:]]
    return train, val


def _no_split(root: Path, seed: int, val_fraction: float) -> Dataset:
    tree = _read_nonempty(root)
    train, val = _stratified(tree, seed, val_fraction)
    return Dataset(
        root=root,
        layout="no-split",
        train=_by_folder(train),
        val=_by_folder(val),
        domains=tuple(sorted(tree)),
        categories=categories_of(tree),
        notes=(
            f"no train/val folders or split files: held out {val_fraction * 100:g}% of each "
            f"(domain, category) for validation, seed {seed}",
        ),
    )


def _is_class_folders(root: Path) -> bool:
    """`root/<category>/<image>`: every sub-folder holds images and no folders of its own."""
    folders = visible_dirs(root)
    return bool(folders) and all(image_files(f) and not visible_dirs(f) for f in folders)


def _class_folders(root: Path, seed: int, val_fraction: float) -> Dataset:
    # One nameless domain: the split code is the no-split layout's, the domain label is "".
    tree = {"": {folder.name: image_files(folder) for folder in visible_dirs(root)}}
    train, val = _stratified(tree, seed, val_fraction)
    return Dataset(
        root=root,
        layout="class-folders",
        train=_by_folder(train),
        val=_by_folder(val),
        domains=(),
        categories=categories_of(tree),
        notes=(
            f"class folders {root}/<category>/<image> without domains: held out "
            f"{val_fraction * 100:g}% of each category for validation, seed {seed}",
        ),
    )


def _hold_out(
    dataset: Dataset, domain: str, whole_domains: dict[str, tuple[Sample, ...]] | None
) -> Dataset:
    if not dataset.domains:
        raise DataError(
            f"--holdout-domain {domain}: the data in {dataset.root} has no domains "
            "(class folders <category>/<image>); lay it out as <domain>/<category>/<image>"
        )
    if domain not in dataset.domains:
        raise DataError(
            f"unknown --holdout-domain {domain!r}: the domains in {dataset.root} are "
            f"{', '.join(dataset.domains)}"
        )
    others = [d for d in dataset.domains if d != domain]
    if not others:
        raise DataError(f"{dataset.root} has only the domain {domain}: nothing left to train on")
    train = tuple(s for s in dataset.train if s.domain != domain)
    val = tuple(s for s in dataset.val if s.domain != domain)
    if whole_domains and domain in whole_domains:
        test, source = whole_domains[domain], f"its test split file ({domain}_test_kfold.txt)"
    else:
        test = _by_folder([s for s in dataset.train + dataset.val if s.domain == domain])
        source = "every image of it"
    note = (
        f"leave-one-domain-out: training on {', '.join(others)} ({plural(len(train), 'image')}), "
        f"choosing the epoch on their validation images ({len(val)}); testing on {domain}: "
        f"{source}, {plural(len(test), 'image')}, never used to choose"
    )
    return replace(
        dataset,
        train=train,
        val=val,
        test=test,
        notes=(*dataset.notes, note),
        holdout_domain=domain,
    )
