"""YAML loading, hardened: a key given twice, a date not in the calendar, aliases that
expand beyond `MAX_YAML_VALUES`, a file too large or not UTF-8 are each one ScenarioError
naming the line; libyaml's parser when it gives the very result of PyYAML's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError

MAX_YAML_BYTES = 1_000_000  # a scenario is a few kB; a sweep's variants some tens of kB
MAX_YAML_VALUES = 100_000  # values after anchors and aliases are expanded


class ScenarioLoader(yaml.SafeLoader):
    """`yaml.SafeLoader`, stricter: a key given twice in one block is an error (the last one
    would silently win), and so is a date that is not in the calendar (2026-02-30)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: PyYAML says so below
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice in one block (first on line "
                    f"{first.line + 1}); the second would silently replace the first: keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value} is not a calendar date ({exc}); write a real date "
                "as YYYY-MM-DD, e.g. 2026-02-28",
                node.start_mark,
            ) from None


ScenarioLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", ScenarioLoader.construct_checked_timestamp
)


def expanded_size(node: yaml.Node, label: str) -> int:
    """How many values `node` holds once every alias is expanded (memoized per node, so
    linear in the file); a recursive alias is an error."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(item: yaml.Node) -> int:
        key = id(item)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ScenarioError(
                f"{label}: line {item.start_mark.line + 1}: an alias refers to "
                "the block that contains it (a recursive structure); remove it"
            )
        active.add(key)
        if isinstance(item, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in item.value)
        elif isinstance(item, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in item.value)
        else:
            total = 1
        active.discard(key)
        sizes[key] = total
        return total

    return size(node)


def yaml_problem(exc: yaml.YAMLError, text: str = "") -> str:
    """A YAML error in one line: `line L, column C: problem (context)`."""
    if isinstance(exc, yaml.reader.ReaderError):
        pos = exc.position
        line, column = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
        return (
            f"line {line}, column {column}: character {exc.character!r} is not allowed in "
            "YAML (a control character: delete it)"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        return f"{where}{exc.problem}{context}"
    return str(exc).splitlines()[0]


def fast_loader() -> type | None:
    """`ScenarioLoader` on libyaml's parser (PyYAML's C extension), when it is there."""
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    return type("FastScenarioLoader", (yaml.CSafeLoader, ScenarioLoader), {})


FAST_LOADER = fast_loader()


def parse_yaml_fast(text: str) -> tuple[bool, Any]:
    """(True, data) from libyaml's parser, several times faster than PyYAML's own, with
    the same constructors (so the same data); (False, None)
    when it is not installed, when the text holds what the two parsers disagree on (a tab
    or a byte-order mark inside the text: libyaml accepts both where PyYAML refuses), or on
    any error: then `parse_yaml` parses with PyYAML's parser, which accepts and refuses
    exactly what it always did, with its messages."""
    if FAST_LOADER is None or "\t" in text or "\ufeff" in text:
        return False, None
    loader = None
    try:
        loader = FAST_LOADER(text)
        node = loader.get_single_node()
        if node is None or expanded_size(node, "") > MAX_YAML_VALUES:
            return False, None
        return True, loader.construct_document(node)
    except Exception:  # the slow path below says what is wrong
        return False, None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml(text: str, label: str) -> Any:
    """`yaml.safe_load` with `ScenarioLoader`, and anchors/aliases that expand to more than
    MAX_YAML_VALUES values refused; every failure is a ScenarioError starting with `label`."""
    done, data = parse_yaml_fast(text)
    if done:
        return data
    loader = None
    try:
        loader = ScenarioLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        values = expanded_size(node, label)
        if values > MAX_YAML_VALUES:
            raise ScenarioError(
                f"{label}: anchors and aliases expand to {values:,} values, more than the "
                f"{MAX_YAML_VALUES:,} a scenario may hold; write the blocks out instead of "
                "nesting aliases"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ScenarioError(
            f"{label}: malformed YAML at {yaml_problem(exc, text)}; fix it there"
        ) from exc
    except RecursionError:
        raise ScenarioError(f"{label}: the YAML is nested too deeply; flatten it") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ScenarioError(
            f"{label}: a value YAML cannot read ({str(exc).split(';')[0]}); write it shorter"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_text_file(path: Path, label: str, limit: int = MAX_YAML_BYTES) -> str:
    """A small UTF-8 text file (a BOM is fine); otherwise ScenarioError starting with
    `label`: missing, too large (the bound is `limit` bytes), or not UTF-8 (line, column)."""
    if not path.is_file():
        raise ScenarioError(f"{label}: {why_not_a_file(path)}")
    try:
        size = path.stat().st_size
        if size > limit:
            raise ScenarioError(
                f"{label}: {size:,} bytes, more than the {limit:,} a scenario "
                "file may have; is this the right file?"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(
            f"{label}: cannot read it ({exc.strerror}); check the path and its permissions"
        ) from exc
    if len(raw) > limit:
        raise ScenarioError(f"{label}: more than the {limit:,} bytes a scenario file may have")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError(
            f"{label}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column "
            f"{column}; save the file as UTF-8"
        ) from None


def why_not_a_file(path: Path) -> str:
    """Why `path` cannot be read as a file: missing, a folder, or another kind of entry."""
    if path.is_dir():
        return "is a folder, not a file (give the file inside it)"
    if path.exists():
        kind = "a FIFO (named pipe)" if path.is_fifo() else "not a regular file"
        return f"is {kind}, not a file that can be read whole (give a regular file)"
    return "no such file (check the path)"


def load_yaml_file(path: str | Path, label: str) -> Any:
    """`parse_yaml` of a file; a missing, large, non-UTF-8 file or bad YAML is a
    ScenarioError that starts with `label` (e.g. the path, or '--variants PATH')."""
    path = Path(path)
    return parse_yaml(read_text_file(path, label), label)


def not_a_scenario(data: Any, source: str) -> str:
    """Why YAML `data` that is not a mapping is no scenario; a list of variants (``name:``
    and ``set:`` entries, as scenarios/sensitivity.yaml) says where such a list goes."""
    blocks = "a scenario is a YAML mapping of blocks (trial:, enrollment:, ...)"
    if data is None:
        return f"{source}: the file is empty: {blocks}"
    if isinstance(data, list) and data and all(isinstance(v, dict) and "set" in v for v in data):
        return (
            f"{source}: the file is a list of variants (name:, set:), not a scenario: "
            f"{blocks}; give the variants to a sweep of a scenario: python -m sim sweep "
            f"SCENARIO --variants {source} --out FOLDER"
        )
    kind = "a list" if isinstance(data, list) else "a single value"
    return f"{source}: the file is {kind}, not a scenario: {blocks}"


def read_scenario_yaml(path: str | Path) -> dict[str, Any]:
    """The scenario's YAML data; a relative `enrollment.sites_file` becomes relative to the
    YAML file's folder (where a user keeps the table beside the scenario)."""
    data = load_yaml_file(path, f"{path}")
    if not isinstance(data, dict):
        raise ScenarioError(not_a_scenario(data, f"{path}"))
    enrollment = data.get("enrollment")
    if isinstance(enrollment, dict) and isinstance(enrollment.get("sites_file"), str):
        name = enrollment["sites_file"]
        if name.strip() and not Path(name).is_absolute():
            enrollment["sites_file"] = str(Path(path).parent / name)
    return data
