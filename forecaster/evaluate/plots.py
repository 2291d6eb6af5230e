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


def legend_outside(ax, **kwargs) -> None:
    """The legend to the right of the axes, where it never hides a line."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG (the outside legends included) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path


def forecast_figure(history: dict[str, pd.DataFrame], forecast: pd.DataFrame, targets: list[str],
                    interval: float | None = None):
    """The figure of `plot_forecast`: one panel per sensor (the first `MAX_SENSORS` by id; the
    title says "6 of N sensors shown" when there are more), time in UTC on the x axis, the
    targets on the y axis, the legend outside; the ``<target>_lo``/``_hi`` columns, when the
    forecast has them, shaded as the ``interval`` band."""
    plt = pyplot()
    sensors = list(history)[:MAX_SENSORS]
    fig, axes = plt.subplots(len(sensors), 1, figsize=(10, 2.8 * len(sensors)), squeeze=False)
    for ax, sensor in zip(axes[:, 0], sensors):
        past = history[sensor]
        future = forecast[forecast["sensor"] == sensor]
        for target in targets:
            line = ax.plot(past.index, past[target], label=f"{target} (measured)")[0]
            ax.plot(future["ts"], future[target], "--", color=line.get_color(), label=f"{target} (forecast)")
            if f"{target}_lo" in future:
                ax.fill_between(future["ts"], future[f"{target}_lo"], future[f"{target}_hi"], color=line.get_color(),
                                alpha=0.2, label=f"{target} ({interval or ''} interval)".replace("( ", "("))
        ax.axvline(past.index[-1], color="grey", linewidth=0.8)
        ax.set_title(f"sensor {sensor}" if len(history) > 1 or sensor != "0" else "forecast")
        ax.set_xlabel("time (UTC)")
        ax.set_ylabel(", ".join(targets))
        ax.tick_params(axis="x", labelrotation=20)
        legend_outside(ax, fontsize=8)
    top = 1.0
    if len(history) > len(sensors):
        fig.suptitle(f"{len(sensors)} of {len(history)} sensors shown")
        top -= 0.3 / fig.get_figheight()  # room for it above the first panel's title
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig


def plot_forecast(history: dict[str, pd.DataFrame], forecast: pd.DataFrame, targets: list[str], path: str | Path,
                  interval: float | None = None) -> Path:
    """Plot the recent history and the forecast of each sensor (at most six) and target.

    Args:
        history: per sensor, a frame indexed by time with the target columns.
        forecast: rows with ``sensor``, ``ts`` and the target columns.
        targets: the columns to draw.
        path: the PNG file to write.
        interval: the level of the ``<target>_lo``/``_hi`` band in ``forecast`` (for the legend).
    """
    return save(forecast_figure(history, forecast, targets, interval), path)
