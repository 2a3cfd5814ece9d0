"""Reading JSON files: the one loader behind every reader of a user's file (profiles, job
requests, sweeps, ``file://`` arguments, price lists, CloudWatch exports, saved responses).

Whatever is wrong with a file becomes one InputError naming the field the file was given
as and the file itself: unreadable, not UTF-8 text (with the line and column of the bad
byte), not JSON (line and column), text that cannot be stored (a lone UTF-16 surrogate), or
nested deeper than any real document (100,000 ``[`` never reach a RecursionError). What the
document then holds is each reader's to check, naming the field inside it.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import InputError

#: Deeper than any document irsim reads (AWS price lists nest 8 levels), and far from
#: Python's recursion limit, so that no later walk over the document can overflow.
MAX_DEPTH = 64
_BLOCK = 1 << 22  # bytes per numpy block of the depth count
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: The largest input file any reader takes: far above a job request, a profile or a month of
#: per-minute CloudWatch data (a few MB), and small enough that reading and parsing it cannot
#: exhaust the memory. A file over it is refused before a byte is parsed.
MAX_INPUT_BYTES = 64 * 1024 * 1024
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_json(path: str | Path, field: str) -> Any:
    """The parsed JSON document in the file ``path`` (``file://`` prefix allowed), given as
    ``field``; any problem with the file is an InputError naming both."""
    name = str(path).removeprefix("file://")
    return parse_json(read_input(name, field), field, name)


def read_input(path: str | Path, field: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, read without waiting or growing without limit:
    a FIFO, a device, a socket or a folder is refused before it is opened (a FIFO would block,
    ``/dev/zero`` never ends), and a file over ``max_bytes`` before it is read."""
    name = str(path)
    try:
        info = os.stat(name)
    except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
        raise InputError(field, f"cannot read {name!r}: {getattr(exc, 'strerror', None) or exc}") from None
    kind = next((what for test, what in _KINDS if test(info.st_mode)), None)
    if kind is not None:
        raise InputError(field, f"{name!r} is {kind}, not a regular file")
    if info.st_size > max_bytes:
        raise InputError(field, f"{name!r} is {info.st_size:,} bytes, over the limit of {max_bytes:,} bytes "
                                "for an input file")
    try:
        # O_NONBLOCK: should the path turn into a FIFO between the check and the open, the open
        # does not wait for a writer; the bounded read stops a file that grows meanwhile.
        descriptor = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(field, f"cannot read {name!r}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(field, f"{name!r} is over the limit of {max_bytes:,} bytes for an input file")
    return data


def parse_json(data: bytes | str, field: str, source: str) -> Any:
    """``data`` (bytes in UTF-8, -16 or -32, or text) parsed; ``source`` names it in errors."""
    text = _decoded(data, field, source) if isinstance(data, bytes) else data
    if not text.strip():
        raise InputError(field, f"{source} is empty: expected a JSON document")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(field, f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} "
                                f"column {exc.colno}") from None
    except RecursionError:
        raise InputError(field, f"{source} is nested deeper than {MAX_DEPTH} levels") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(field, f"{source} holds a lone UTF-16 surrogate escape (\\ud800 to \\udfff), "
                                    "which is not text") from None
    if _depth(text) > MAX_DEPTH:
        raise InputError(field, f"{source} is nested deeper than {MAX_DEPTH} levels")
    return document


def _decoded(data: bytes, field: str, source: str) -> str:
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        name = "UTF-8" if encoding.startswith("utf-8") else encoding.upper()
        raise InputError(field, f"{source} is not {name} text: byte 0x{data[exc.start]:02x} at line {line} "
                                f"column {column}") from None


def _depth(text: str) -> int:
    """How deeply lists and objects nest in the valid JSON ``text``: brackets outside strings,
    counted in numpy blocks (a walk over the parsed document costs as much as parsing it)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return MAX_DEPTH  # at most: not worth counting
    # Without escaped backslashes and escaped quotes, every quote left opens or closes a string.
    plain = text.replace("\\\\", "").replace('\\"', "").encode("utf-8")
    deepest = depth = 0
    in_string = False
    for start in range(0, len(plain), _BLOCK):
        block = np.frombuffer(plain, np.uint8, count=min(_BLOCK, len(plain) - start), offset=start)
        quotes = np.cumsum(block == ord('"'), dtype=np.int32)
        outside = (quotes & 1) == int(in_string)
        opens = (block == ord("[")) | (block == ord("{"))
        steps = opens.astype(np.int32) - ((block == ord("]")) | (block == ord("}")))
        levels = depth + np.cumsum(np.where(outside, steps, 0), dtype=np.int64)
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
        in_string = in_string != bool(quotes[-1] & 1)
    return deepest
