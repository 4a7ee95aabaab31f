"""--help that shows every option's default, the same way everywhere."""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Append "(default: X)" to an option's help unless the help already says its default.

    Unlike argparse.ArgumentDefaultsHelpFormatter it writes no "(default: None)" for options
    whose default is decided later (TrainConfig's, the checkpoint's folder): their help says it
    in words, which tests/archspec/test_cli_help.py checks for every option.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or action.required
            or default is None
            or default is False
            or default is argparse.SUPPRESS
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list | tuple) else default
        return f"{text} (default: {str(shown).replace('%', '%%')})"


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give `parser` and all its sub-commands, at any depth, DefaultsHelpFormatter."""
    parser.formatter_class = DefaultsHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)
