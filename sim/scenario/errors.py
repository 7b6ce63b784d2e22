"""Error wording: a pydantic validation error as one line per problem, `path = value: rule
(fix)`, and `field_error` for a cross-field rule whose culprit is one field. (`ScenarioError`
itself lives in `sim.errors`, so that the command line can catch it without pydantic.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError


def field_error(loc: tuple[str | int, ...], value: Any, message: str) -> ValidationError:
    """A validation error at `loc` (relative to the model raising it), for cross-field rules
    whose culprit is one field: the message then names that field's dotted path."""
    from pydantic_core import InitErrorDetails, PydanticCustomError

    detail = InitErrorDetails(
        type=PydanticCustomError("value_error", message), loc=loc, input=value
    )
    return ValidationError.from_exception_data("Scenario", [detail])


def shown_value(value: Any, limit: int = 80) -> str | None:
    """The value as the message shows it; None for a whole block (a cross-field rule names
    the fields itself: a dump of the block would bury it)."""
    if isinstance(value, dict) or (
        isinstance(value, list | tuple) and value and all(isinstance(v, dict) for v in value)
    ):
        return None
    if isinstance(value, dt.date):  # as the YAML has it, not datetime.date(2026, 1, 30)
        return value.isoformat()
    text = "<missing>" if value is _MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...]"


def format_validation_error(error: ValidationError, data: Any) -> str:
    """One line per problem: `path = value: rule (fix)` (`path: rule` for a block)."""
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        value = lookup_path(data, item["loc"])
        rule = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            rule = "unknown key (check the spelling against scenarios/nct07271602.yaml)"
        elif item["type"] == "missing":
            rule = "required field is missing (add it; see scenarios/nct07271602.yaml)"
        shown = shown_value(value)
        fix = suggest_fix(item)
        if not path:  # a rule across blocks: it names its fields itself
            lines.append(f"{rule}{fix}")
        else:
            lines.append(
                f"{path}: {rule}{fix}" if shown is None else f"{path} = {shown}: {rule}{fix}"
            )
    return "\n".join(dict.fromkeys(lines))


_MISSING = object()

FIXES = {
    "greater_than": "use a value > {gt}",
    "greater_than_equal": "use a value >= {ge}",
    "less_than": "use a value < {lt}",
    "less_than_equal": "use a value <= {le}",
    "float_parsing": "write a plain number, e.g. 0.6",
    "float_type": "write a plain number, e.g. 0.6",
    "int_parsing": "write a whole number, e.g. 70",
    "int_type": "write a whole number, e.g. 70",
    "int_from_float": "write a whole number, e.g. 70",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_type": "write a date as YYYY-MM-DD",
    "literal_error": "use one of the values listed",
    "bool_parsing": "write true or false",
    "model_type": "write a block of key: value lines",
    "tuple_type": "write a list, e.g. [4, 6]",
    "dict_type": "write a block of key: value lines",
    "time_parsing": "write a time as HH:MM",
    "finite_number": "write a finite number, e.g. 0.6: .inf and .nan are not values a trial "
    "can have",
}


def suggest_fix(item: Any) -> str:
    template = FIXES.get(item["type"])
    if template is None:
        return ""
    try:
        return f" ({template.format(**item.get('ctx', {}))})"
    except (KeyError, IndexError):
        return ""


def lookup_path(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for key in loc:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list | tuple) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return _MISSING
    return node
