"""Offer eligibility conditions: JsonLogic rules over named shop variables, checked before they are saved and
evaluated against a visitor's facts.

Evaluation is panzi-json-logic's (the only module that imports it). Of the candidates it alone passes the whole
official JsonLogic suite (jsonlogic.com/tests.json, 277/277); jsonlogic-rs passes 275 (it does not evaluate logic
inside array literals) and is a compiled wheel per Python version; python-jsonlogic passes 58, being deliberately
stricter than the standard (no `or`, `!`, `===`, between forms or string-to-number coercion). panzi-json-logic is
small, pure Python, without dependencies, and takes its operator table as an argument, so here it gets exactly the
standard set: no `log`, nothing that runs code, and `/` and `%` as JavaScript has them (x/0 is Infinity, not an
exception). Its last release is from 2021; the standard it implements has not moved since.

Checking (paths, variables, operators, arity) is written here, as no candidate reports problems by path.
"""

from __future__ import annotations

import difflib
import math
import reprlib
from typing import Any

from json_logic import jsonLogic
from json_logic.builtins import BUILTINS, to_bool, to_number

from salesbot.errors import InvalidInput

ATTRIBUTES = "customer.attributes."

VARIABLES: dict[str, str] = {
    "lead.budget.amount": "number",
    "lead.budget.currency": "string",
    "lead.budget.per_unit": "number",
    "lead.need.category": "string",
    "lead.need.quantity": "number",
    "lead.company_size.min": "number",
    "lead.company_size.max": "number",
    "lead.status": "string",
    "lead.score": "number",
    "lead.authority.decision_maker": "boolean",
    "lead.timeline.days": "number",
    "customer.segment": "string",
    "customer.country": "string",
    "customer.first_purchase": "boolean",
    "customer.purchases": "number",
    # A prefix, not one variable: `customer.attributes.<anything>` of any type the shop stored.
    ATTRIBUTES + "*": "any",
    "behaviour.cart_value": "number",
    "behaviour.viewed_categories": "list",
    "behaviour.days_since_last_purchase": "number",
    "channel": "string",
    "page.category": "string",
    "page.locale": "string",
}

DEEPEST = 100  # nested objects and lists: beyond any real rule, and evaluation stays far from the recursion limit

# operator -> (fewest, most) arguments, and how to say it
_ARITY: dict[str, tuple[int, int | None, str]] = {
    "==": (2, 2, "2 arguments"),
    "===": (2, 2, "2 arguments"),
    "!=": (2, 2, "2 arguments"),
    "!==": (2, 2, "2 arguments"),
    # JavaScript's JsonLogic has between forms only for `<` and `<=`; a third argument to `>` is ignored there.
    ">": (2, 2, "2 arguments"),
    ">=": (2, 2, "2 arguments"),
    "<": (2, 3, "2 or 3 arguments"),
    "<=": (2, 3, "2 or 3 arguments"),
    "!": (1, 1, "1 argument"),
    "!!": (1, 1, "1 argument"),
    "and": (1, None, "at least 1 argument"),
    "or": (1, None, "at least 1 argument"),
    "if": (2, None, "at least 2 arguments (a condition and a value)"),
    "?:": (3, 3, "3 arguments (a condition, a value if true, a value if false)"),
    "in": (2, 2, "2 arguments (what to look for, where)"),
    "cat": (1, None, "at least 1 argument"),
    "substr": (2, 3, "2 or 3 arguments (text, start, length)"),
    "+": (1, None, "at least 1 argument"),
    "*": (1, None, "at least 1 argument"),
    "-": (1, 2, "1 or 2 arguments"),
    "/": (2, 2, "2 arguments"),
    "%": (2, 2, "2 arguments"),
    "min": (1, None, "at least 1 argument"),
    "max": (1, None, "at least 1 argument"),
    "merge": (0, None, "any number of arguments"),
    "missing": (1, None, "at least 1 variable name"),
    "missing_some": (2, 2, "2 arguments (how many are needed, a list of variable names)"),
    "var": (1, 2, "1 or 2 arguments (a variable name, a default)"),
    "all": (2, 2, "2 arguments (a list, a condition for each element)"),
    "some": (2, 2, "2 arguments (a list, a condition for each element)"),
    "none": (2, 2, "2 arguments (a list, a condition for each element)"),
    "filter": (2, 2, "2 arguments (a list, a condition for each element)"),
    "map": (2, 2, "2 arguments (a list, a rule for each element)"),
    "reduce": (3, 3, "3 arguments (a list, a rule, a starting value)"),
}
_PER_ELEMENT = {"all", "some", "none", "filter", "map", "reduce"}
_REDUCE_NAMES = ("current", "accumulator")

# Scopes a `var` can be read in: the facts, one element of a list, or reduce's {current, accumulator}.
_FACTS, _ELEMENT, _REDUCE = "facts", "element", "reduce"


def _divide(data: Any = None, a: Any = None, b: Any = None, *_ignored: Any) -> float:
    a, b = to_number(a), to_number(b)
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.inf if (a > 0) == (math.copysign(1, b) > 0) else -math.inf


def _remainder(data: Any = None, a: Any = None, b: Any = None, *_ignored: Any) -> float:
    a, b = to_number(a), to_number(b)
    if isinstance(a, int) and isinstance(b, int) and b != 0:
        return int(math.copysign(abs(a) % abs(b), a)) if a else 0  # the sign of the dividend, as in JavaScript
    try:
        return math.fmod(a, b)
    except ValueError:  # x % 0 and Infinity % x are NaN in JavaScript
        return math.nan


_OPERATIONS = {name: op for name, op in BUILTINS.items() if name in _ARITY} | {"/": _divide, "%": _remainder}
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 2, 60, 60, 4, 4
_KNOWN = ", ".join([*(name for name in VARIABLES if not name.startswith(ATTRIBUTES)), ATTRIBUTES + "<name>"])


def problems(rule: object, *, at: str = "eligibility") -> dict[str, str]:
    """Every problem of a rule, keyed by its path in the rule (e.g. "eligibility.and.0.>=.0.var"), with a message
    a marketer understands. Empty when the rule is sound. Never raises, whatever JSON it is given."""
    found: dict[str, str] = {}
    if not isinstance(rule, dict):
        _note(found, at, f'a condition is an object such as {{"==": [...]}}, not {_kind(rule)}')
        return found
    pending: list[tuple[object, str, str, int]] = [(rule, at, _FACTS, 1)]
    while pending:
        value, path, scope, depth = pending.pop()
        if depth > DEEPEST:
            _note(found, path, f"nested deeper than {DEEPEST} levels")
        elif isinstance(value, list):
            pending.extend((item, f"{path}.{i}", scope, depth + 1) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            pending.extend(reversed(_operation(value, path, scope, depth, found)))
        elif not isinstance(value, str | int | float | bool | type(None)):
            _note(found, path, f"{_kind(value)} is not a JSON value")
    return found


def holds(rule: object, facts: dict) -> bool:
    """Whether the rule is true for the facts (a nested dict: {"lead": {"budget": {"amount": 12000}}, ...}).

    A missing variable is null and truthiness is JsonLogic's ([] and "" are false, "0" is true). A value the rule
    cannot compute with (a number too large for a float, a date compared with text) makes it not hold.
    Raises `InvalidInput` naming every problem when the rule is not sound; a sound rule never raises. A bare
    `True` or `False` is JsonLogic's always and never, so it holds or not (`problems` still wants an object saved)."""
    if isinstance(rule, bool):
        return rule
    found = problems(rule)
    if found:
        first = next(iter(found))
        raise InvalidInput(f"{first}: {found[first]}", {path: [message] for path, message in found.items()})
    try:
        return to_bool(_apply(rule, facts))
    except (ArithmeticError, TypeError, ValueError):
        return False


def _apply(rule: object, data: object) -> object:
    """The rule's raw JsonLogic value for the data, with the standard operators only and no variable checks."""
    return jsonLogic(rule, data, _OPERATIONS)


def _operation(value: dict, path: str, scope: str, depth: int, found: dict[str, str]) -> list:
    """The problems of one `{"operator": arguments}` object; returns its arguments still to be checked."""
    if len(value) != 1:
        keys = ", ".join(_short(key) for key in list(value)[:5])
        _note(found, path, f"an operation is an object with exactly one operator; this one has {len(value)}: {keys}")
        return [(item, f"{path}.{key}", scope, depth + 1) for key, item in value.items()]
    operator, arguments = next(iter(value.items()))
    here = f"{path}.{operator}"
    listed = [(item, at, scope, deeper) for item, at, deeper in _arguments(arguments, here, depth)]
    if operator not in _ARITY:
        _note(found, here, f"unknown operator {_short(operator)}; allowed: {' '.join(_ARITY)}")
        return listed
    fewest, most, words = _ARITY[operator]
    if operator == "var" and scope != _FACTS:
        fewest = 0  # {"var": ""} or {"var": []} is the element itself
    if len(listed) < fewest or (most is not None and len(listed) > most):
        _note(found, here, f"{_short(operator)} takes {words}; it has {len(listed)}")
    if operator == "var":
        return _variable(listed, scope, found)
    if operator in ("missing", "missing_some"):
        return _names(listed, skip=int(operator == "missing_some"), scope=scope, found=found)
    if operator in _PER_ELEMENT and len(listed) > 1:
        item, at, _, deeper = listed[1]
        listed[1] = (item, at, _REDUCE if operator == "reduce" else _ELEMENT, deeper)
    return listed


def _arguments(arguments: object, here: str, depth: int) -> list[tuple[object, str, int]]:
    """An operator's arguments with their paths: a single argument may be written without a list."""
    if isinstance(arguments, list):
        return [(item, f"{here}.{i}", depth + 2) for i, item in enumerate(arguments)]
    return [(arguments, here, depth + 1)]


def _variable(listed: list, scope: str, found: dict[str, str]) -> list:
    """A `var`'s name is checked against VARIABLES; its default (and a computed name in a list) still to check."""
    if not listed:
        return []
    name, at, _, _ = listed[0]
    if not isinstance(name, dict | list):
        if message := _variable_problem(name, scope):
            _note(found, at, message)
        return listed[1:]
    if scope == _FACTS:
        _note(found, at, "a variable name is written out as text, such as 'lead.score', so it can be checked")
    return listed


def _names(listed: list, *, skip: int, scope: str, found: dict[str, str]) -> list:
    """`missing` and `missing_some` take variable names as text: they are checked like a `var`'s."""
    pending = listed[:skip]
    for names, at, _, depth in listed[skip:]:
        for name, where, deeper in (
            _arguments(names, at, depth - 1) if isinstance(names, list) else [(names, at, depth)]
        ):
            if isinstance(name, dict | list):
                pending.append((name, where, scope, deeper))
            elif message := _variable_problem(name, scope):
                _note(found, where, message)
    return pending


def _variable_problem(name: object, scope: str) -> str | None:
    if scope == _ELEMENT:
        return None if isinstance(name, str | int | type(None)) else f"{_kind(name)} is not a name of a list element"
    if scope == _REDUCE:
        if isinstance(name, str) and name.split(".")[0] in _REDUCE_NAMES:
            return None
        return f"inside 'reduce' a variable is 'current' or 'accumulator', not {_short(name)}"
    if not isinstance(name, str) or not name:
        return f"a variable name is text, such as 'lead.score', not {_kind(name)}"
    if name in VARIABLES or (name.startswith(ATTRIBUTES) and len(name) > len(ATTRIBUTES)):
        return None
    if name == ATTRIBUTES.rstrip("."):
        return f"{name!r} needs the attribute's name after it, such as '{ATTRIBUTES}vip'"
    close = difflib.get_close_matches(name[:100], _KNOWN.split(", "), n=1, cutoff=0.75)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown variable {_short(name)}{hint}; known: {_KNOWN}"


def _note(found: dict[str, str], path: str, message: str) -> None:
    found[path] = f"{found[path]}; {message}" if path in found else message


def _short(value: object) -> str:
    return _SHORT.repr(value)  # bounded in length and depth, so garbage nested 10,000 deep is told too


def _kind(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    kinds = {str: "text", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return f"{kinds[type(value)]} ({_short(value)})" if type(value) in kinds else f"a Python {type(value).__name__}"
