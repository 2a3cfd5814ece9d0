"""The pieces every section of `irsim report` is built from: tables with human headers and
formatted numbers, notices, embedded images and interactive charts."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Num:
    """A number already formatted for reading (right-aligned in a table)."""

    text: str


def money(value: float | None, digits: int = 3) -> Num:
    return Num("-" if value is None else f"${value:,.{digits}f}")


def per_inference(value: float | None) -> Num:
    """Dollars per inference: millionths of a dollar read better than ``1.473e-06``."""
    return Num("-" if value is None else f"${value * 1e6:,.3f} per million")


def count(value: Any) -> Num:
    return Num(f"{value:,}" if isinstance(value, int) else str(value))


def ms(value: float | None, digits: int = 2) -> Num:
    return Num("-" if value is None else f"{value:,.{digits}f}")


def percent(value: float | None) -> Num:
    return Num("n/a" if value is None else f"{value:.1f}%")


def interval(mean: float, low: float, high: float, fmt: str) -> Num:
    """``mean [low, high]`` in one format, as the console's replication table writes it."""
    return Num(f"{fmt.format(mean)} [{fmt.format(low)}, {fmt.format(high)}]")


def plain(value: Any) -> str:
    """A raw value (another section's rows): numbers grouped, small ones in scientific notation."""
    if isinstance(value, float):
        return f"{value:.3e}" if 0 < abs(value) < 1e-3 else f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], chosen: Iterable[bool] | None = None,
          css: str = "") -> str:
    """An HTML table; ``Num`` cells and raw numbers right-aligned, ``chosen`` rows highlighted."""
    marks = list(chosen) if chosen is not None else None
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for value in row:
            if isinstance(value, Num):
                cells.append(f'<td class="num">{html.escape(value.text)}</td>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="num">{html.escape(plain(value))}</td>')
            else:
                cells.append(f"<td>{html.escape(plain(value))}</td>")
        mark = ' class="chosen"' if marks and marks[i] else ""
        body.append(f"<tr{mark}>{''.join(cells)}</tr>")
    klass = f' class="{css}"' if css else ""
    return (f'<div class="table-wrap"><table{klass}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>")


def notices(lines: Iterable[str], css: str = "caveat") -> str:
    """Caveats and warnings, one list item each (empty when there are none)."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<ul class="{css}">{items}</ul>' if items else ""


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of the inputs: name, value."""
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in pairs)
    return f'<dl class="inputs">{rows}</dl>'


def image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def figures(interactive: str, png: Path | None, alt: str) -> str:
    """The interactive chart, and the PNG of the same chart under a fold: opened by the page's
    script when plotly.js is not beside the page (the page alone still shows every chart)."""
    still = (f'<details class="still"><summary>The same chart as a picture ({html.escape(png.name)})</summary>'
             f"{image(png, alt)}</details>" if png is not None and png.exists() else "")
    return f'<div class="chart">{interactive}{still}</div>'
