"""The optimizer's search step by step, told to whoever shows progress (the command line draws
them; the library's default listener ignores them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: kinds, in the order a plan emits them
CANDIDATES, SIZING, SIZED, INFEASIBLE, PRUNED, VERIFICATION, SERVERLESS = (
    "candidates", "sizing", "sized", "infeasible", "pruned", "verification", "serverless")


@dataclass(frozen=True)
class PlanEvent:
    """One step: the candidates to size (``total``), a type being sized, its verdict, or a
    verification of the integer program's solution (``number``), with its words in ``text``."""

    kind: str
    text: str = ""
    instance_type: str | None = None
    number: int = 0
    total: int = 0


Observer = Callable[[PlanEvent], None]


def ignore(event: PlanEvent) -> None:
    """The default listener: nobody watches."""
