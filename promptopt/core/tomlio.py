"""Config I/O: read a TOML file, build frozen dataclasses from it (unknown keys, wrong types and impossible values
are InputErrors naming the key), turn them back into plain dicts, write those as TOML (tomllib only reads), and
tell where two configs differ.

Top-level tables become `[section]`, top-level lists of tables `[[section]]`, deeper tables inline tables;
`tomllib.loads(dumps(d)) == d` for the shapes configs use.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterator
from dataclasses import MISSING
from pathlib import Path
from typing import Any

import tomllib

from promptopt.core.errors import InputError


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(data: dict[str, Any]) -> str:
    """TOML text: top-level scalars first, then one table per section."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict) and not _is_table_array(v)]
    for name, body in data.items():
        tables = [(f"[{_key(name)}]", body)] if isinstance(body, dict) else []
        tables += [(f"[[{_key(name)}]]", item) for item in body] if _is_table_array(body) else []
        for header, table in tables:
            lines += ["", header, *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]
    return "\n".join(lines).strip() + "\n"


def changed_paths(old: Any, new: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for every leaf where two nested dicts differ, in key order."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from changed_paths(old.get(key), new.get(key), f"{where}.{key}" if where else key)
    elif old != new:
        yield where, old, new


def differences(old: Any, new: Any, where: str) -> Iterator[str]:
    for path, a, b in changed_paths(old, new, where):
        yield f"{path}: {json.dumps(a)} there, {json.dumps(b)} now"


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist: give an existing TOML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{what} {path} cannot be read ({err.__class__.__name__}): check its permissions") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{what} {path} is not valid TOML: {err}") from None


def to_dict(obj: Any) -> Any:
    """Plain dicts, lists and scalars of a config (tuples become lists, None sections and `source` are dropped)."""
    if dataclasses.is_dataclass(obj):
        return {
            f.name: to_dict(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if getattr(obj, f.name) is not None and f.name != "source"
        }
    if isinstance(obj, (list, tuple)):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise InputError(f"{where} must be a table, got {type(value).__name__}")
        return build_dataclass(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise InputError(f"{where} must be a list, got {type(value).__name__}")
        return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{where} must be a table, got {type(value).__name__}")
        return {str(k): _convert(v, args[1], _join(where, k)) for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise InputError(f"{where} must be {hint.__name__}, got {value!r}")
    return value


def build_dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init and f.name != "source"}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InputError(f"unknown key {_join(where, unknown[0])}; valid keys there: {', '.join(sorted(fields))}")
    kwargs = {k: _convert(v, hints[k], _join(where, k)) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError:  # a required key is missing
        required = {f.name for f in dataclasses.fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required & fields - set(data))
        raise InputError(f"[{where or 'top level'}] is missing a required key: {', '.join(missing)}") from None
    except ValueError as err:
        raise InputError(f"[{where}] {err}" if where else str(err)) from None
