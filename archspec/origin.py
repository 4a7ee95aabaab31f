"""Where a value of a composed spec was written: a line, perhaps of another file, or a flag."""

from __future__ import annotations


class Origin(int):
    """A line number that also says where it was written, when that is not the reported file.

    A composed spec (`extends`, overrides, `--set`) mixes values from several places; each keeps
    its Origin, so an error names the base file's line, or the override's line and the base it
    was applied to, or the `--set` argument. It is an int, so code that wants only the line
    number keeps working.
    """

    file: str | None  # the file the line is in, when it is not the file being reported
    applied_to: str | None  # the base spec an override on this line was applied to
    flag: str | None  # the command-line argument that wrote the value (it has no line: 0)

    def __new__(
        cls,
        line: int,
        *,
        file: str | None = None,
        applied_to: str | None = None,
        flag: str | None = None,
    ) -> Origin:
        origin = super().__new__(cls, line)
        origin.file, origin.applied_to, origin.flag = file, applied_to, flag
        return origin

    def __bool__(self) -> bool:  # a --set argument is a place too, though its number is 0
        return True

    def __reduce__(self) -> tuple:
        return _origin, (int(self), self.file, self.applied_to, self.flag)

    def __repr__(self) -> str:
        return f"Origin({self.describe()!r})"

    def describe(self) -> str:
        """e.g. `line 20 of architectures/alexnet.yaml`, `line 9 (applied to alexnet.yaml)`."""
        place = self.flag or f"line {int(self)}" + (f" of {self.file}" if self.file else "")
        return f"{place} (applied to {self.applied_to})" if self.applied_to else place


def _origin(line: int, file: str | None, applied_to: str | None, flag: str | None) -> Origin:
    return Origin(line, file=file, applied_to=applied_to, flag=flag)


def describe_line(line: int | None) -> str:
    """How a problem's line reads in a message: `line 12`, or an Origin's fuller description."""
    if isinstance(line, Origin):
        return line.describe()
    return f"line {line}" if line else ""
