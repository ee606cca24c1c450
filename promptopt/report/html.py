"""HTML pieces of `promptopt report`: a self-contained page (inline CSS, images as data: URIs, no script, no
external URL), tables and images. Every text from a run folder goes through `esc`."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1, h2, h3 { font-weight: 600; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 90%; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.grid { image-rendering: pixelated; max-width: 100%; display: block; margin: .3em 0; }
img.plot { max-width: 100%; } p.note { color: #555; font-size: 90%; max-width: 60em; }
.prompt { font-family: ui-monospace, monospace; font-size: 90%; }
pre { background: #f8f8f8; padding: .5em; overflow: auto; }
nav a { margin-right: 1em; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any, digits: int = 4) -> str:
    """A table cell's text for a number (or an empty cell)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def fixed(value: Any, digits: int = 3) -> str:
    """A cell's text for a number in a column of like numbers, always `digits` decimals (or an empty cell)."""
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def png(data: bytes, alt: str, css: str) -> str:
    """An <img> whose PNG is embedded in the page."""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img class="{css}" alt="{esc(alt)}" src="data:image/png;base64,{encoded}">'


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool] | None = None) -> str:
    """A table of cells already in HTML; `numeric` right-aligns columns."""
    numeric = numeric or [False] * len(header)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if n else f"<td>{c}</td>" for c, n in zip(row, numeric)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str, nav: Sequence[tuple[str, str]] = (), heading: str | None = None) -> str:
    """A whole HTML document, headed by `heading` (default: the title); `nav` holds (relative link, label) pairs
    to the run's other pages."""
    links = "".join(f'<a href="{esc(href)}">{esc(label)}</a>' for href, label in nav)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body>{f'<nav>{links}</nav>' if links else ''}<h1>{esc(heading or title)}</h1>{body}</body></html>\n"
    )
