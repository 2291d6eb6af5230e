"""Build data/ett_two_transformers.csv from the unmodified ETTh1.csv and ETTh2.csv.

The long format has one row per (sensor, time): ``sensor,date,HUFL,...,OT`` with sensor
ids ``etth1`` and ``etth2`` (two transformers at two stations). Values are copied as text,
unchanged. Run from the repository root: ``python data/build_long.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = {"etth1": HERE / "ETTh1.csv", "etth2": HERE / "ETTh2.csv"}
TARGET = HERE / "ett_two_transformers.csv"


def main() -> None:
    with TARGET.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        header_written = False
        for sensor, path in SOURCES.items():
            with path.open(newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader)
                if not header_written:
                    writer.writerow(["sensor", *header])
                    header_written = True
                for row in reader:
                    writer.writerow([sensor, *row])


if __name__ == "__main__":
    main()
