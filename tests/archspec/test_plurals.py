"""Counts in messages agree with their nouns: "1 image", never "1 images"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from spec_test_paths import REPO

from archspec.text import plural
from runner.data import DataError, decode_images

# A count followed by a plural noun, fixed whatever the count.
NOUNS = (
    "images|epochs|labels|classes|layers|figures|filters|problems|lines|runs|files|paths"
    "|batches|domains|categories|specs|samples|processes|rows|items|errors|checkpoints"
)
# Fields that hold counts: len(...), or names that say so (`{a} filters` names a task instead).
COUNT = r"len\([^{}]*\)|n|count|total|unused|resized|seen|out|[a-z_.]*(?:epochs|_count|total)"
COUNTED_PLURAL = re.compile(r"\{(?:" + COUNT + r")\} (?:" + NOUNS + r")\b")


def test_plural() -> None:
    assert plural(1, "image") == "1 image"
    assert plural(0, "image") == "0 images"
    assert plural(2, "class", "classes") == "2 classes"
    assert plural(1, "class", "classes") == "1 class"


def test_no_message_counts_into_a_fixed_plural() -> None:
    found = []
    for path in sorted(
        [
            *REPO.glob("archspec/**/*.py"),
            *REPO.glob("runner/**/*.py"),
            *REPO.glob("archspec_cli/**/*.py"),
        ]
    ):
        relative = path.relative_to(REPO).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if COUNTED_PLURAL.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], "use archspec.text.plural:\n" + "\n".join(found)


def test_one_undecodable_image_is_one_image(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n and nothing more")
    with pytest.raises(DataError, match=r"^1 image cannot be decoded"):
        decode_images([broken], (8, 8), workers=1, progress=False)
