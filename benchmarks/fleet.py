"""A generated sensor fleet: indoor sensors on a daily cycle, and one outdoor sensor that follows
a weather feature (6 hours behind it) more than its own noisy past, the case where issue 23 found
the recurrent default losing to ridge.

Every sensor's rows carry two columns: ``weather`` (one shared series: a daily wave plus a slow
random weather pattern) and ``temp`` (the sensor's reading). Hourly, long format.

Example:
    python benchmarks/fleet.py --out /tmp/fleet.csv --days 120
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LAG = 6  # hours the outdoor sensor trails the weather feature


def weather(n: int, rng: np.random.Generator) -> np.ndarray:
    """A daily wave (peak mid-afternoon) plus a slow AR(1) weather pattern (sd ~3 degrees)."""
    t = np.arange(n)
    slow = np.zeros(n)
    for i in range(1, n):
        slow[i] = 0.995 * slow[i - 1] + rng.normal(0, 0.3)
    return 10 + 5 * np.sin(2 * np.pi * (t - 9) / 24) + slow


def fleet_frame(days: int = 180, indoor: int = 3, seed: int = 0) -> pd.DataFrame:
    """``indoor`` indoor sensors and one ``outdoor`` sensor, ``days`` of hourly rows each."""
    rng = np.random.default_rng(seed)
    n = days * 24
    w = weather(n + LAG, rng)
    ts = pd.date_range("2026-01-01", periods=n, freq="1h", tz="UTC")
    t = np.arange(n)
    parts = []
    for k in range(indoor):
        noise = np.zeros(n)
        for i in range(1, n):
            noise[i] = 0.9 * noise[i - 1] + rng.normal(0, 0.1)
        occupied = ((t % 24 >= 7 + k) & (t % 24 < 18 + k)).astype(float)  # heating on during the day
        temp = 19 + 2.5 * np.convolve(occupied, np.ones(3) / 3, mode="same") + 0.05 * (w[:n] - 10) + noise
        parts.append(pd.DataFrame({"ts": ts, "sensor": f"indoor-{k + 1}", "weather": w[LAG:], "temp": temp}))
    outdoor = w[:n] + rng.normal(0, 0.5, n)  # the weather LAG hours ago, plus the sensor's own noise
    parts.append(pd.DataFrame({"ts": ts, "sensor": "outdoor", "weather": w[LAG:], "temp": outdoor}))
    return pd.concat(parts, ignore_index=True)


if __name__ == "__main__":
    import click

    @click.command()
    @click.option("--out", required=True, type=click.Path(dir_okay=False))
    @click.option("--days", default=180, show_default=True, type=click.IntRange(min=10))
    @click.option("--seed", default=0, show_default=True, type=int)
    def main(out: str, days: int, seed: int) -> None:
        """Write the fleet CSV."""
        fleet_frame(days=days, seed=seed).to_csv(out, index=False)
        click.echo(f"wrote {out}")

    main()
