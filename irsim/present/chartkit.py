"""What every irsim chart shares so that it reads at a glance: integer axes for counts, a
legend outside the data, a threshold that is drawn without squeezing the data, and labels
spread so they never overlap."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: A threshold further than this factor beyond the data is marked at the edge, not drawn.
SQUEEZE = 2.5
#: Head room above the highest point (markers are not clipped at the top edge).
HEADROOM = 1.18
#: Text in a line's colour, darkened where the line's own colour is under WCAG AA's 4.5:1 on white.
TEXT_COLOURS = {"red": "#b00020", "purple": "#6a1b9a"}


def save_figure(fig: Figure, path: Path, dpi: int = 90) -> None:
    """Write ``fig`` as a PNG and free it."""
    fig.savefig(path, format="png", dpi=dpi)
    plt.close(fig)


def integer_ticks(*axes: Axis) -> None:
    """Whole-number ticks only (users, instances, minutes)."""
    for axis in axes:
        axis.set_major_locator(MaxNLocator(integer=True))


def outside_legend(fig: Figure, handles: Sequence[Artist], columns: int = 4) -> None:
    """One legend for the figure, below the panels (``layout="constrained"`` keeps it off the data)."""
    if handles:
        fig.legend(handles=list(handles), loc="outside lower center", ncol=min(columns, len(handles)), fontsize=8,
                   frameon=False)


def threshold_limit(ax: Axes, value: float | None, data_max: float, label: str, *, vertical: bool = False,
                    color: str = "red") -> Artist | None:
    """Draw ``value`` as a dashed line when it is within SQUEEZE x the data's range (the axis
    then spans both); otherwise scale the axis to the data and say at the edge where the
    threshold lies. The line's handle for a legend (None when marked at the edge)."""
    top = max(data_max, 1e-9)
    if value is None:
        _limit(ax, top * HEADROOM, vertical)
        return None
    if value <= SQUEEZE * top:
        _limit(ax, max(top, value) * HEADROOM, vertical)
        draw = ax.axvline if vertical else ax.axhline
        return draw(value, color=color, linestyle="--", linewidth=1.2, label=label)
    _limit(ax, top * HEADROOM, vertical)
    text = f"{label}: beyond the chart ({value / top:,.0f}x the highest)"
    color = TEXT_COLOURS.get(color, color)
    if vertical:
        ax.annotate(text + " \u2192", xy=(1.0, 0.02), xycoords="axes fraction", ha="right", va="bottom",
                    fontsize=8, color=color)
    else:
        ax.annotate("\u2191 " + text, xy=(0.99, 0.98), xycoords="axes fraction", ha="right", va="top",
                    fontsize=8, color=color)
    return None


def _limit(ax: Axes, top: float, vertical: bool) -> None:
    if vertical:
        ax.set_xlim(0, top)
    else:
        ax.set_ylim(0, top)


def spread(positions: Sequence[float], gap: float, low: float = 0.0, high: float = 1.0) -> list[float]:
    """Label positions as near ``positions`` as they can be while at least ``gap`` apart and
    within [low, high] (one dimension; the order of the input is kept)."""
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    placed = [min(max(positions[i], low), high) for i in order]
    for k in range(1, len(placed)):  # push up
        placed[k] = max(placed[k], placed[k - 1] + gap)
    overflow = placed[-1] - high if placed else 0.0
    if overflow > 0:  # shift back down, keeping the gaps, as far as the bottom allows
        placed = [p - overflow for p in placed]
        for k in range(len(placed) - 2, -1, -1):
            placed[k] = min(placed[k], placed[k + 1] - gap)
        shortfall = low - placed[0]
        if shortfall > 0:  # too many labels for the room: squeeze them evenly
            step = (high - low) / max(1, len(placed) - 1)
            placed = [low + k * step for k in range(len(placed))]
    result = [0.0] * len(positions)
    for rank, i in enumerate(order):
        result[i] = placed[rank]
    return result
