"""Reading config.yaml with bounded time and memory; its errors as a few short lines.

A config file is a few kB. Anything far beyond that (a huge file, a few lines of
YAML aliases that expand to billions of values, nesting thousands deep) is refused
with one line before it can use much memory or time. Values quoted in errors are
cut to MAX_SHOWN_CHARS, and at most MAX_ERROR_LINES problems are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from edge.config.base import MAX_SHOWN_CHARS, shorten, show
from edge.errors import ConfigError, first_line

MAX_CONFIG_BYTES = 1_000_000
MAX_ALIASES = 100  # `*name` references in one file
MAX_VALUES = 100_000  # scalars, lists and mappings once aliases are expanded
MAX_ERROR_LINES = 5


class _Refused(Exception):
    """The YAML is beyond the limits above; the message says which and how to fix it."""


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that stops counting aliases once there are more than MAX_ALIASES."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(
                    f"more than {MAX_ALIASES} YAML aliases (*name), the last at line {line}: "
                    "write the values out instead"
                )
        return super().compose_node(parent, index)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expanded_size(root: yaml.Node) -> None:
    """Count values as if every alias were copied out, without copying anything."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_VALUES:
                raise _Refused(
                    f"holds more than {MAX_VALUES:,} values once its aliases (*name) are "
                    "expanded: a config needs a few dozen; write them out"
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            line = node.start_mark.line + 1
            raise _Refused(
                f"the value at line {line} contains an alias (*name) of itself: remove it"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _check_duplicate_keys(root: yaml.Node) -> None:
    """A key given twice in one mapping: YAML keeps the last one silently, so a second
    `mqtt:` block at the end of the file would replace the first without a word."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, where = stack.pop()
        if id(node) in seen_nodes:  # an alias: its first place was checked
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, where) for child in node.value)
            continue
        if not isinstance(node, yaml.MappingNode):
            continue
        first_line: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
            dotted = f"{where}.{name}" if where else name
            line = key.start_mark.line + 1
            if name and name != "<<" and name in first_line:
                raise _Refused(
                    f"{shorten(dotted)} is given twice, at lines {first_line[name]} and "
                    f"{line}: keep one (YAML would silently use the last)"
                )
            first_line.setdefault(name, line)
            stack.append((value, dotted))


def _read_text(path: Path) -> str:
    if path.exists() and not path.is_file():
        # a FIFO would block the read until a writer comes; a device could be endless
        raise ConfigError(f"{path}: not a regular file; give the path of a config.yaml")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (pass --config FILE)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_CONFIG_BYTES // 1_000_000} MB; a config file is a few kB "
            "(is this the right file?)"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None


def _syntax_error(path: Path, exc: yaml.YAMLError) -> ConfigError:
    where, reason = "", first_line(exc)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        reason = exc.problem or exc.context or reason
        if exc.problem and exc.context and context is not None and context is not mark:
            reason += f", {exc.context} from line {context.line + 1}, column {context.column + 1}"
    reason = shorten(" ".join(reason.split()), 2 * MAX_SHOWN_CHARS)
    return ConfigError(
        f"{path}: not valid YAML{where}: {reason} (check quotes, brackets and indentation there)"
    )


def read_yaml(path: Path) -> dict[str, Any]:
    """The mapping in `path`; ConfigError (one line) for anything else."""
    loader = _BoundedLoader(_read_text(path))
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expanded_size(node)
            _check_duplicate_keys(node)
        data: Any = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise _syntax_error(path, exc) from None
    except RecursionError:
        raise ConfigError(
            f"{path}: nested too deeply; a config is two or three levels deep"
        ) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        reason = shorten(first_line(exc))
        raise ConfigError(f"{path}: a value YAML cannot convert ({reason}): shorten it") from None
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {kind}")
    return data


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model = root
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)


def _error_line(
    err: ErrorDetails, origin: str, root: type[BaseModel], flags: Mapping[str, str]
) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    where = f"{origin}: {shorten(key) or '(top level)'}"
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(root, loc)) or "none"
        return f"{where}: unknown key (allowed here: {allowed})"
    if key in flags:
        where = flags[key]
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    got = "" if err["type"] == "missing" or isinstance(value, dict) else f" (got {show(value)})"
    return f"{where}: {msg}{got}"


def format_validation_error(
    exc: ValidationError,
    origin: str,
    root: type[BaseModel],
    flags: Mapping[str, str] | None = None,
) -> str:
    """One line per problem, `origin: key.path: what is wrong (got X)`, at most a few.

    `flags` maps a key set from the command line to its flag, which is then blamed instead.
    """
    errors = exc.errors(include_url=False)
    lines = [_error_line(err, origin, root, flags or {}) for err in errors[:MAX_ERROR_LINES]]
    if len(errors) > MAX_ERROR_LINES:
        more = len(errors) - MAX_ERROR_LINES
        lines.append(f"{origin}: …and {more} more problems (fix these first)")
    return "\n".join(lines)
