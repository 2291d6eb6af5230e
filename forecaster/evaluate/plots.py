"""PNG plots of history and forecast (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.errors import ForecasterError

MAX_SENSORS = 6


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend; a clear error where matplotlib is not
    installed (the edge install), so that ``--plot`` fails before any work is done."""
    try:
        import matplotlib
    except ImportError:
        raise ForecasterError("--plot needs matplotlib, which is not installed here (pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_forecast(history: dict[str, pd.DataFrame], forecast: pd.DataFrame, targets: list[str], path: str | Path) -> Path:
    """Plot the recent history and the forecast of each sensor (at most six) and target.

    Args:
        history: per sensor, a frame indexed by time with the target columns.
        forecast: rows with ``sensor``, ``ts`` and the target columns.
        targets: the columns to draw.
        path: the PNG file to write.
    """
    plt = pyplot()
    sensors = list(history)[:MAX_SENSORS]
    fig, axes = plt.subplots(len(sensors), 1, figsize=(10, 2.8 * len(sensors)), squeeze=False)
    for ax, sensor in zip(axes[:, 0], sensors):
        past = history[sensor]
        future = forecast[forecast["sensor"] == sensor]
        for target in targets:
            line = ax.plot(past.index, past[target], label=f"{target} (measured)")[0]
            ax.plot(future["ts"], future[target], "--", color=line.get_color(), label=f"{target} (forecast)")
        ax.axvline(past.index[-1], color="grey", linewidth=0.8)
        ax.set_title(f"sensor {sensor}" if len(history) > 1 or sensor != "0" else "forecast")
        ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
