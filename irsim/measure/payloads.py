"""The payloads a load test sends, as Inference Recommender takes them: one file, or a tar.gz
of sample payloads (what ContainerConfig.SamplePayloadUrl points to), each request taking the
next file in name order; with one content type (ContainerConfig.SupportedContentTypes)."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irsim.errors import UserError
from irsim.measure.sample_model import sample_bodies

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024   # InvokeEndpoint's payload limit (6 MB)
MAX_FILES = 10_000


@dataclass(frozen=True)
class Payloads:
    """The bodies to send in turn, their content type and where they came from."""

    bodies: tuple[bytes, ...]
    content_type: str
    source: str    # the file, or "sample model (seed S)"
    sha256: str    # of the file's bytes (of the bodies joined, for generated ones)

    def body(self, index: int) -> bytes:
        """The body of request ``index`` (the files in turn)."""
        return self.bodies[index % len(self.bodies)]

    @property
    def mean_kb(self) -> float:
        return sum(len(b) for b in self.bodies) / len(self.bodies) / 1024.0


def payload_config(request: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request's InputConfig.ContainerConfig.PayloadConfig (empty when it has none)."""
    return request.get("InputConfig", {}).get("ContainerConfig", {}).get("PayloadConfig") or {}


def _content_type(given: str | None, request: Mapping[str, Any]) -> str | None:
    """--content-type, else the request's first PayloadConfig.SupportedContentTypes."""
    if given:
        return given
    supported = payload_config(request).get("SupportedContentTypes") or []
    return supported[0] if supported else None


def request_payload(request: Mapping[str, Any]) -> str | None:
    """PayloadConfig.SamplePayloadUrl when it names a local file (a path or file://); an S3
    URL cannot be read here, so None."""
    url = payload_config(request).get("SamplePayloadUrl")
    return url if isinstance(url, str) and not url.startswith("s3://") else None


def _tar_bodies(path: Path) -> tuple[bytes, ...]:
    """The regular files of a tar.gz, in name order."""
    try:
        with tarfile.open(path, "r:*") as archive:
            members = sorted((m for m in archive.getmembers() if m.isfile()), key=lambda m: m.name)
            if len(members) > MAX_FILES:
                raise UserError(f"--payload: {path} holds {len(members)} files; at most {MAX_FILES}")
            bodies = []
            for member in members:
                handle = archive.extractfile(member)
                if handle is not None:
                    bodies.append(handle.read())
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise UserError(f"--payload: {path} is not a readable tar.gz of sample payloads ({exc})") from None
    return tuple(bodies)


def read_payloads(path: str, content_type: str | None, request: Mapping[str, Any]) -> Payloads:
    """A payload file, or a tar.gz of them (by its name: .tar.gz, .tgz or .tar); one line
    naming --payload when it cannot be read or holds nothing to send."""
    file = Path(path.removeprefix("file://"))
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UserError(f"--payload: cannot read {file}: {exc.strerror or exc}") from None
    archive = file.name.endswith((".tar.gz", ".tgz", ".tar"))
    bodies = _tar_bodies(file) if archive else (data,)
    if not bodies or not any(bodies):
        raise UserError(f"--payload: {file} {'holds no file' if archive else 'is empty'}: nothing to send")
    largest = max(len(b) for b in bodies)
    if largest > MAX_PAYLOAD_BYTES:
        raise UserError(f"--payload: a payload of {largest:,} bytes is over InvokeEndpoint's 6 MB limit")
    chosen = _content_type(content_type, request)
    if chosen is None:
        raise UserError("--content-type: give the payload's content type (e.g. text/csv); the request's "
                        "ContainerConfig.PayloadConfig.SupportedContentTypes names none")
    return Payloads(bodies=bodies, content_type=chosen, source=str(file), sha256=hashlib.sha256(data).hexdigest())


def sample_payloads(seed: int, content_type: str | None = None) -> Payloads:
    """The sample model's CSV payloads (no --payload given), drawn from ``seed``."""
    bodies = sample_bodies(seed)
    return Payloads(bodies=bodies, content_type=content_type or "text/csv", source=f"sample model (seed {seed})",
                    sha256=hashlib.sha256(b"".join(bodies)).hexdigest())
