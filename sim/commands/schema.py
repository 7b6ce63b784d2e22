"""``python -m sim schema``: the scenario's JSON Schema for editors, and its reference page.

The schema comes from the pydantic models of `sim.scenario`: each field's description is its
docstring, the unit the ``[bracketed]`` tail of it (kept as the ``unit`` annotation), and the
default and rules (bounds, choices) the model's own. ``--markdown`` writes the same content as
``docs/scenario.md``, a section per block, with the baseline scenario's value as the example.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

from sim.scenario import Frozen, Scenario

SCHEMA_ID = "https://github.com/nct07271602/trialsim/scenario.schema.json"
UNIT = re.compile(r"\s*\[([^\[\]]+)\]\s*\.?\s*$")
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "nct07271602.yaml"


def split_unit(description: str) -> tuple[str, str | None]:
    """'Median PFS [months].' -> ('Median PFS.', 'months'); whitespace collapsed."""
    description = " ".join(description.split())
    match = UNIT.search(description)
    if not match:
        return description.strip(), None
    text = description[: match.start()].rstrip()
    return (text + "." if text and not text.endswith(".") else text), match.group(1)


def annotate_units(node: Any) -> None:
    """Move every description's `[unit]` tail into a `unit` keyword, in place; times are
    written HH:MM in scenarios, which JSON Schema's `time` format (RFC 3339) does not allow."""
    if isinstance(node, dict):
        if node.get("format") == "time":
            del node["format"]
            node["pattern"] = TIME_PATTERN
        if isinstance(node.get("description"), str):
            text, unit = split_unit(node["description"])
            node["description"] = text
            if unit:
                node["unit"] = unit
        for value in node.values():
            annotate_units(value)
    elif isinstance(node, list):
        for value in node:
            annotate_units(value)


def scenario_models() -> list[type[Frozen]]:
    """Every block model of the scenario (the subclasses of `Frozen`, at any depth)."""
    found, queue = [], [Frozen]
    while queue:
        for sub in queue.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                queue.append(sub)
    return found


def field_docstrings(model: type) -> dict[str, str]:
    """Each field's docstring (the string on the line below it) in the model's source, as
    pydantic's `use_attribute_docstrings` reads it, but only when a schema is made; a field
    inherited from a scenario block keeps its docstring there."""
    docs = {}
    for klass in reversed(model.__mro__):
        if klass.__module__.startswith("sim.scenario.") and klass.__name__ != "Frozen":
            docs.update(own_field_docstrings(klass))
    return docs


def own_field_docstrings(model: type) -> dict[str, str]:
    """The docstrings of the fields `model`'s own source declares."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for stmt, after in zip(body, body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return docs


def add_descriptions(schema: dict[str, Any]) -> None:
    """Field docstrings into the schema's properties, in place."""
    for model in scenario_models():
        node = schema if model is Scenario else schema.get("$defs", {}).get(model.__name__)
        if node is None:
            continue
        for name, doc in field_docstrings(model).items():
            prop = node.get("properties", {}).get(name)
            if prop is not None and "description" not in prop:
                prop["description"] = doc


def scenario_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a scenario file, with descriptions and units."""
    schema = Scenario.model_json_schema(mode="validation")
    add_descriptions(schema)
    annotate_units(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "trialsim scenario",
        "description": "A trial scenario for `python -m sim` (NCT07271602 and trials like "
        "it); see docs/scenario.md.",
    }


# --- the reference page --------------------------------------------------------------------


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return schema["$defs"][ref.rsplit("/", 1)[1]] if ref else node


def type_name(schema: dict[str, Any], node: dict[str, Any]) -> str:
    """A short type for a reader: 'number', 'list of RatePeriod', 'Site | null', ..."""
    if "$ref" in node:
        return f"[{node['$ref'].rsplit('/', 1)[1]}](#{node['$ref'].rsplit('/', 1)[1].lower()})"
    if "anyOf" in node:
        return " or ".join(type_name(schema, option) for option in node["anyOf"])
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    kind = node.get("type", "any")
    if kind == "array":
        if "prefixItems" in node:
            return "[" + ", ".join(type_name(schema, i) for i in node["prefixItems"]) + "]"
        return f"list of {type_name(schema, node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of name to {type_name(schema, node['additionalProperties'])}"
    if node.get("format") == "date":
        return "date"
    if node.get("pattern") == TIME_PATTERN:
        return "time (HH:MM)"
    return str(kind)


RULES = (
    ("exclusiveMinimum", "> {}"),
    ("minimum", ">= {}"),
    ("exclusiveMaximum", "< {}"),
    ("maximum", "<= {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)


def rule_text(node: dict[str, Any]) -> str:
    rules = [template.format(node[key]) for key, template in RULES if key in node]
    for key in ("anyOf", "items", "additionalProperties"):
        inner = node.get(key)
        for option in inner if isinstance(inner, list) else [inner]:
            if isinstance(option, dict) and option.get("type") != "null":
                rules.extend(
                    template.format(option[k])
                    for k, template in RULES
                    if k in option and k not in ("minItems", "maxItems")
                )
    return ", ".join(dict.fromkeys(rules))


def example_value(example: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path` in the example scenario (the first row of a list), or None."""
    node: Any = example
    for key in path:
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return "`" + text.replace("|", "\\|") + "`"


def block_rows(
    schema: dict[str, Any], model: dict[str, Any], path: tuple[str, ...], example: dict[str, Any]
) -> list[str]:
    required = set(model.get("required", ()))
    rows = []
    for name, node in model.get("properties", {}).items():
        default = (
            "required"
            if name in required
            else "`null`"
            if node.get("default", 0) is None
            else cell(node.get("default"))
        )
        described = node if "description" in node else resolve(schema, node)
        description = described.get("description", "").replace("\n", " ").replace("|", "\\|")
        rows.append(
            f"| `{name}` | {type_name(schema, node)} | {node.get('unit', '')} | "
            f"{default} | {rule_text(node)} | {description} | "
            f"{cell(example_value(example, (*path, name)))} |"
        )
    return rows


def referenced_models(schema: dict[str, Any], node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if "$ref" in node:
            found.append(node["$ref"].rsplit("/", 1)[1])
        for value in node.values():
            found.extend(referenced_models(schema, value))
    elif isinstance(node, list):
        for value in node:
            found.extend(referenced_models(schema, value))
    return found


def scenario_markdown(example_path: Path = BASELINE) -> str:
    """docs/scenario.md: every block and field, its type, unit, default, rule and an example
    (the value in the baseline scenario, where it sets one)."""
    import yaml

    schema = scenario_schema()
    example = yaml.safe_load(example_path.read_text(encoding="utf-8"))
    header = (
        "| field | type | unit | default | rule | meaning | example (baseline) |\n"
        "| --- | --- | --- | --- | --- | --- | --- |"
    )
    lines = [
        "# The scenario file, block by block",
        "",
        "Generated by `python -m sim schema --markdown > docs/scenario.md` from the models in",
        "`sim/scenario/` (a test fails when this page is stale). A scenario is one YAML file,",
        "loaded with `yaml.safe_load` and validated; unknown keys are errors. Dates are",
        "calendar dates (YYYY-MM-DD); the clock is days from `trial.start_date`; a month is",
        "30.4375 days. The example column shows `scenarios/nct07271602.yaml`; for a list, its",
        "first row.",
        "",
        "For completion and inline errors in an editor (VS Code's YAML extension, or any",
        "editor with the YAML language server), start a scenario with the line",
        "`# yaml-language-server: $schema=../docs/scenario.schema.json` (the path from the",
        "YAML file to `docs/scenario.schema.json`, which `python -m sim schema` writes).",
        "",
    ]
    seen: set[str] = set()
    top = schema["properties"]
    for block, node in top.items():
        model = resolve(schema, node) if "$ref" in node else None
        if model is None:
            refs = referenced_models(schema, node)
            model = schema["$defs"][refs[0]] if refs else None
        if model is None:
            continue
        lines += [
            f"## `{block}`",
            "",
            model.get("description", "").replace("\n", " "),
            "",
            header,
            *block_rows(schema, model, (block,), example),
            "",
        ]
        seen.add(model.get("title", ""))
        queue = [(name, model, (block,)) for name in referenced_models(schema, model)]
        while queue:
            name, parent, path = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            sub = schema["$defs"][name]
            field = next(
                (
                    f
                    for f, n in parent.get("properties", {}).items()
                    if name in referenced_models(schema, n)
                ),
                None,
            )
            sub_path = (*path, field) if field else path
            lines += [
                f"### {name}",
                "",
                sub.get("description", "").replace("\n", " "),
                "",
                header,
                *block_rows(schema, sub, sub_path, example),
                "",
            ]
            queue += [(n, sub, sub_path) for n in referenced_models(schema, sub)]
    return "\n".join(lines).replace("\n\n\n", "\n\n").rstrip() + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("schema", help="JSON Schema of the scenario file (for editors)")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="the reference page docs/scenario.md instead of JSON",
    )
    parser.set_defaults(func=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(scenario_markdown())
    else:
        sys.stdout.write(json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n")
    return 0
