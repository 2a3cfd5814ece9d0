"""Is a worker process still the one we started? (pid reuse and zombies considered)"""

from __future__ import annotations

import os
from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against pid reuse); None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19]  # field 22 of stat(5), counted after the command name


def process_alive(pid: int, start_time: str | None) -> bool:
    """Whether ``pid`` still runs the process that started at ``start_time`` (not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True  # no /proc: trust kill(0)
    if fields[0] == "Z":
        return False
    return start_time is None or fields[19] == start_time
