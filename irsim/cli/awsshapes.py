"""A botocore operation as the AWS CLI sees it: one option per input member (its flag, its value
type, its help from the model's documentation) and the skeletons ``--generate-cli-skeleton``
prints. Everything is read from the service model, so any SageMaker operation gets it for free."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import Any

import yaml
from botocore import xform_name
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from simulator import InputError
from simulator.jsonfiles import parse_json, read_input, read_json

SCALARS = ("string", "integer", "long", "float", "double", "boolean", "timestamp", "blob")
EPOCH = "1970-01-01T00:00:00"


class AwsCliUsageError(Exception):
    """An argument the AWS CLI itself would reject (exit 252)."""


class _Text(HTMLParser):
    """The text of the model's HTML documentation (paragraphs and list items become spaces)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li", "br", "ul", "ol"):
            self.parts.append(" ")


def plain_text(html: str | None) -> str:
    """The documentation string of a botocore shape without its HTML, on one line."""
    parser = _Text()
    parser.feed(html or "")
    parser.close()
    return re.sub(r"\s+", " ", unescape("".join(parser.parts))).strip()


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (what a one-line comment can hold)."""
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


def valid_values(enum: list[str], shown: int = 12) -> str:
    """An enum's values, the first ``shown`` of a long one and how many there are."""
    if len(enum) <= shown:
        return ", ".join(enum)
    return f"{', '.join(enum[:shown])}, ... ({len(enum)} values)"


@dataclass(frozen=True)
class Member:
    """One input member of an operation, as a command line option."""

    name: str          # the API's member name (JobName)
    flag: str          # the AWS CLI's option (--job-name)
    shape: Shape
    required: bool
    hidden: bool = False  # a paging member the AWS CLI hides behind --starting-token/--max-items

    @property
    def dest(self) -> str:
        return "member_" + xform_name(self.name)

    @property
    def help(self) -> str:
        """The model's documentation, its type and whether it is required ('%' escaped for argparse)."""
        kind = self.shape.type_name if self.shape.type_name in SCALARS else f"{self.shape.type_name}, JSON"
        valid = f" Valid values: {valid_values(self.shape.enum)}." if getattr(self.shape, "enum", None) else ""
        text = f"({kind}{', required' if self.required else ''}) {plain_text(self.shape.documentation)}{valid}"
        return text.replace("%", "%%")


def members(operation: OperationModel, paging_members: tuple[str, ...] = ()) -> list[Member]:
    """The operation's input members in the model's order."""
    shape = operation.input_shape
    if shape is None:
        return []
    required = set(shape.required_members)
    return [Member(name=name, flag="--" + xform_name(name, "-"), shape=member, required=name in required,
                   hidden=name in paging_members)
            for name, member in shape.members.items()]


def scalar_list(shape: Shape) -> bool:
    """A list of scalars: the AWS CLI takes its elements as separate values (or one JSON list)."""
    return isinstance(shape, ListShape) and shape.member.type_name in SCALARS


def value_parser(member: Member) -> Callable[[str], Any]:
    """The argparse ``type`` of a member (of each element of a list of scalars): numbers as the
    AWS CLI reads them, anything else as text (a structure, list or map is JSON, read later by
    ``json_argument``)."""
    shape = member.shape.member if isinstance(member.shape, ListShape) and scalar_list(member.shape) else member.shape
    kind = shape.type_name
    if kind in ("integer", "long"):
        return integer_value
    if kind in ("float", "double"):
        return _number(float, "a number")
    return str  # JSON is read with the request (json_argument), so its errors come with the call's


def _number(cast: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return cast(text)
        except ValueError:
            raise AwsCliUsageError(f"must be {what}, got {text!r}") from None
    parse.__name__ = what  # argparse names the type in its message
    return parse


integer_value = _number(int, "an integer")


def json_argument(value: str, option: str) -> Any:
    """An AWS CLI JSON argument: inline JSON or file://PATH."""
    try:
        return read_json(value, option) if value.startswith("file://") else parse_json(value, option, "the value")
    except InputError as exc:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': {exc.message}") from None


#: The most nodes a YAML input may hold once its aliases are expanded: far above any request
#: (a job request is a few hundred), far below what exhausts the memory when botocore walks it.
#: irsim's own limit (the AWS CLI documents none): a few lines of nested aliases can stand for
#: billions of nodes.
MAX_YAML_NODES = 100_000


def yaml_argument(value: str, option: str) -> Any:
    """An AWS CLI YAML argument: inline YAML or file://PATH (a regular file, size-capped);
    aliases are allowed while the expanded document stays under MAX_YAML_NODES."""
    text = value
    try:
        if value.startswith("file://"):
            text = read_input(value.removeprefix("file://"), option).decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        expanded = _expanded_nodes(node, {})
        if expanded > MAX_YAML_NODES:
            raise AwsCliUsageError(f"Error parsing parameter '{option}': the YAML expands to {expanded:,} nodes "
                                   f"through its aliases, over irsim's limit of {MAX_YAML_NODES:,}")
        document = yaml.SafeLoader(text).get_single_data()
        if _holds_surrogate(document):  # "\ud800" escapes: no UTF-8 text can hold one, not even an error line
            raise AwsCliUsageError(f"Error parsing parameter '{option}': the YAML holds a lone UTF-16 surrogate "
                                   "(a \\ud800-\\udfff escape)")
        return document
    except InputError as exc:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': {exc.message}") from None
    except UnicodeDecodeError as exc:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise AwsCliUsageError(f"Error parsing parameter '{option}': the YAML is nested too deeply") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_surrogate(document: Any) -> bool:
    """Whether a string of ``document`` (a key or a value) holds a lone surrogate."""
    if isinstance(document, str):
        return _SURROGATE.search(document) is not None
    if isinstance(document, dict):
        return any(_holds_surrogate(key) or _holds_surrogate(value) for key, value in document.items())
    if isinstance(document, list):
        return any(_holds_surrogate(item) for item in document)
    return False


def _expanded_nodes(node: yaml.Node, seen: dict[int, int]) -> int:
    """How many nodes ``node`` stands for with every alias expanded, counted once per distinct
    node (``seen``), so a bomb of nested aliases is measured without being expanded."""
    known = seen.get(id(node))
    if known is not None:
        return known
    seen[id(node)] = 1  # a node that contains itself counts once (recursive YAML)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_nodes(child, seen) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_nodes(key, seen) + _expanded_nodes(item, seen) for key, item in node.value)
    seen[id(node)] = total
    return total


# --- skeletons --------------------------------------------------------------------------------

def skeleton(shape: Shape | None) -> Any:
    """The placeholder document of a shape, as --generate-cli-skeleton prints it: '' for a
    string (an enum's first value, where botocore's ArgumentGenerator picks one at random),
    0 and 0.0 for numbers, true, the epoch for a timestamp, a list of one element, a map of one
    "KeyName", and {} where a structure recurs inside itself."""
    return {} if shape is None else _skeleton(shape, [])


def _skeleton(shape: Shape, stack: list[str]) -> Any:
    if isinstance(shape, StructureShape):
        if shape.name in stack:
            return {}
        return {name: _skeleton(member, [*stack, shape.name]) for name, member in shape.members.items()}
    if isinstance(shape, ListShape):
        return [_skeleton(shape.member, stack)]
    if isinstance(shape, MapShape):
        return {"KeyName": _skeleton(shape.value, stack)}
    return _scalar_placeholder(shape)


def _scalar_placeholder(shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "string":
        return shape.enum[0] if shape.enum else ""
    return {"integer": 0, "long": 0, "float": 0.0, "double": 0.0, "boolean": True,
            "timestamp": EPOCH}.get(kind, "")


def yaml_skeleton(shape: StructureShape | None) -> str:
    """The input skeleton as YAML, each member commented with [REQUIRED], its type, the first
    sentence of its documentation and its valid values (``--generate-cli-skeleton yaml-input``)."""
    if shape is None:
        return "{}\n"
    return "\n".join(_yaml_structure(shape, 0, [])) + "\n"


def _comment(shape: Shape, required: bool) -> str:
    words = ["[REQUIRED]"] if required else []
    words.append(f"[{shape.type_name}]")
    sentence = first_sentence(plain_text(shape.documentation))
    if sentence:
        words.append(sentence)
    if getattr(shape, "enum", None):
        words.append(f"Valid values are: {valid_values(shape.enum)}.")
    return "  # " + " ".join(words)


def _yaml_scalar(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else \
        yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def _yaml_structure(shape: StructureShape, indent: int, stack: list[str]) -> list[str]:
    pad, lines = " " * indent, []
    required = set(shape.required_members)
    for name, member in shape.members.items():
        comment = _comment(member, name in required)
        if isinstance(member, StructureShape) and (member.name in stack or member.name == shape.name
                                                   or not member.members):
            lines.append(f"{pad}{name}: {{}}{comment}")
        elif isinstance(member, (StructureShape, ListShape, MapShape)):
            lines.append(f"{pad}{name}:{comment}")
            lines.extend(_yaml_value(member, indent + 2, [*stack, shape.name]))
        else:
            lines.append(f"{pad}{name}: {_yaml_scalar(_scalar_placeholder(member))}{comment}")
    return lines


def _yaml_value(shape: Shape, indent: int, stack: list[str]) -> list[str]:
    """The lines of a nested value at ``indent`` (a list's element behind '- ')."""
    pad = " " * indent
    if isinstance(shape, StructureShape):
        if shape.name in stack or not shape.members:
            return [f"{pad}{{}}"]
        return _yaml_structure(shape, indent, stack)
    if isinstance(shape, MapShape):
        if isinstance(shape.value, (StructureShape, ListShape, MapShape)):
            return [f"{pad}KeyName:", *_yaml_value(shape.value, indent + 2, stack)]
        return [f"{pad}KeyName: {_yaml_scalar(_scalar_placeholder(shape.value))}"]
    if isinstance(shape, ListShape):
        element = _yaml_value(shape.member, indent + 2, stack)
        return [f"{pad}- {element[0][indent + 2:]}", *element[1:]]
    return [f"{pad}{_yaml_scalar(_scalar_placeholder(shape))}"]
