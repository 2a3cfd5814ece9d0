"""Pagination tokens of the offline client's list calls: opaque, signed, and bound to the
request they continue. A token carries its offset and a digest of the request's other members
(filters, sort order, page size aside), signed with a key kept in the irsim home; a forged
token, or one reused with other filters, is refused with ValidationException, as the service
refuses a token it did not issue for that request."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from irsim.service.awsmodel import validation_error

KEY_FILE = "paging.key"
#: The members that do not change which items a list call pages through.
NOT_BOUND = ("NextToken", "MaxResults")
T = TypeVar("T")


def paging_key(home: Path) -> bytes:
    """The home's signing key, made on first use (a read-only home signs with its path's digest)."""
    path = home / KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = os.urandom(32)
    try:
        handle, temporary = tempfile.mkstemp(dir=home, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(key)
        os.link(temporary, path)  # the first writer wins; the others read its key
        os.unlink(temporary)
    except FileExistsError:
        os.unlink(temporary)
        return path.read_bytes()
    except OSError:
        return hashlib.sha256(str(home.resolve()).encode()).digest()
    return key


def _bound(request: Mapping[str, Any]) -> str:
    members = {key: value for key, value in request.items() if key not in NOT_BOUND}
    return hashlib.sha256(json.dumps(members, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _signature(key: bytes, offset: int, bound: str) -> str:
    return hmac.new(key, f"{offset}:{bound}".encode(), hashlib.sha256).hexdigest()[:32]


def page(items: Sequence[T], request: Mapping[str, Any], key: bytes, operation_name: str,
         default_size: int) -> tuple[list[T], str | None]:
    """One page of ``items`` for ``request`` and the token of the next (None at the end)."""
    start = offset_of(request.get("NextToken"), request, key, operation_name, len(items))
    size = request.get("MaxResults", default_size)
    if start + size >= len(items):
        return list(items[start:]), None
    end = start + size
    return list(items[start:end]), token_for(end, request, key)


def token_for(offset: int, request: Mapping[str, Any], key: bytes) -> str:
    """The NextToken that continues ``request`` at ``offset``: signed and bound to its filters."""
    bound = _bound(request)
    token = json.dumps({"o": offset, "b": bound, "s": _signature(key, offset, bound)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(token.encode()).decode()


def offset_of(token: str | None, request: Mapping[str, Any], key: bytes, operation_name: str, total: int) -> int:
    """Where ``token`` continues (0 without one); ValidationException for a token this home did
    not issue for this request."""
    if not token:
        return 0
    try:
        fields = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        offset, bound, signature = int(fields["o"]), str(fields["b"]), str(fields["s"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise validation_error("Invalid pagination token.", operation_name) from None
    if not hmac.compare_digest(signature, _signature(key, offset, bound)) or offset < 0:
        raise validation_error("Invalid pagination token.", operation_name)
    if bound != _bound(request):
        raise validation_error("Invalid pagination token: it continues a request with other parameters.",
                               operation_name)
    return min(offset, total)  # the list may have shrunk since: then the page is empty
