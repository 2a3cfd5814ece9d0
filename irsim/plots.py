"""PNG charts of simulated runs (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_per_minute(frame: pd.DataFrame, title: str, path: Path, threshold_ms: float | None = None) -> None:
    """Invocations per minute, ModelLatency percentiles and users against simulated minutes."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    minutes = frame["start_s"] / 60.0 + frame["seconds"] / 120.0
    top.plot(minutes, frame["Invocations"] * 60.0 / frame["seconds"], marker="o", label="Invocations / min")
    top.set_ylabel("invocations per minute")
    users = top.twinx()
    users.step(frame["start_s"] / 60.0, frame["Users"], where="post", color="grey", alpha=0.6, label="users")
    users.set_ylabel("users")
    top.set_ylim(bottom=0)
    users.set_ylim(bottom=0)
    top.set_title(title)
    for column, label in (("ModelLatency_p50", "p50"), ("ModelLatency_p95", "p95"), ("ModelLatency_p99", "p99")):
        bottom.plot(minutes, frame[column] / 1000.0, marker=".", label=label)
    if threshold_ms is not None:
        bottom.axhline(threshold_ms, color="red", linestyle="--", label=f"threshold {threshold_ms:g} ms")
    bottom.set_ylabel("ModelLatency (ms)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("simulated minute")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
