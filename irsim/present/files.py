"""Writing output files all-or-nothing, and checking where they go before any work: a reader
never sees half a file, a destination that cannot be written is refused before the simulation
runs, and a write that fails (a full disk, a file size limit) is one WriteError naming the file."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from irsim.errors import UserError
from simulator import InputError
from simulator.jsonfiles import read_input, read_json


class WriteError(UserError):
    """An output could not be written (the disk is full, a file size limit, the folder went away);
    nothing of it is left behind."""


@contextlib.contextmanager
def reported_as_write_errors(target: Path) -> Iterator[None]:
    """An OSError inside becomes a WriteError naming ``target`` and the cause."""
    try:
        yield
    except OSError as exc:
        raise WriteError(f"cannot write {exc.filename or target}: {exc.strerror or exc}") from None


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` (its return value is ignored) then rename the temporary file onto
    ``path``; a failure leaves nothing (a WriteError when the system refused a write)."""
    target = Path(path)
    with reported_as_write_errors(target), made_folders(target.parent):
        handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
        os.close(handle)
        try:
            write(Path(tmp))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result is an ordinary file
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


@contextlib.contextmanager
def made_folders(folder: Path) -> Iterator[None]:
    """``folder`` and its missing parents made; those made here are removed again (when empty)
    should the body fail, so a failed write leaves no trace."""
    missing = [part for part in (folder, *folder.parents) if not part.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for part in missing:  # the deepest first
            with contextlib.suppress(OSError):
                part.rmdir()
        raise


def write_folder(out_dir: str | Path, writers: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Files ``writers`` names (each ``write(tmp_path)``) made in a staging folder beside
    ``out_dir`` and moved in only once all exist: a failure leaves none of them."""
    target = Path(out_dir)
    with reported_as_write_errors(target), made_folders(target.parent):
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for name, write in writers.items():
                write(staging / name)
            target.mkdir(exist_ok=True)
            written = []
            for name in writers:
                (staging / name).replace(target / name)
                written.append(target / name)
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)


#: The longest file name (one part of a path) Linux's file systems take.
MAX_NAME_BYTES = 255
_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def writable_file(path: str | Path, field: str) -> Path:
    """``path`` as the destination of one file, checked before any work: refused (InputError
    naming ``field``) if it is a folder or not a regular file, if a part of it is a file, or if
    the folder it goes in cannot be written."""
    target = Path(path)
    with _said_as(field, target):
        if str(path) == "" or target.name in ("", "..") or target.is_dir():
            raise InputError(field, f"{str(path)!r} is a folder: give the file to write")
        if target.exists():
            mode = target.stat().st_mode
            kind = next((what for test, what in _NOT_REGULAR if test(mode)), None)
            if kind is not None:
                raise InputError(field, f"{target} is {kind}, not a file irsim can replace")
        _check_folder_chain(target.parent, target, field)
    return target


def writable_folder(path: str | Path, field: str) -> Path:
    """``path`` as a folder outputs go into, checked before any work: refused (InputError naming
    ``field``) if it or a part of it is a file, or if it (or the folder it would be made in)
    cannot be written."""
    target = Path(path)
    with _said_as(field, target):
        if str(path) == "":
            raise InputError(field, "is empty: give a folder to write into")
        _check_folder_chain(target, target, field)
    return target


@contextlib.contextmanager
def _said_as(field: str, target: Path) -> Iterator[None]:
    if "\0" in str(target):  # pathlib's checks answer False for it; the write would fail later
        raise InputError(field, f"{str(target)!r} holds a NUL character, which no file name can")
    try:
        yield
    except (OSError, ValueError) as exc:  # a name too long, a NUL character, a loop of links
        if isinstance(exc, InputError):
            raise
        raise InputError(field, f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from None


def _check_folder_chain(folder: Path, target: Path, field: str) -> None:
    """No name in ``target`` longer than the file system allows, and the nearest part of
    ``folder`` that exists a folder this process can write in (probed by making a file there and
    removing it: permissions, a read-only file system and an immutable folder all show)."""
    for name in target.parts:
        if len(os.fsencode(name)) > MAX_NAME_BYTES:
            raise InputError(field, f"cannot write {str(target)[:120]}…: a name in it is {len(os.fsencode(name))} "
                                    f"bytes, over the {MAX_NAME_BYTES} a file name may have")
    for part in (folder, *folder.parents):
        if not part.exists() and not part.is_symlink():
            continue
        if not part.is_dir():
            raise InputError(field, f"cannot write {target}: {part} is not a folder")
        try:
            handle, probe = tempfile.mkstemp(prefix=".irsim-probe.", dir=part)
        except OSError as exc:
            raise InputError(field, f"cannot write {target}: {part}: {exc.strerror or exc}") from None
        os.close(handle)
        os.unlink(probe)
        return


def read_folder_json(folder: Path, name: str) -> Any:
    """The JSON file ``name`` of an output folder, on the one hardened loader (size, FIFOs and
    devices, encoding, syntax, depth): a bad file is an InputError naming the folder and the file."""
    return read_json(folder / name, str(folder))


def read_folder_csv(folder: Path, name: str) -> pd.DataFrame:
    """The CSV table ``name`` of an output folder, read as bytes by the hardened reader first;
    a file that is not a table is an InputError naming the folder and the file."""
    data = read_input(folder / name, str(folder))
    try:
        return pd.read_csv(io.BytesIO(data))
    except (ValueError, pd.errors.ParserError) as exc:  # EmptyDataError and UnicodeDecodeError are ValueErrors
        raise InputError(str(folder), f"{folder / name} is not a CSV table: {' '.join(str(exc).split())}") from None
