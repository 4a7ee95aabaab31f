"""The distribution this package is installed as, and the other project that shares its name.

The import name `archspec` is also used by the system-architecture library of that name on the
package index (a dependency of conda and spack). Both install into `site-packages/archspec/`, so
in one environment the second overwrites the first's files. This project is therefore
distributed as `archspec-torch`, and the command line checks for the other one before it runs.
"""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "archspec-torch"  # `pip install archspec-torch`; the import name stays `archspec`
OTHER_DISTRIBUTION = "archspec"  # "A library to query system architecture"


def other_archspec_version() -> str | None:
    """The version of the other `archspec` distribution installed beside this one, if any."""
    try:
        return metadata.version(OTHER_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def clash_message(version: str) -> str:
    return (
        f"the package '{OTHER_DISTRIBUTION}' {version} (a library to query system architecture, "
        f"used by conda and spack) is installed in this environment; it shares the import name "
        f"'archspec' with {DISTRIBUTION}, so one overwrites the other's files\n"
        f"    fix: install {DISTRIBUTION} into its own virtual environment "
        f"(python -m venv .venv && . .venv/bin/activate && pip install {DISTRIBUTION}); in a "
        f"conda base environment, do not uninstall it (conda needs it): create a new environment"
    )
