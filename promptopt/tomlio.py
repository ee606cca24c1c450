"""Config I/O: write a resolved config back as TOML (tomllib only reads), and tell where two configs differ.

Top-level tables become `[section]`, top-level lists of tables `[[section]]`, deeper tables inline tables;
`tomllib.loads(dumps(d)) == d` for the shapes configs use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


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
