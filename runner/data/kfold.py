"""The split files of the original PACS release: `<domain>_{train,crossval,test}_kfold.txt`.

Each line is `<path> <label>`, e.g. `art_painting/dog/pic_001.jpg 1`, where the label is
1 + the position of the category in the sorted category names (dog=1 ... person=7 for PACS).

The released files have known defects, forgiven with a warning (see `read_split`); the `test`
files (each the whole domain) are read only to test a held-out domain.

What a line's path may look like: only its last three parts, `<domain>/<category>/<image>`, are
used, and they are looked up under the folder that holds the domain folders. So
`art_painting/dog/pic_001.jpg`, `kfold/art_painting/dog/pic_001.jpg`, `/art_painting/...` and
Windows back-slashes all name the same image, as the copies of PACS found in the wild write them.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from archspec.text import plural
from runner.data.errors import DataError, bullet_list
from runner.data.folders import Tree, categories_of, is_hidden, visible_dirs

SPLIT_FILE = re.compile(r"^(?P<domain>.+)_(?P<split>train|crossval|test)_kfold\.txt$")
USED_SPLITS = ("train", "crossval")  # test is the whole domain in PACS; never used to pick models
SPLITS = (*USED_SPLITS, "test")  # test: read only for a held-out domain


def find_split_files(root: Path) -> dict[tuple[str, str], Path]:
    """(domain, split) -> file, from `root` and its direct sub-folders (e.g. `root/splits/`).

    When `root` has none, its sibling folders are searched too: the PACS release unpacks to
    `PACS/kfold/` (or `PACS/pacs_data/`) beside `PACS/pacs_label/`, and `--data PACS/kfold` is
    what people give. Sibling files are used only when every domain they name is a folder of
    `root`, so an unrelated neighbour never turns a plain folder into PACS.
    """
    found = _split_files_in([root, *visible_dirs(root)])
    if found or root.parent == root:
        return found
    siblings = [d for d in visible_dirs(root.parent) if d != root]
    nearby = _split_files_in(siblings)
    if nearby and all((root / domain).is_dir() for domain, _ in nearby):
        return nearby
    return {}


def _split_files_in(folders: list[Path]) -> dict[tuple[str, str], Path]:
    found: dict[tuple[str, str], Path] = {}
    for folder in folders:
        for path in sorted(folder.iterdir()):
            match = SPLIT_FILE.match(path.name)
            if not match or not path.is_file() or is_hidden(path):
                continue
            key = (match["domain"], match["split"])
            if key in found:
                raise DataError(
                    f"two copies of {path.name}: {found[key]} and {path}: delete one of them"
                )
            found[key] = path
    return found


def find_image_root(root: Path, domains: set[str]) -> Path:
    """The folder holding the domain folders the split files name: `root` or one sub-folder.

    The PACS release unpacks to `PACS/kfold/<domain>/...` beside `PACS/pacs_label/*.txt`, so
    `--data PACS` must look one level down; the split files' domain names say where.
    """
    candidates = [root, *visible_dirs(root)]
    holding = [c for c in candidates if all((c / d).is_dir() for d in domains)]
    if len(holding) == 1:
        return holding[0]
    if not holding:
        raise DataError(
            f"PACS split files name the domains {', '.join(sorted(domains))}, but no folder "
            f"holds all of them in {root} or its sub-folders: put the domain folders beside "
            f"the split files"
        )
    raise DataError(
        f"more than one folder holds the domain folders {', '.join(sorted(domains))}: "
        f"{', '.join(str(h) for h in holding)}: keep one, or point --data at it"
    )


def check_split_files_complete(files: dict[tuple[str, str], Path], domains: list[str]) -> None:
    """Every domain folder needs a train and a crossval file, and every file a domain folder."""
    problems = [
        f"no {d}_{s}_kfold.txt for the domain folder {d}"
        for d in domains
        for s in USED_SPLITS
        if (d, s) not in files
    ]
    problems += [
        f"{files[(d, s)]} names the domain {d}, which has no folder"
        for d, s in sorted(files)
        if d not in domains
    ]
    if problems:
        raise DataError(
            f"the PACS split files do not cover the domain folders:\n{bullet_list(problems)}\n"
            f"add the missing files, or remove all split files to hold out images automatically"
        )


@dataclass
class SplitLists:
    """What the split files list: split -> images, and what was forgiven along the way."""

    images: dict[str, list[Path]]  # "train", "crossval", "test" -> paths, each listed once
    warnings: list[str] = field(default_factory=list)  # said once to the user


# Long: one pass over every line of every split file, each check beside the line it reads, so
# that all the problems are reported together, each with its file:line.
def read_split(files: dict[tuple[str, str], Path], image_root: Path, tree: Tree) -> SplitLists:
    """split -> image paths listed for it, every line checked; fatal problems raised together.

    `tree` is what `read_tree(image_root)` found: a listed path must be one of its images.
    The released PACS files have two known defects that are forgiven with a warning: a label
    that disagrees with the image's folder (the folder wins: it is what every other tool reads)
    and a line listed twice in one file (counted once).
    """
    categories = categories_of(tree)
    images = {path for domain in tree.values() for paths in domain.values() for path in paths}
    listed: dict[str, list[Path]] = {split: [] for split in SPLITS}
    where: dict[Path, tuple[str, str]] = {}  # image -> (split, "file:line") first naming it
    problems: list[str] = []  # a line that names nothing usable
    disagreements: list[str] = []  # a line whose label is not its folder's category
    duplicates: list[str] = []  # a line naming an image its file already listed
    for (_, split), file in sorted(files.items()):
        seen_here: dict[Path, int] = {}
        for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), 1):
            if not line.strip():
                continue
            here = f"{file}:{number}"
            fields = line.strip().rsplit(maxsplit=1)  # rsplit: a path may contain spaces
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                problems.append(f"{here}: expected '<domain>/<category>/<image> <label>'")
                continue
            raw, label = fields[0], int(fields[1])
            parts = [p for p in PurePosixPath(raw.replace("\\", "/")).parts if p not in ("/", ".")]
            if len(parts) < 3:
                problems.append(f"{here}: {raw} is not <domain>/<category>/<image>")
                continue
            path = image_root.joinpath(*parts[-3:])
            if path not in images:
                why = "is not an image file" if path.is_file() else "not found"
                problems.append(f"{here}: {raw} {why} (looked for {path})")
                continue
            if path in seen_here:
                duplicates.append(f"{here}: {raw} repeats line {seen_here[path]}; counted once")
                continue
            seen_here[path] = number
            category = parts[-2]
            expected = categories.index(category) + 1
            if label != expected:
                said = categories[label - 1] if 1 <= label <= len(categories) else "out of range"
                disagreements.append(
                    f"{here}: label {label} ({said}) but the image is in {category} "
                    f"({expected}); the folder's {category} is used"
                )
            if split in USED_SPLITS:
                # The same image in train and crossval would inflate validation accuracy.
                first_split, first_here = where.setdefault(path, (split, here))
                if first_split != split:
                    problems.append(
                        f"{here}: {raw} is also listed for {first_split} in {first_here}"
                    )
            listed[split].append(path)
    if problems:
        verb = "names" if len(problems) == 1 else "name"
        raise DataError(
            f"{plural(len(problems), 'line')} of the PACS split files {verb} no usable image:\n"
            f"{bullet_list(problems)}\n"
            "fix those lines, or remove all split files to hold out images instead"
        )
    warnings = []
    if disagreements:
        mapping = ", ".join(f"{i} {c}" for i, c in enumerate(categories, 1))
        verb = "disagrees" if len(disagreements) == 1 else "disagree"
        warnings.append(
            f"warning: {plural(len(disagreements), 'label')} in the PACS split files {verb} with "
            f"the category folders (labels are {mapping}):\n{bullet_list(disagreements)}"
        )
    if duplicates:
        warnings.append(
            f"warning: {plural(len(duplicates), 'line')} of the PACS split files "
            f"{'repeats' if len(duplicates) == 1 else 'repeat'} an image:\n"
            f"{bullet_list(duplicates)}"
        )
    return SplitLists(listed, warnings)
