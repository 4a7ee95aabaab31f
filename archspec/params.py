"""Block parameters in field values: `$channels`, or arithmetic such as `${channels * 4}`.

The arithmetic is a closed grammar read by a small recursive-descent parser, never `eval`:

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '//' | '/' | '%') factor)*
    factor := ('-' | '+') factor | NUMBER | NAME | FUNCTION '(' expr (',' expr)* ')'
              | '(' expr ')'

Names are the block's parameters; numbers are integers or decimals. `/` gives an integer when
the division is exact, so `${channels / 4}` can fill an integer field. The functions are the
ones papers compute widths and depths with: make_divisible (torchvision's _make_divisible),
ceil, floor, round, int, min and max, and RegNet's regnet_width and regnet_depth
(regnet_widths.py).

Some names are known only once shapes are inferred, so a field that uses them is evaluated then
(a `Deferred` value): the channels, height and width entering the layer (`in_channels`,
`in_height`, `in_width`: a depthwise conv's `groups: $in_channels`), and the position of the
block the layer is in among all uses of blocks printed under its class in the network
(`block_index`, from 0, and `block_count`: a stochastic depth that grows along the network).
Given as a block parameter (`h: $in_height`), such a name is of the block's input, and the
block may compute with it (`${h // 7}`: MaxViT's partitions), but not mix it with its own
layer's input.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archspec.regnet_widths import regnet_depth, regnet_width

WHOLE_NAME = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
WHOLE_EXPR = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
NAME = re.compile(r"(?<![0-9.])[A-Za-z_][A-Za-z0-9_]*")
TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\d*\.\d+|\d+)|([A-Za-z_][A-Za-z0-9_]*)|(//|[-+*/%(),]))")
MAX_EXPRESSION = 200  # characters; a field's arithmetic is never longer
MAX_MAGNITUDE = 2**63  # results beyond 64 bits are refused, not carried along as huge ints


GRAMMAR = (
    "numbers, parameter names, + - * / // % , parentheses and the functions make_divisible, "
    "ceil, floor, round, int, min, max, regnet_width, regnet_depth, e.g. "
    "${make_divisible(planes * 1.5, 8)}"
)
SHAPE_NAMES = ("in_channels", "in_height", "in_width", "in_tokens")  # of the layer's input
POSITION_NAMES = ("block_index", "block_count")  # of the enclosing block, network-wide
DEFERRED_NAMES = SHAPE_NAMES + POSITION_NAMES


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """The nearest multiple of `divisor` to `value`, never below 90% of it (torchvision's
    _make_divisible, which MobileNet and EfficientNet widths use)."""
    if min_value is None:
        min_value = divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {  # name -> (f, least, most) args
    "make_divisible": (make_divisible, 2, 3),
    "ceil": (math.ceil, 1, 1),
    "floor": (math.floor, 1, 1),
    "round": (round, 1, 1),
    "int": (int, 1, 1),
    "min": (min, 2, 8),
    "max": (max, 2, 8),
    # RegNet's stages from its parameters: (stage, stages, depth, w_0, w_a, w_m[, group_width])
    "regnet_width": (regnet_width, 7, 7),
    "regnet_depth": (regnet_depth, 6, 6),
}


@dataclass(frozen=True)
class Deferred:
    """A field value that uses names known only once shapes are inferred (DEFERRED_NAMES):
    the text as written, with the block parameters it uses bound at that point."""

    text: str
    bound: tuple[tuple[str, Any], ...]
    # Given as a block parameter: the block use whose input (and position) the names are of,
    # (class, index among its uses); None in a layer's own field: that layer's.
    anchor: tuple[str, int] | None = None

    def names(self) -> list[str]:
        own = [n for n in referenced_names(self.text) if n in DEFERRED_NAMES]
        return own + [n for _, v in self.bound if isinstance(v, Deferred) for n in v.names()]

    def evaluate(self, known: Mapping[str, Any]) -> Any:
        bound = {k: v.evaluate(known) if isinstance(v, Deferred) else v for k, v in self.bound}
        return substitute(self.text, {**bound, **known})

    def __str__(self) -> str:
        return self.text


class ParamError(ValueError):
    """A reference or expression that cannot be evaluated; the message says why, `hint` what
    to write instead (the `fix:` line)."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


class ValueProblem(ParamError):
    """An expression that is well written but fails for these values (a division by zero, a
    function's domain): a trial with stand-in values ignores it."""


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
    deferred = _deferred(value, params)
    if deferred is not None:
        return deferred
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


def _deferred(value: str, params: Mapping[str, Any]) -> Deferred | None:
    """`value` as a Deferred if it uses a name known only later (and is otherwise sound)."""
    try:
        names = referenced_names(value)
    except ParamError:
        return None  # reported by the evaluation that follows
    later = [n for n in names if n in DEFERRED_NAMES and n not in params]
    bound = {n: params[n] for n in names if n in params}
    given = {n: v for n, v in bound.items() if isinstance(v, Deferred)}
    if not later and (not given or WHOLE_NAME.match(value)):
        return None  # nothing known later, or a given one used whole: it is its own value
    # A parameter given as the input's shape at a block's use (`h: $in_height`) may take part
    # in arithmetic (`${h // 7}`): the result is of that use's input too. Mixed with this
    # layer's own input, or with another use's, it would mean two places at once.
    anchors = {v.anchor for v in given.values()}
    if given and (later or len(anchors) > 1 or None in anchors):
        name, first = next(iter(given.items()))
        here = f"this layer's own {', '.join(later)}" if later else "another block's input"
        raise ParamError(
            f"parameter '{name}' depends on the input shape ({first}) where its block is used, "
            f"so it cannot be mixed with {here}",
            f"write the field as ${name}, or write the arithmetic into {name}'s value",
        )
    # every other name must be known now, and the arithmetic must parse: try it with 1s for
    # the names known later (what fails only for those values is told when they are known)
    with contextlib.suppress(ValueProblem):
        substitute(value, {**params, **{n: 1 for n in [*later, *given]}})
    return Deferred(value, tuple(sorted(bound.items())), anchors.pop() if given else None)


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
                raise ValueProblem(
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
        if name and self.peek() == "(":
            if name not in FUNCTIONS:
                raise ParamError(
                    f"unknown function '{name}'", f"the functions are {', '.join(FUNCTIONS)}"
                )
            return self.call(name)
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

    def call(self, name: str) -> int | float:
        function, least, most = FUNCTIONS[name]
        self.pos += 1  # the '('
        args = [self.expr()]
        while self.peek() == ",":
            self.pos += 1
            args.append(self.expr())
        if self.peek() != ")":
            raise ParamError(f"the call of {name} is not closed", "add the ')' that closes it")
        self.pos += 1
        if not least <= len(args) <= most:
            count = str(least) if least == most else f"{least} to {most}"
            raise ParamError(
                f"{name} takes {count} arguments, got {len(args)}",
                "e.g. make_divisible(channels * 0.75, 8), ceil(depth * 1.2), max(1, c // 4)",
            )
        try:
            return _checked(function(*args))
        except (ValueError, OverflowError, TypeError) as e:  # e.g. no RegNet has these numbers
            hint = getattr(e, "hint", f"give {name} values it accepts")
            raise ValueProblem(f"{name}: {e}", hint) from None


def _checked(value: int | float) -> int | float:
    if abs(value) >= MAX_MAGNITUDE:
        raise ValueProblem(
            "the result does not fit in 64 bits",
            "check the parameters' values: no layer size comes near 2**63",
        )
    return value
