"""Override paths: ``--set PATH=VALUE`` applied to the raw YAML data before validation."""

from __future__ import annotations

from typing import Any

from sim.errors import ScenarioError
from sim.scenario.loading import parse_yaml


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.path=yaml_value`` override in place; list indices are numbers."""
    if "=" not in assignment:
        raise ScenarioError(
            f"--set {assignment!r}: must be PATH=VALUE (e.g. effect.hazard_ratio=0.79)"
        )
    path, raw = assignment.split("=", 1)
    shown = (
        assignment if len(assignment) <= 80 else f"{assignment[:60]}... ({len(raw):,} characters)"
    )
    value = parse_yaml(raw, f"--set {shown!r}: the value")
    keys = path.strip().split(".")
    node: Any = data
    created = False  # whether `node` is a block this override made (absent from the data)
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(
                    f"--set {path}: {where} is not an index of a {len(node)}-row table "
                    f"(use 0..{len(node) - 1})"
                )
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
            continue
        if not isinstance(node, dict):
            raise ScenarioError(f"--set {path}: {'.'.join(keys[:i])} is a value, not a block")
        if key.isdigit() and created:
            # a row index into a table the scenario does not have (a look of a scenario
            # without looks): a block {"0": ...} would only confuse the table's validation
            table = ".".join(keys[:i])
            example = "[{events: 35}, {events: 70}]" if keys[i - 1] == "looks" else "[...]"
            raise ScenarioError(
                f"--set {path}: {table} has no row {key}: the scenario has no {table} "
                f"table to index; give the whole table instead, e.g. --set '{table}={example}'"
            )
        if last:
            node[key] = value
        else:
            created = key not in node
            node = node.setdefault(key, {})


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted path (as --set and --grid write it) of a parsed scenario, list
    rows by index; None where there is none."""
    node = data
    for key in path.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return None
    return node
