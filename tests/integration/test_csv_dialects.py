"""CSV dialects end to end (issue 19): files written here in each dialect are trained on and
forecast from through `forecaster train` / `predict`; bad dialect input is one line, exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.cli import main

TINY = ["--input-steps", "24", "--horizon", "6", "--units", "8", "--epochs", "1", "--no-progress"]
N = 300
START = pd.Timestamp("2026-01-05", tz="UTC")  # day-first dates run past the 12th: the order is detected
CODED = {(40, "T"): "-200", (41, "RH"): "-200,0", (90, "T"): "-200,00"}  # (row, column): the code as written


def series() -> pd.DataFrame:
    t = np.arange(N)
    return pd.DataFrame({
        "ts": pd.date_range(START, periods=N, freq="1h"),
        "T": np.round(20 + 5 * np.sin(2 * np.pi * t / 24), 3),
        "RH": np.round(50 + 10 * np.cos(2 * np.pi * t / 24), 3),
    })


def write_semicolon(path) -> None:
    """Date;Time (day-first, dotted clock), decimal commas, -200 codes, one empty cell."""
    lines = ["Date;Time;T;RH"]
    for i, row in series().iterrows():
        cells = {c: CODED.get((i, c), f"{row[c]}".replace(".", ",")) for c in ("T", "RH")}
        if i == 120:
            cells["RH"] = ""
        lines.append(f"{row.ts:%d/%m/%Y};{row.ts:%H.%M.%S};{cells['T']};{cells['RH']}")
    path.write_text("\n".join(lines) + "\n")


def write_tabs(path) -> None:
    frame = series()
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.to_csv(path, sep="\t", index=False)


def write_epoch_ms(path) -> None:
    frame = series()
    frame["ts"] = frame["ts"].astype("int64") // 1_000_000
    frame.to_csv(path, index=False)


def train_and_predict(data, tmp_path, capsys, *fmt: str, time_col: str | None = None) -> tuple[str, pd.DataFrame]:
    """Train on ``data`` and forecast from it (the bundle knows its time column)."""
    bundle, out = tmp_path / f"b-{data.stem}", tmp_path / f"f-{data.stem}.csv"
    args = ["--targets", "T", "--features", "T,RH", *TINY]
    if time_col:
        args += ["--time-col", time_col]
    assert main(["train", "--data", str(data), "--out", str(bundle), *args, *fmt]) == 0, capsys.readouterr().err
    assert main(["predict", "--model", str(bundle), "--data", str(data), "--out", str(out), *fmt]) == 0
    return capsys.readouterr().out, pd.read_csv(out, parse_dates=["ts"])


def next_hours(k: int = 6) -> list[pd.Timestamp]:
    return list(pd.date_range(START + pd.Timedelta(hours=N), periods=k, freq="1h"))


def test_semicolon_decimal_comma_date_and_time_columns_missing_code(tmp_path, capsys):
    data = tmp_path / "air.csv"
    write_semicolon(data)
    out, forecast = train_and_predict(data, tmp_path, capsys, "--missing", "-200", time_col="Date,Time")
    assert "missing: 4 cells in" in out and "(3 equal to a --missing code)" in out  # train and predict both say so
    assert out.count("missing: 4 cells") == 2
    assert list(forecast["ts"].dt.tz_convert(None)) == [t.tz_convert(None) for t in next_hours()]
    assert forecast["T"].between(5, 35).all()  # the codes did not reach the model


def test_tab_and_epoch_milliseconds_files_give_the_same_forecast(tmp_path, capsys):
    tabs, ms = tmp_path / "tabs.tsv", tmp_path / "ms.csv"
    write_tabs(tabs)
    write_epoch_ms(ms)
    out, forecast = train_and_predict(tabs, tmp_path, capsys)
    assert "missing: 0 cells" in out
    assert list(forecast["ts"].dt.tz_convert(None)) == [t.tz_convert(None) for t in next_hours()]
    from_ms = tmp_path / "from-ms.csv"
    assert main(["predict", "--model", str(tmp_path / "b-tabs"), "--data", str(ms), "--out", str(from_ms)]) == 0
    np.testing.assert_array_equal(pd.read_csv(from_ms)["T"], forecast["T"])  # same readings, same forecast
    ms_out, ms_forecast = train_and_predict(ms, tmp_path, capsys)
    assert list(ms_forecast["ts"]) == list(forecast["ts"])


def test_aggregate_mean_of_several_readings_per_slot_equals_the_mean_file(tmp_path, capsys):
    """Two readings per hour (mean -+ 1 at :10 and :40) with --aggregate mean forecast exactly
    what the file of hourly means does; without the option the error names it."""
    plain, twice = tmp_path / "plain.csv", tmp_path / "twice.csv"
    frame = series()
    frame.to_csv(plain, index=False)
    pairs = pd.concat([frame.assign(ts=frame.ts + pd.Timedelta(minutes=10), T=frame["T"] - 1, RH=frame["RH"] + 2),
                       frame.assign(ts=frame.ts + pd.Timedelta(minutes=40), T=frame["T"] + 1, RH=frame["RH"] - 2)])
    pairs.sort_values("ts").to_csv(twice, index=False)
    bundle = tmp_path / "b"
    assert main(["train", "--data", str(plain), "--out", str(bundle), "--targets", "T", "--features", "T,RH",
                 *TINY]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", str(bundle), "--data", str(twice), "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "two readings in one 1h slot" in err and "--aggregate mean|last" in err
    for name, data, fmt in (("a.csv", plain, []), ("m.csv", twice, ["--aggregate", "mean"])):
        assert main(["predict", "--model", str(bundle), "--data", str(data), "--out", str(tmp_path / name), *fmt]) == 0
    np.testing.assert_allclose(pd.read_csv(tmp_path / "m.csv")["T"], pd.read_csv(tmp_path / "a.csv")["T"],
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("text, args, expected", [
    ("ts,T\n2026-01-01T00:00:00Z,1\n", ["--sep", ":"], "Invalid value for '--sep': ':' is not one of ',', ';', 'tab', '|'"),
    ("Date;Time;T\n05/01/2026;00.00.00;1\n", ["--time-col", "Date,Tim"],
     "line 1: no column 'Tim' (--time-col Date,Tim); the header has ['Date', 'Time', 'T']"),
    ("ts T\n1 2\n", [], "line 1: only one column found (tried , ; tab |): 'ts T'; name the separator with --sep"),
    ("ts;T\n1;2\n", ["--sep", ","], "only one column found (separator ',' (--sep))"),
])
def test_bad_dialect_input_is_one_line_exit_2(tmp_path, capsys, text, args, expected):
    data = tmp_path / "bad.csv"
    data.write_text(text)
    for command in (["train", "--out", str(tmp_path / "b"), *TINY], ["replay", "--broker", "mqtt://127.0.0.1:1"]):
        assert main([command[0], "--data", str(data), *command[1:], *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err


def test_replay_of_a_semicolon_file_sends_its_readings_and_skips_coded_rows(broker, tmp_path, capsys):
    import json

    from mqtt_broker import Collector

    data = tmp_path / "air.csv"
    write_semicolon(data)
    collector = Collector(broker.url, "sensors/#")
    assert main(["replay", "--data", str(data), "--broker", broker.url, "--sensor", "air", "--rate", "2000",
                 "--time-col", "Date,Time", "--missing", "-200"]) == 0
    assert "(4 rows with a missing value skipped)" in capsys.readouterr().out
    assert collector.wait_for(lambda m: len(m) == N - 4, timeout=20)
    collector.close()
    sent = [json.loads(payload) for _, payload, _ in collector.messages]
    expected = series().drop(index=[40, 41, 90, 120])
    assert [m["ts"] for m in sent] == list(expected["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [m["values"]["T"] for m in sent] == expected["T"].tolist()


def test_backfill_writes_a_semicolon_decimal_comma_file_back_in_its_own_dialect(tmp_path, capsys):
    from helpers import DATA

    rows = pd.read_csv(DATA / "ETTh1.csv").iloc[:400][["date", "HUFL", "OT"]]
    lines = ["ts;HUFL;OT"] + [f"{d};{str(round(h, 3)).replace('.', ',')};{str(round(o, 3)).replace('.', ',')}"
                              for d, h, o in rows.to_numpy()]
    for k in (300, 301, 302):  # a 3-slot gap in OT
        ts, hufl, _ = lines[k].split(";")
        lines[k] = f"{ts};{hufl};"
    data = tmp_path / "gappy.csv"
    data.write_text("\n".join(lines) + "\n")
    bundle, out = tmp_path / "bf", tmp_path / "filled.csv"
    assert main(["train-backfill", "--data", str(data), "--out", str(bundle), "--window", "24", "--max-fill", "6",
                 "--min-context", "4", "--layers", "1", "--units", "4", "--epochs", "1"]) == 0
    assert main(["backfill", "--model", str(bundle), "--data", str(data), "--out", str(out)]) == 0
    capsys.readouterr()
    written = out.read_text().splitlines()
    assert written[0] == "ts;HUFL;OT;HUFL_filled;OT_filled"
    assert written[1] == lines[1] + ";0;0"  # an original row, verbatim
    for k in (300, 301, 302):
        ts, hufl, ot, hufl_flag, ot_flag = written[k].split(";")
        assert (ts, hufl) == tuple(lines[k].split(";")[:2]) and (hufl_flag, ot_flag) == ("0", "1")
        assert "," in ot and "." not in ot and np.isfinite(float(ot.replace(",", ".")))
