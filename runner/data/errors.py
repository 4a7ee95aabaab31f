"""The one exception the data layer raises for a user's mistake, and how it lists problems."""

from collections.abc import Sequence

from archspec.errors import UserError


class DataError(UserError, ValueError):
    """A mistake in the user's data: the CLI prints the message and exits with code 2."""


def bullet_list(items: Sequence[object], limit: int = 10) -> str:
    """Indented lines for a message: the first `limit` items, then "and N more".

    Problems are collected and reported together so the user fixes them in one pass, but a
    message listing 9,000 broken lines helps nobody.
    """
    lines = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  and {len(items) - limit} more")
    return "\n".join(lines)
