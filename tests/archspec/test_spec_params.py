"""Block parameters: `$name` and `${expression}`, read by a closed grammar that never evals."""

from __future__ import annotations

import pytest
from torch import nn

from archspec.layers.reserved import MODULE_ATTRIBUTES
from archspec.params import ParamError, referenced_names, substitute

PARAMS = {"c": 64, "s": 2, "half": 0.5, "flag": True, "mode": "same"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$c", 64),
        ("$flag", True),
        ("$mode", "same"),
        ("${c * 4}", 256),
        ("${c / 4}", 16),  # exact: an integer, fit for an integer field
        ("${c / 3}", 64 / 3),
        ("${c // 3 + 1}", 22),
        ("${(c + s) * -s}", -132),
        ("${c % 10 - 1}", 3),
        ("${c * half}", 32.0),
        ("${ 2 * (s + 1) }", 6),
        (["$c", {"k": "${s * s}"}], [64, {"k": 4}]),
        (3, 3),
        ("plain", "plain"),
    ],
)
def test_substitution(value, expected) -> None:
    result = substitute(value, PARAMS)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("$x", "unknown parameter 'x' (this block's parameters: c, s, half, flag, mode)"),
        ("${c ** 2}", "unexpected '*'"),
        ("${c.__class__}", "cannot read '.__class__'"),
        ("${open('f')}", "cannot read ''f')'"),
        ("${c / 0}", "division by zero"),
        ("${(c + 1}", "a '(' is not closed"),
        ("${c +}", "the expression ends too early"),
        ("${mode * 2}", "parameter 'mode' is 'same', not a number"),
        ("${flag + 1}", "parameter 'flag' is True, not a number"),
        ("${c" + " * c" * 20 + "}", "the result does not fit in 64 bits"),
        ("${" + "1+" * 200 + "1}", "longer than 200 characters"),
        ("$c + 1", "neither $name nor ${expression}"),
    ],
)
def test_refusals(value: str, message: str) -> None:
    with pytest.raises(ParamError, match=None) as error:
        substitute(value, PARAMS)
    assert message in str(error.value)
    assert error.value.hint  # what to write instead: the `fix:` line


@pytest.mark.parametrize(
    ("value", "params", "hint"),
    [
        ("$chanels", {"channels": 4}, "did you mean channels?"),
        ("$width", {"channels": 4}, "add it to the block's params (width: required)"),
        ("$width", {}, "parameters are a block's: define the block under blocks:"),
        ("${channels / (2 - 2)}", {"channels": 4}, "the divisor's parameter"),
        ("${c ** 2}", {"c": 1}, "an expression is numbers, parameter names"),
    ],
)
def test_a_refusal_says_what_to_write(value: str, params: dict, hint: str) -> None:
    with pytest.raises(ParamError) as error:
        substitute(value, params)
    assert hint in error.value.hint


def test_referenced_names() -> None:
    assert referenced_names("${(c + s) * c}") == ["c", "s", "c"]
    assert referenced_names("$c") == ["c"] and referenced_names(4) == []


def test_reserved_names_are_torchs() -> None:
    assert set(dir(nn.Module)) == MODULE_ATTRIBUTES
