"""Read a `<domain>/<category>/<image>` folder tree: the shape every layout shares."""

from collections import Counter
from collections.abc import Collection, Iterable
from pathlib import Path

from archspec.text import plural
from runner.data.errors import DataError, bullet_list

# Every format training and prediction read (runner/data/images.py decodes them), by extension
# in lower case: cameras and Windows tools write .JPG as often as .jpg.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
IMAGE_FORMATS = "JPEG, PNG, WebP, GIF, BMP, TIFF"  # how messages name them

# domain -> category -> image paths, every level sorted by name.
Tree = dict[str, dict[str, list[Path]]]


def is_hidden(path: Path) -> bool:
    # .DS_Store, ._pic.jpg (macOS resource forks), .ipynb_checkpoints: never data.
    return path.name.startswith(".")


def visible_dirs(folder: Path) -> list[Path]:
    """Sub-folders of `folder` that are not hidden, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p))


def image_files(folder: Path) -> list[Path]:
    """Images directly inside `folder` (no recursion), sorted by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not is_hidden(p) and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_tree(base: Path, *, skip: Collection[Path] = ()) -> Tree:
    """Every `base/<domain>/<category>/<image>`, checking that no level is empty.

    `skip` names folders that are not domains (e.g. a `splits/` folder of PACS split files).
    All empty domains and categories are reported together in one DataError; a `base` without
    any sub-folder gives an empty tree and the caller decides what that means.
    """
    tree: Tree = {}
    problems: list[str] = []
    for domain_dir in visible_dirs(base):
        if domain_dir in skip:
            continue
        category_dirs = visible_dirs(domain_dir)
        if not category_dirs:
            if image_files(domain_dir):
                # The usual cause: --data points at one domain instead of the folder above it.
                problems.append(
                    f"{domain_dir} holds images but no category folders: expected "
                    f"{base}/<domain>/<category>/<image>"
                )
            else:
                problems.append(f"no category folders in {domain_dir}: add some or remove it")
            continue
        tree[domain_dir.name] = {}
        for category_dir in category_dirs:
            images = image_files(category_dir)
            if not images:
                problems.append(
                    f"no images under {category_dir}: add images ({IMAGE_FORMATS}) or remove "
                    "the folder"
                )
            tree[domain_dir.name][category_dir.name] = images
    if len(problems) == 1:
        raise DataError(problems[0])
    if problems:
        raise DataError(
            f"found {plural(len(problems), 'problem')} in {base}:\n{bullet_list(problems)}"
        )
    return tree


def categories_of(tree: Tree) -> tuple[str, ...]:
    """All category names over all domains, sorted: the label order of the category task."""
    return tuple(sorted({c for categories in tree.values() for c in categories}))


def ignored_note(folders: Iterable[Path]) -> str | None:
    """What the image folders hold that training does not read, in one line (None: nothing).

    Files of other kinds (.txt, .csv, .heic, ...) and folders nested inside an image folder are
    left out by design; saying how many keeps a user from training on less than they think.
    """
    kinds: Counter[str] = Counter()
    nested = 0
    for folder in sorted(set(folders)):
        for entry in folder.iterdir():
            if is_hidden(entry):
                continue
            if entry.is_dir():
                nested += 1
            elif entry.suffix.lower() not in IMAGE_SUFFIXES:
                kinds[entry.suffix.lower() or "(no extension)"] += 1
    parts = []
    if kinds:
        listed = ", ".join(f"{suffix}: {n}" for suffix, n in sorted(kinds.items()))
        count = plural(sum(kinds.values()), "file")
        parts.append(f"{count} that are not images ({listed})")
    if nested:
        folders_in = plural(nested, "folder")
        parts.append(f"{folders_in} inside image folders (images must sit directly in them)")
    return f"note: left out {' and '.join(parts)}" if parts else None
