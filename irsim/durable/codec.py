"""How the store writes documents and timestamps, so that nothing a user sends can be read back
as something else, and a row that cannot be read is told, not raised.

Documents are JSON with each datetime as a one-key object ``{"$datetime": ISO}``. A key of the
user's own that could be read as that tag (``$datetime``, ``$$datetime``, ...) is written with
one more ``$`` and read back with one less: a profile or a model's Environment holding
``{"$datetime": "not-a-date"}`` comes back as the same object. Timestamp columns hold one
canonical form, UTC with microseconds (``2024-05-01T12:00:00.000000+00:00``), so that SQLite
orders and compares them as text, in time order.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

TAG = "$datetime"
#: A key the tag could be confused with: one or more "$", then "datetime".
_TAG_LIKE = re.compile(r"\$+datetime")
#: The canonical timestamp as a GLOB pattern: what SQLite compares as text in time order.
_DIGIT = "[0-9]"
CANONICAL_GLOB = f"{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2}T{_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2}.{_DIGIT * 6}+00:00"


class Damaged(ValueError):
    """A stored value irsim cannot read back (corrupt JSON, a tag that is not a timestamp)."""


def stamp(moment: datetime) -> str:
    """``moment`` as a timestamp column holds it: UTC, with microseconds (a naive time is UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def moment(text: Any) -> datetime:
    """A timestamp column read back; Damaged if it is not an ISO 8601 time."""
    if not isinstance(text, str):
        raise Damaged(f"a timestamp must be text, not {type(text).__name__}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Damaged(f"{_excerpt(text)} is not an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def encode(document: Any) -> str:
    """JSON with datetimes tagged and the user's tag-like keys escaped."""
    return json.dumps(_tagged(document))


def _tagged(value: Any) -> Any:
    if isinstance(value, dict):
        return {(f"${key}" if isinstance(key, str) and _TAG_LIKE.fullmatch(key) else key): _tagged(item)
                for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tagged(item) for item in value]
    if isinstance(value, datetime):
        return {TAG: value.isoformat()}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        return value.item()
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _tags_read(pairs: list[tuple[str, Any]]) -> Any:
    """An object read back: the tag a datetime, anything else a dict (no key was escaped)."""
    if len(pairs) == 1 and pairs[0][0] == TAG:
        text = pairs[0][1]
        if not isinstance(text, str):
            raise Damaged(f"a {TAG} tag holds {type(text).__name__}, not a timestamp")
        return moment(text)
    return dict(pairs)


def _unescaped(pairs: list[tuple[str, Any]]) -> Any:
    """An object read back from a document where some key was escaped."""
    document = _tags_read(pairs)
    if isinstance(document, dict) and any(key.startswith("$$") for key in document):
        return {(key[1:] if _TAG_LIKE.fullmatch(key) and key.startswith("$$") else key): value
                for key, value in pairs}
    return document


def decode(text: Any) -> Any:
    """A document column read back (None stays None); Damaged if it is not what ``encode`` wrote."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise Damaged(f"a document must be JSON text, not {type(text).__name__}")
    # Only a document holding the tag needs the hook (C parses the rest), and only one with an
    # escaped key needs the keys looked at.
    hook = None if f'"{TAG}"' not in text and '"$$' not in text else _unescaped if '"$$' in text else _tags_read
    try:
        return json.loads(text, object_pairs_hook=hook)
    except Damaged:
        raise
    except RecursionError:
        raise Damaged("the JSON nests too deeply") from None
    except ValueError as exc:  # JSONDecodeError
        raise Damaged(f"not JSON ({_excerpt(str(exc))})") from None


def _excerpt(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
