"""YAML loading that remembers where every value came from, so errors can name file, line and key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bundler.errors import SpecError

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class Located:
    """A loaded YAML document plus the line of every key path in it."""

    def __init__(self, source: str, data: Any, lines: dict[KeyPath, int]):
        self.source = source
        self.data = data
        self.lines = lines

    def line_of(self, path: KeyPath) -> int:
        # Pydantic may report a path deeper than the document has (a missing key); use the nearest parent.
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: KeyPath, message: str) -> SpecError:
        return SpecError(f"{self.source}:{self.line_of(path)}: {format_path(path)}: {message}")


def load_located(path: Path) -> Located:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{source}: cannot read: {exc}") from None
    return loads_located(text, source)


def loads_located(text: str, source: str = "<spec>") -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{source}:{line}: not valid YAML: {problem}") from None
    lines: dict[KeyPath, int] = {}
    if node is None:
        return Located(source, None, lines)
    data = _build(node, (), lines, source)
    return Located(source, data, lines)


_loader = yaml.SafeLoader("")


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    return _loader.construct_object(node, deep=True)


def _build(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct_scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or isinstance(key, (list, dict)):
                raise SpecError(f"{source}:{key_node.start_mark.line + 1}: {format_path(path)}: keys must be scalars")
            key = str(key)
            if key in out:
                raise SpecError(
                    f"{source}:{key_node.start_mark.line + 1}: {format_path(path + (key,))}: duplicate key"
                )
            out[key] = _build(value_node, path + (key,), lines, source)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), lines, source) for i, item in enumerate(node.value)]
    return _construct_scalar(node)
