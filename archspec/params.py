"""Block parameters in field values: `$channels`, or arithmetic such as `${channels * 4}`.

The arithmetic is a closed grammar read by a small recursive-descent parser, never `eval`:

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '//' | '/' | '%') factor)*
    factor := ('-' | '+') factor | NUMBER | NAME | '(' expr ')'

Names are the block's parameters; numbers are integers or decimals. `/` gives an integer when
the division is exact, so `${channels / 4}` can fill an integer field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

WHOLE_NAME = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
WHOLE_EXPR = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
NAME = re.compile(r"(?<![0-9.])[A-Za-z_][A-Za-z0-9_]*")
TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\d*\.\d+|\d+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/%()]))")
MAX_EXPRESSION = 200  # characters; a field's arithmetic is never longer
MAX_MAGNITUDE = 2**63  # results beyond 64 bits are refused, not carried along as huge ints


GRAMMAR = "numbers, parameter names, + - * / // % and parentheses, e.g. ${(planes + 1) * 2}"


class ParamError(ValueError):
    """A reference or expression that cannot be evaluated; the message says why, `hint` what
    to write instead (the `fix:` line)."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def referenced_names(value: Any) -> list[str]:
    """The parameter names a field value uses (empty for a plain value)."""
    if not is_reference(value):
        return []
    whole = WHOLE_NAME.match(value)
    if whole:
        return [whole.group(1)]
    expr = WHOLE_EXPR.match(value)
    if not expr:
        return []
    return [name for _, name, _ in _tokens(expr.group(1)) if name]


def mentioned_names(value: Any) -> list[str]:
    """Every name a value mentions, in lists and mappings too, read leniently: an expression
    that does not parse still mentions its names (its error is reported where it is used)."""
    if isinstance(value, list):
        return [name for v in value for name in mentioned_names(v)]
    if isinstance(value, Mapping):
        return [name for v in value.values() for name in mentioned_names(v)]
    if not is_reference(value):
        return []
    whole = WHOLE_NAME.match(value)
    if whole:
        return [whole.group(1)]
    expr = WHOLE_EXPR.match(value)
    return NAME.findall(expr.group(1)) if expr else []


def substitute(value: Any, params: Mapping[str, Any]) -> Any:
    """`value` with parameter references replaced; lists and mappings are walked."""
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, Mapping):
        return {k: substitute(v, params) for k, v in value.items()}
    if not is_reference(value):
        return value
    whole = WHOLE_NAME.match(value)
    if whole:
        return _lookup(whole.group(1), params)
    expr = WHOLE_EXPR.match(value)
    if not expr:
        raise ParamError(
            f"'{value}' is neither $name nor ${{expression}}",
            "write a parameter as $channels, arithmetic as ${channels * 4} (the whole value "
            "inside ${...})",
        )
    return evaluate(expr.group(1), params)


def evaluate(text: str, params: Mapping[str, Any]) -> int | float:
    if len(text) > MAX_EXPRESSION:
        raise ParamError(
            f"the expression is longer than {MAX_EXPRESSION} characters",
            "shorten it: give the block a parameter for the part it repeats",
        )
    parser = _Parser(_tokens(text), params)
    result = parser.expr()
    if parser.pos != len(parser.tokens):
        raise ParamError(
            f"unexpected '{_show(parser.tokens[parser.pos])}' in ${{{text}}}",
            f"an expression is {GRAMMAR}",
        )
    return result


def _tokens(text: str) -> list[tuple[str, str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match:
            raise ParamError(
                f"cannot read '{text[pos:].strip()}' in ${{{text}}}: only numbers, parameter "
                "names, + - * / // % and parentheses are allowed",
                f"write it with {GRAMMAR}",
            )
        tokens.append((match.group(1) or "", match.group(2) or "", match.group(3) or ""))
        pos = match.end()
    return tokens


def _show(token: tuple[str, str, str]) -> str:
    return "".join(token)


def _lookup(name: str, params: Mapping[str, Any]) -> Any:
    if name not in params:
        known = ", ".join(params) or "none"
        close = difflib.get_close_matches(name, list(params), n=1)
        if close:
            hint = f"did you mean {close[0]}?"
        elif params:
            hint = f"add it to the block's params ({name}: required), or write the value itself"
        else:
            hint = "parameters are a block's: define the block under blocks: with params: "
            hint += f"{{{name}: ...}}, or write the value itself"
        raise ParamError(f"unknown parameter '{name}' (this block's parameters: {known})", hint)
    return params[name]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, str]], params: Mapping[str, Any]):
        self.tokens, self.params, self.pos = tokens, params, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][2] if self.pos < len(self.tokens) else None

    def expr(self) -> int | float:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.pos][2]
            self.pos += 1
            value = _checked(value + self.term() if op == "+" else value - self.term())
        return value

    def term(self) -> int | float:
        value = self.factor()
        while self.peek() in ("*", "/", "//", "%"):
            op = self.tokens[self.pos][2]
            self.pos += 1
            right = self.factor()
            if op != "*" and right == 0:
                raise ParamError(
                    "division by zero", "check the value given for the divisor's parameter"
                )
            if op == "*":
                value = value * right
            elif op == "//":
                value = value // right
            elif op == "%":
                value = value % right
            else:
                exact = isinstance(value, int) and isinstance(right, int) and value % right == 0
                value = value // right if exact else value / right
            value = _checked(value)
        return value

    def factor(self) -> int | float:
        if self.pos >= len(self.tokens):
            raise ParamError(
                "the expression ends too early",
                "complete it: every operator needs a number or a name after it",
            )
        number, name, op = self.tokens[self.pos]
        self.pos += 1
        if op in ("-", "+"):
            value = self.factor()
            return -value if op == "-" else value
        if op == "(":
            value = self.expr()
            if self.peek() != ")":
                raise ParamError("a '(' is not closed", "add the ')' that closes it")
            self.pos += 1
            return value
        if number:
            return float(number) if "." in number else int(number)
        if name:
            value = _lookup(name, self.params)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParamError(
                    f"parameter '{name}' is {value!r}, not a number",
                    f"give {name} a number where the block is used, or leave it out of the "
                    "arithmetic",
                )
            return value
        raise ParamError(f"unexpected '{op}'", f"an expression is {GRAMMAR}")


def _checked(value: int | float) -> int | float:
    if abs(value) >= MAX_MAGNITUDE:
        raise ParamError(
            "the result does not fit in 64 bits",
            "check the parameters' values: no layer size comes near 2**63",
        )
    return value
