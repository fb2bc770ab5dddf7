"""YAML loading that remembers where every value came from, so errors can name file, line and key path.

Every document read here is bounded before it is believed: its size in bytes, its nesting, and the number of
values it holds once each alias is counted as the whole thing it stands for (a "billion laughs" document is a
few hundred bytes that expand to billions of values). The parser's events are counted before any node is
built, so a hostile document costs neither gigabytes nor minutes; each limit is a one-line refusal that names
the file and the limit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from bundler.errors import BundleError, SpecError

KeyPath = tuple[str | int, ...]

# Wire's full spec (examples/wire.yaml) is 13 KiB with 360 values; the production example inventory holds 150
# values, and a 1,000-host inventory with a dozen variables per host about 25,000. Ansible needs about 3 CPU
# seconds per 20,000 values of a host's variables (measured: a 60,000-entry list took 8 CPU seconds, 27 s on a
# busy machine), so an inventory's limit is what keeps `values` and `preflight` from taking minutes.
MAX_YAML_BYTES = 4 << 20
MAX_JSON_BYTES = 64 << 20  # a lock of a full Wire build is well under 1 MiB
MAX_DEPTH = 64
MAX_VALUES = 25_000  # an inventory (all its files together) or a settings file
MAX_SPEC_VALUES = 20_000  # each spec entry costs lock time on a registry or a mirror: a spec this big is a mistake
MAX_LINE = 600  # an error line echoes values; one the operator can still read

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ten times faster, and its own nesting limit


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class Located:
    """A loaded YAML document plus the line of every key path in it."""

    def __init__(self, source: str, data: Any, lines: dict[KeyPath, int], error_type: type[BundleError] = SpecError):
        self.source = source
        self.data = data
        self.lines = lines
        self.error_type = error_type

    def line_of(self, path: KeyPath) -> int:
        # Pydantic may report a path deeper than the document has (a missing key); use the nearest parent.
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: KeyPath, message: str) -> BundleError:
        return self.error_type(clip(f"{self.source}:{self.line_of(path)}: {format_path(path)}: {message}"))


def clip(text, limit: int = MAX_LINE):
    """A long error line keeps its head (where) and its tail (the cause); a value echoed whole would hide both."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return f"{text[:limit // 2]} ... {text[-(limit // 2 - 5):]}"


def read_bounded(path: Path, source: str, limit: int, error: type[BundleError] = SpecError) -> str:
    """The file's text, refused beyond `limit` bytes (read, not stat'ed: a FIFO or /dev/zero has no size)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{source}: no such file") from None
    except IsADirectoryError:
        raise error(f"{source}: is a directory, not a file") from None
    except OSError as exc:
        raise error(f"{source}: cannot read: {exc.strerror}") from None
    if len(raw) > limit:
        raise error(f"{source}: larger than {limit >> 20} MiB, the most this reads (is it the right file?)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not UTF-8 text (byte {exc.start})") from None


def load_json(path: Path, source: str, error: type[BundleError] = SpecError, limit: int = MAX_JSON_BYTES) -> Any:
    """A JSON file, bounded in size; nesting beyond the parser's recursion limit is a refusal, not a crash."""
    text = read_bounded(path, source, limit, error)
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{source}: nested too deeply to be real") from None
    except ValueError as exc:
        raise error(f"{source}: not valid JSON ({exc})") from None


def load_located(path: Path, error: type[BundleError] = SpecError, max_values: int = MAX_SPEC_VALUES) -> Located:
    source = str(path)
    return loads_located(read_bounded(path, source, MAX_YAML_BYTES, error), source, error, max_values)


def loads_located(text: str, source: str = "<spec>", error: type[BundleError] = SpecError,
                  max_values: int = MAX_SPEC_VALUES) -> Located:
    if len(text) > MAX_YAML_BYTES:
        raise error(f"{source}: larger than {MAX_YAML_BYTES >> 20} MiB, the most this reads (is it the right file?)")
    check_events(text, source, error, max_values)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, error) from None
    lines: dict[KeyPath, int] = {}
    if node is None:
        return Located(source, None, lines, error)
    data = _Builder(source, error, max_values, lines).build(node, ())
    return Located(source, data, lines, error)


def check_events(text: str, source: str, error: type[BundleError] = SpecError,
                 max_values: int = MAX_VALUES) -> None:
    """Refuse a document that nests deeper than MAX_DEPTH or holds more than `max_values` values, from the parser's
    events alone (constant memory): no node is built for a document that is refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: text that came from no file (the parser would crash)
        raise error(f"{source}: not UTF-8 text (character {exc.start})") from None
    depth = values = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise error(f"{source}:{line}: nested deeper than {MAX_DEPTH} levels, the most this reads")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                values += 1
                if values > max_values:
                    line = event.start_mark.line + 1
                    raise error(f"{source}:{line}: more than {max_values} values, the most this reads")
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, error) from None


def _yaml_error(exc: yaml.YAMLError, source: str, error: type[BundleError]) -> BundleError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "maximum nesting depth" in problem:  # libyaml's own guard, at 1000 levels: before ours could count
        return error(f"{source}:{line}: nested deeper than {MAX_DEPTH} levels, the most this reads")
    return error(f"{source}:{line}: not valid YAML: {problem}")


_constructor = yaml.SafeLoader("")


class _Builder:
    """Plain data from a node graph, counting every value an alias repeats: a node shared by aliases is built
    once per use, so the count (not the document's size) is what bounds time and memory."""

    def __init__(self, source: str, error: type[BundleError], max_values: int, lines: dict[KeyPath, int]):
        self.source = source
        self.error = error
        self.max_values = max_values
        self.lines = lines
        self.values = 0

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return _constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, self.source, self.error) from None

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        line = node.start_mark.line + 1
        self.values += 1
        if self.values > self.max_values:
            raise self.error(f"{self.source}:{line}: more than {self.max_values} values once its aliases are "
                             "expanded, the most this reads")
        if len(path) > MAX_DEPTH:
            raise self.error(f"{self.source}:{line}: nested deeper than {MAX_DEPTH} levels (through aliases), "
                             "the most this reads")
        self.lines[path] = line
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                key_line = key_node.start_mark.line + 1
                if key is None or isinstance(key, (list, dict)):
                    raise self.error(f"{self.source}:{key_line}: {format_path(path)}: keys must be scalars")
                key = str(key)
                if key in out:
                    raise self.error(f"{self.source}:{key_line}: {format_path(path + (key,))}: duplicate key")
                out[key] = self.build(value_node, path + (key,))
                self.lines[path + (key,)] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)


def check_yaml(text: str, source: str, error: type[BundleError], max_values: int = MAX_VALUES,
               counted: int = 0) -> int:
    """Refuse a YAML document (or stream) some other parser will read (Ansible's, PyYAML's safe_load) when it is
    invalid or beyond the limits, counting aliases as what they stand for; nothing is expanded to count them.
    Returns its values; `counted` are those of other files read together with it (an inventory's)."""
    where = " (with the inventory's other files)" if counted else ""
    if len(text) > MAX_YAML_BYTES:
        raise error(f"{source}: larger than {MAX_YAML_BYTES >> 20} MiB, the most this reads (is it the right file?)")
    check_events(text, source, error, max_values - counted)
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, error) from None
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, depth)
    open_: set[int] = set()

    def walk(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in sizes:
            return sizes[key]
        line = node.start_mark.line + 1
        if key in open_:
            raise error(f"{source}:{line}: an alias stands for the collection that holds it (endless)")
        open_.add(key)
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        values, depth = 1, 1
        for child in children:
            v, d = walk(child)
            values, depth = values + v, max(depth, d + 1)
            if counted + values > max_values:
                raise error(f"{source}:{line}: more than {max_values} values{where} once its aliases are "
                            "expanded, the most this reads")
            if depth > MAX_DEPTH:
                raise error(f"{source}:{line}: nested deeper than {MAX_DEPTH} levels (through aliases), "
                            "the most this reads")
        open_.discard(key)
        sizes[key] = (values, depth)
        return values, depth

    total = 0
    for document in documents:
        total += walk(document)[0]
        if counted + total > max_values:
            raise error(f"{source}: more than {max_values} values{where} once its aliases are expanded, "
                        "the most this reads")
    return total


MAX_INVENTORY_FILES = 10_000
MAX_INVENTORY_BYTES = 64 << 20
_YAML_SUFFIXES = {".yml", ".yaml", ".json"}
_VARS_DIRS = {"group_vars", "host_vars"}


def check_inventory(path: Path, error: type[BundleError]) -> None:
    """Bound an Ansible inventory (a file or a directory with group_vars/host_vars) before Ansible reads it.

    Ansible parses without limits and expands every alias as it merges variables: a hostile inventory would cost
    gigabytes there. Its YAML files are checked like a spec (and an invalid one is named with its line, which
    Ansible would turn into "no hosts"); INI files only for their size.
    """
    # Ansible reads group_vars/ and host_vars/ beside an inventory file too.
    base = path if path.is_dir() else path.parent
    files = [] if path.is_dir() else [path]
    walked = [path] if path.is_dir() else [base / d for d in sorted(_VARS_DIRS) if (base / d).is_dir()]
    for top in walked:
        for root, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
            if len(files) > MAX_INVENTORY_FILES:
                raise error(f"inventory {path}: more than {MAX_INVENTORY_FILES} files, the most this reads")
    total = values = 0
    for f in files:
        if not f.is_file():
            continue
        source = f"inventory {f}"
        text = read_bounded(f, source, MAX_YAML_BYTES, error)
        total += len(text)
        if total > MAX_INVENTORY_BYTES:
            raise error(f"inventory {path}: more than {MAX_INVENTORY_BYTES >> 20} MiB, the most this reads")
        if f.suffix in _YAML_SUFFIXES or _VARS_DIRS & set(f.relative_to(base).parts[:-1]):
            values += check_yaml(text, source, error, MAX_VALUES, values)
