"""The AWS CLI's output: ``--query`` (JMESPath) and ``--output json|text|table|yaml``, written as
the AWS CLI v2 writes them (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-output-format.html):
JSON indented by four, YAML block style, text as tab-separated lines, and the table's boxed
sections. Timestamps are ISO 8601 strings before the query runs, as the CLI's are."""

from __future__ import annotations

import json
import shutil
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jmespath
import yaml
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from irsim.cli.awsshapes import AwsCliUsageError
from irsim.present.formats import finite

OUTPUTS = ("json", "text", "table", "yaml", "yaml-stream", "off")


def compile_query(text: str) -> ParsedResult:
    """An argparse type: the JMESPath expression of --query, refused (252) when it does not parse."""
    try:
        return jmespath.compile(text)
    except JMESPathError as exc:
        raise AwsCliUsageError(f"Bad value for --query {text}: {' '.join(str(exc).split())}") from None


def plain(document: Any) -> Any:
    """The response as the CLI holds it before --query: ISO 8601 timestamps, no ResponseMetadata."""
    if isinstance(document, dict):
        return {key: plain(value) for key, value in document.items() if key != "ResponseMetadata"}
    if isinstance(document, (list, tuple)):
        return [plain(value) for value in document]
    if isinstance(document, datetime):
        return document.isoformat()
    return document


def render(document: Any, output: str, title: str | None = None) -> str:
    """``document`` (already queried) in the output format; '' where the CLI prints nothing
    (an empty response such as StopInferenceRecommendationsJob's, or --output off). ``title``
    heads the table: the operation's name, as the AWS CLI's."""
    if output == "off" or document == {}:
        return ""
    if output == "json":
        return json.dumps(finite(document), indent=4, ensure_ascii=False, allow_nan=False) + "\n"
    if output in ("yaml", "yaml-stream"):
        return yaml.safe_dump(document, default_flow_style=False, sort_keys=False, allow_unicode=True)
    if output == "text":
        lines: list[str] = []
        _text(document, lines)
        return "".join(line + "\n" for line in lines)
    return render_table(document, title)


# --- text: tab-separated lines ------------------------------------------------------------------

def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _cell(value: Any) -> str:
    """A scalar as the CLI's text and table print it (Python's str: True, None)."""
    return str(value)


def _text(item: Any, lines: list[str], identifier: str | None = None, keys: list[str] | None = None) -> None:
    """One line per structure: its scalar values in key order, prefixed by the upper-cased key
    it sits under; lists of structures share the union of their scalar keys (blank if absent)."""
    if isinstance(item, dict):
        if keys is None:
            keys = sorted(key for key, value in item.items() if _scalar(value))
        scalars = [_cell(item.get(key, "")) for key in keys]
        if scalars:
            lines.append("\t".join(([identifier.upper()] if identifier else []) + scalars))
        for key in sorted(set(item) - set(keys)):
            _text(item[key], lines, identifier=key)
    elif isinstance(item, list):
        _text_list(item, lines, identifier)
    else:
        lines.append(_cell(item))


def _text_list(items: list, lines: list[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(element, dict) for element in items):
        keys = sorted({key for element in items if isinstance(element, dict)
                       for key, value in element.items() if _scalar(value)})
        for element in items:
            _text(element, lines, identifier, keys if isinstance(element, dict) else None)
        return
    scalars = [element for element in items if _scalar(element)]
    if scalars:
        if identifier:
            lines.extend(f"{identifier.upper()}\t{_cell(element)}" for element in scalars)
        else:
            lines.append("\t".join(_cell(element) for element in scalars))
    for element in items:
        if not _scalar(element):
            _text(element, lines, identifier)


# --- table: boxed sections ----------------------------------------------------------------------

def width_of(text: str) -> int:
    """Terminal columns of ``text`` (wide and ambiguous East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WFA" else 1 for char in text)


@dataclass
class Section:
    """One boxed block of the table: a title, column headers, rows, nested ``indent`` deep."""

    title: str
    indent: int
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def natural_widths(self) -> list[int]:
        columns = [self.headers, *self.rows] if self.headers else self.rows
        count = max((len(row) for row in columns), default=0)
        return [max(width_of(row[i]) for row in columns if i < len(row)) for i in range(count)]

    def total_width(self) -> int:
        """The width this section needs: 4 columns of padding per cell, the borders, the indent."""
        cells = sum(width + 4 for width in self.natural_widths())
        return max(width_of(self.title), cells) + 2 + 2 * self.indent


def _build(title: str | None, current: Any, sections: list[Section], indent: int = 0) -> None:
    """The sections of a response: a structure's scalars become one row under their keys, each
    of its lists and structures a nested section; a list of structures one row each."""
    if current in ({}, [], None, ""):
        return
    if title is not None or not sections:
        sections.append(Section(title or "", indent))
    section = sections[-1]
    if isinstance(current, list):
        if isinstance(current[0], dict):
            _build_list(title, current, sections, indent)
            return
        for item in current:
            if _scalar(item):
                section.rows.append([_cell(item)])
            elif all(_scalar(element) for element in item):
                section.rows.append([_cell(element) for element in item])
            else:
                _build(None, item, sections, indent)
    elif isinstance(current, dict):
        headers = sorted(key for key, value in current.items() if _scalar(value))
        if len(headers) == 1:
            section.rows.append([headers[0], _cell(current[headers[0]])])
        elif headers:
            section.headers = headers
            section.rows.append([_cell(current[key]) for key in headers])
        for key in sorted(key for key, value in current.items() if not _scalar(value)):
            _build(key, current[key], sections, indent + 1)
    else:
        section.rows.append([_cell(current)])


def _build_list(title: str | None, items: list, sections: list[Section], indent: int) -> None:
    headers = sorted({key for item in items for key, value in item.items() if _scalar(value)})
    nested = sorted({key for item in items for key, value in item.items() if not _scalar(value)})
    sections[-1].headers = headers
    for position, item in enumerate(items):
        if position and nested:  # each element with nested parts gets its own titled section
            sections.append(Section(title or "", indent, headers=headers))
        sections[-1].rows.append([_cell(item.get(key, "")) for key in headers])
        for key in nested:
            if key in item:
                _build(key, item[key], sections, indent + 1)


def _scaled(widths: list[int], total: int) -> list[int]:
    """Column widths stretched (or shrunk) in proportion so that they add up to ``total``."""
    scaled = [round(total * width / sum(widths)) for width in widths]
    index = 0
    while sum(scaled) != total:
        step = 1 if sum(scaled) < total else -1
        position = len(scaled) - 1 - index % len(scaled) if step > 0 else index % len(scaled)
        scaled[position] += step
        index += 1
    return scaled


def _centered(text: str, width: int, left: str) -> str:
    start = width // 2 - width_of(text) // 2 - 1
    line = left + " " * start + text
    return line + " " * (width - 1 - width_of(line)) + "|"


def _left(text: str, width: int, left: str) -> str:
    padding = 2 if width - width_of(text) - 2 - len(left) - 1 >= 0 else 0
    line = left + " " * padding + text
    return line + " " * max(width - 1 - width_of(line), 0) + "|"


def _rule(widths: list[int]) -> str:
    return "".join(("+" + "-" * (width - 2) + "+") if i == 0 else ("-" * (width - 1) + "+")
                   for i, width in enumerate(widths))


def _vertical(sections: list[Section]) -> None:
    """A section of one row, turned so that each header is a row beside its value."""
    for section in sections:
        if len(section.rows) == 1 and section.headers:
            section.rows = [[header, value] for header, value in zip(section.headers, section.rows[0], strict=False)]
            section.headers = []


def render_table(document: Any, title: str | None = None, terminal_width: int | None = None) -> str:
    """The AWS CLI's ``--output table``: a rule, then each section boxed with '|' and '+---+',
    nested sections indented by '|' on both sides, every section as wide as the widest; sections
    of one row are turned vertical when the table is wider than the terminal."""
    sections: list[Section] = []
    _build(title, document, sections)
    if not sections:
        return ""
    limit = terminal_width or shutil.get_terminal_size((80, 24)).columns
    width = max(section.total_width() for section in sections)
    if width > limit:
        _vertical(sections)
        width = max(section.total_width() for section in sections)
    lines = ["-" * width]
    for section in sections:
        inner = width - 2 * section.indent
        edge = "|" * section.indent
        body: list[str] = []
        if section.title:
            body.append(_centered(section.title, inner, "|"))
            if not section.headers and not section.rows:
                body.append("+" + "-" * (inner - 2) + "+")
        natural = section.natural_widths()
        if natural:
            widths = _scaled([w + 4 for w in natural], inner)
            if section.headers:
                body.append(_rule(widths))
                body.append("".join(_centered(header, w, "|" if i == 0 else "")
                                    for i, (w, header) in enumerate(zip(widths, section.headers, strict=False))))
            if section.rows:
                body.append(_rule(widths))
                body.extend("".join(_left(cell, w, "|" if i == 0 else "")
                                    for i, (w, cell) in enumerate(zip(widths, row, strict=False)))
                            for row in section.rows)
                body.append(_rule(widths))
        lines.extend(edge + line + edge for line in body)
    return "\n".join(lines) + "\n"
