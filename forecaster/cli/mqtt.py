"""The MQTT commands: `serve`, `replay` and `parse` (wiring only).

Options come from flags, the ``--config`` TOML (``[serve]``, ``[replay]`` tables) and
``FORECASTER_SERVE_*`` / ``FORECASTER_REPLAY_*`` variables. A password is never taken from
the command line (it would show in ``ps``): use ``FORECASTER_SERVE_PASSWORD``, ``password``
in the TOML file, or ``--password-file``.
"""

from __future__ import annotations

import faulthandler
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from forecaster.cli.replicas import replica_options, replica_settings
from forecaster.cli.util import check_levels, csv_format, csv_keywords
from pipelines.errors import ForecasterError

if TYPE_CHECKING:
    from forecaster.serve.config import ServeConfig

EPILOG_SERVE = """\b
Example:
  forecaster serve --model bundles/etth1 --broker mqtt://127.0.0.1:1883 \\
      --subscribe 'sensors/+/readings' --publish 'forecasts/{sensor}' --metrics-port 9108
"""
EPILOG_REPLAY = """\b
Example:
  forecaster replay --data data/ett_two_transformers.csv --broker mqtt://127.0.0.1:1883 \\
      --topic 'sensors/{sensor}/readings' --speed 3600
"""
EPILOG_PARSE = """\b
Examples:
  forecaster parse sensors/t1/readings '{"ts": "2026-11-23T12:00:00Z", "values": {"OT": 30.5}}' --features OT
  forecaster parse tele/plug1/SENSOR '{"Time": "2026-01-05T10:00:00", "SI7021": {"Temperature": 21.3}}' \\
      --subscribe 'tele/+/SENSOR' --features T --map T=SI7021.Temperature
"""


def mqtt_options(func: Callable) -> Callable:
    """Connection options shared by `serve` and `replay`."""
    options = [
        click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True,
                     help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)."),
        click.option("--client-id", default=None, help="MQTT client id [default: forecaster-HOST-PID]; fix it for --persistent-session."),
        click.option("--mqtt-version", default="5", show_default=True, type=click.Choice(["5", "3.1.1"])),
        click.option("--username", default=None, help="Broker user name."),
        click.option("--password", default=None, hidden=True,
                     help="Only from FORECASTER_<COMMAND>_PASSWORD or the config file, never argv."),
        click.option("--password-file", default=None, type=click.Path(dir_okay=False), help="File holding the broker password."),
        click.option("--ca-file", default=None, type=click.Path(dir_okay=False), help="CA certificate(s) to trust (mqtts) [default: the system's]."),
        click.option("--cert-file", default=None, type=click.Path(dir_okay=False), help="Client certificate (mqtts)."),
        click.option("--key-file", default=None, type=click.Path(dir_okay=False), help="Client private key (mqtts)."),
        click.option("--tls-insecure", is_flag=True, default=False, help="Do not verify the broker's certificate (testing only)."),
        click.option("--keepalive", default=30, show_default=True, type=click.IntRange(min=1), help="Seconds between pings."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def payload_options(func: Callable) -> Callable:
    """The payload rules (`pipelines.payloads.ParseRules`) shared by `serve` and `parse`."""
    options = [
        click.option("--ts-field", default=None, metavar="PATH",
                     help="Dotted path of the timestamp [default: the first of ts, time, timestamp, Time, datetime]; "
                          "ISO 8601 (no zone: UTC) or epoch s/ms/us/ns (told apart by magnitude)."),
        click.option("--map", multiple=True, metavar="FEATURE=PATH",
                     help="Read FEATURE from a dotted path of the payload, e.g. T=SI7021.Temperature (repeatable)."),
        click.option("--arrival-time", is_flag=True, default=False,
                     help="Stamp a message that has no timestamp with its receive time (else it is rejected)."),
        click.option("--ignore-unknown/--reject-unknown", default=True, show_default=True,
                     help="Ignore (and count) payload fields that no feature, --map or timestamp uses, or reject the message."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _payload_rules(o: dict) -> dict:
    """The `ParseRules` keywords of the payload options (a malformed --map is a ForecasterError)."""
    from pipelines.payload_fields import parse_map

    return {"ts_field": o["ts_field"], "mapping": parse_map(o["map"]), "arrival_time": o["arrival_time"],
            "ignore_unknown": o["ignore_unknown"]}


def _password(ctx: click.Context, o: dict) -> str | None:
    if ctx.get_parameter_source("password") == ParameterSource.COMMANDLINE:
        raise ForecasterError(
            f"do not pass --password on the command line (visible in `ps`); use FORECASTER_{ctx.info_name.upper()}_PASSWORD, "
            "`password` in the --config file, or --password-file"
        )
    if o["password_file"]:
        if o["password"] is not None:
            raise ForecasterError("give a password or --password-file, not both")
        try:
            return Path(o["password_file"]).read_text().rstrip("\r\n")
        except OSError as exc:
            raise ForecasterError(f"{o['password_file']}: cannot read the password file ({exc.strerror})") from None
    return o["password"]


def _mqtt_settings(ctx: click.Context, o: dict, *, persistent: bool = False, session_expiry: int = 3600):
    from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings

    for name in ("ca_file", "cert_file", "key_file"):
        if o[name] and not Path(o[name]).is_file():
            raise ForecasterError(f"--{name.replace('_', '-')}: no such file {o[name]}")
    if persistent and not o["client_id"]:
        raise ForecasterError("--persistent-session needs a fixed --client-id (the broker keys the session on it)")
    return MqttSettings(
        broker=BrokerAddress.parse(o["broker"]),
        client_id=o["client_id"] or f"forecaster-{socket.gethostname()}-{os.getpid()}",
        protocol=o["mqtt_version"], username=o["username"], password=_password(ctx, o),
        ca_file=o["ca_file"], cert_file=o["cert_file"], key_file=o["key_file"], insecure=o["tls_insecure"],
        keepalive=o["keepalive"], persistent=persistent, session_expiry=session_expiry,
    )


def _info_logging(ctx: click.Context) -> None:
    """A daemon says what it does at INFO unless -q or -v was given."""
    parent = ctx.parent.params if ctx.parent else {}
    if not parent.get("quiet") and not parent.get("verbose"):
        for name in ("forecaster", "pipelines"):
            logging.getLogger(name).setLevel(logging.INFO)


@click.command(epilog=EPILOG_SERVE)
@click.option("--model", required=True, type=click.Path(file_okay=False), help="Forecast bundle directory.")
@mqtt_options
@click.option("--subscribe", default="sensors/+/readings", show_default=True, help="Readings topic filter; its '+' level is the sensor id.")
@click.option("--publish", default="forecasts/{sensor}", show_default=True, help="Forecast topic template.")
@click.option("--status-topic", default="forecaster/{client_id}/status", show_default=True, help="Retained online/offline status.")
@click.option("--qos-in", default=1, show_default=True, type=click.IntRange(0, 2), help="Subscription QoS.")
@click.option("--qos", default=1, show_default=True, type=click.IntRange(0, 2), help="QoS of published forecasts.")
@click.option("--retain/--no-retain", default=False, show_default=True, help="Retain the latest forecast per sensor.")
@click.option("--persistent-session", is_flag=True, default=False,
              help="Keep the session while away (clean_start false): QoS 1 readings are delivered on return.")
@click.option("--session-expiry", default=3600, show_default=True, type=click.IntRange(min=1), help="Seconds the broker keeps the session.")
@click.option("--metrics-port", default=None, type=click.IntRange(0, 65535), help="Serve /metrics, /healthz, /readyz on this port [default: off].")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for the metrics port (0.0.0.0 in a container).")
@click.option("--state-file", default=None, type=click.Path(dir_okay=False),
              help="Keep the windows here (a snapshot plus a journal of newer readings): restored after a stop or a "
                   "crash; QoS 1 readings are acknowledged only once journalled.")
@click.option("--state-interval", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              metavar="SECONDS", help="Seconds between snapshots of the windows (the journal holds the rest).")
@click.option("--max-sensors", default=10_000, show_default=True, type=click.IntRange(min=1), help="Windows kept in memory (LRU).")
@click.option("--queue-size", default=100_000, show_default=True, type=click.IntRange(min=1), help="Readings waiting before new ones are dropped.")
@click.option("--publish-buffer", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="QoS 1/2 forecasts kept while the broker is away (the oldest dropped beyond), sent on reconnect.")
@click.option("--max-batch", default=1024, show_default=True, type=click.IntRange(min=1), help="Readings handled per inference batch.")
@click.option("--runtime", default="keras", show_default=True, type=click.Choice(["keras", "tflite"]),
              help="keras: TensorFlow with the XLA fast path; tflite: the bundle's LiteRT export (see `forecaster export`).")
@click.option("--threads", default=0, show_default=True, type=click.IntRange(min=0),
              help="Inference threads (0: all cores). 1 leaves the other cores to the broker on a small gateway.")
@click.option("--max-payload", default=65_536, show_default=True, type=click.IntRange(min=1), help="Largest payload in bytes.")
@click.option("--max-future", default=86_400.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Reject readings more than this many seconds ahead of the clock.")
@click.option("--interval", multiple=True, metavar="LEVEL[,LEVEL]",
              help="Publish the prediction interval at this calibrated level in each forecast step (lo/hi; "
                   "repeatable or a comma list, e.g. 0.8,0.95).")
@click.option("--live-scoring/--no-live-scoring", default=True, show_default=True,
              help="Score each forecast against the readings of its slots (live accuracy on /metrics, anomaly flags); "
                   "off saves about a tenth of the worker's time per reading at a thousand sensors.")
@click.option("--metrics-per-sensor", is_flag=True, default=False,
              help="Label the live accuracy metrics by sensor too (small fleets only: series per sensor).")
@click.option("--anomaly-topic", default=None, metavar="TOPIC",
              help="Publish readings outside the interval of their forecast here, e.g. 'anomalies/{sensor}' [default: off].")
@click.option("--anomaly-level", default=0.95, show_default=True, type=float,
              help="The interval level anomalies are checked at (one of --interval).")
@click.option("--anomaly-step", default=1, show_default=True, type=click.IntRange(min=1),
              help="Check each reading against the forecast issued this many steps before its slot.")
@click.option("--output-format", default="json", show_default=True, type=click.Choice(["json", "influx"]),
              help="json: one JSON object per forecast; influx: InfluxDB line protocol, one line per target and step "
                   "(Telegraf mqtt_consumer, data_format = \"influx\").")
@click.option("--ha-discovery", is_flag=False, flag_value="homeassistant", default=None, metavar="[PREFIX]",
              help="Announce each sensor's forecast of each target to Home Assistant (MQTT discovery, retained configs "
                   "under PREFIX, default homeassistant); needs --client-id.")
@click.option("--aggregate", default="error", show_default=True,
              type=click.Choice(["error", "mean", "last", "first", "min", "max", "sum"]),
              help="Several readings of a sensor in one slot: combine them this way, as `forecaster predict "
                   "--aggregate` does (error: refuse the second, counted as duplicate).")
@click.option("--slot-grace", default=None, type=click.FloatRange(min=0), metavar="SECONDS",
              help="With --aggregate: a slot is final (and forecast) when a reading of a later slot arrives, or "
                   "this long after its end on the daemon's clock [default: one cadence step; 0: only a later reading].")
@click.option("--watch", is_flag=True, default=False,
              help="Reload the bundle when its directory changes (SIGHUP reloads it in any case); windows are kept "
                   "when it reads the same windows.")
@click.option("--watch-interval", default=2.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              metavar="SECONDS", help="Seconds between two looks at the bundle directory with --watch.")
@replica_options
@payload_options
@click.pass_context
def serve(ctx: click.Context, **o) -> None:
    """Subscribe to readings, keep a window per sensor, publish a forecast when it advances."""
    from forecaster.bundle import read_meta
    from forecaster.serve.config import ServeConfig
    from pipelines.conformal import parse_levels

    _info_logging(ctx)
    if o["ha_discovery"] is not None and not o["client_id"]:
        raise ForecasterError("--ha-discovery needs a fixed --client-id (Home Assistant keys the entities' unique_id on it)")
    settings = _mqtt_settings(ctx, o, persistent=o["persistent_session"], session_expiry=o["session_expiry"])
    config = ServeConfig(
        bundle=o["model"], mqtt=settings, status_topic=o["status_topic"].replace("{client_id}", settings.client_id),
        subscribe=o["subscribe"], publish=o["publish"], qos_in=o["qos_in"], qos_out=o["qos"], retain=o["retain"],
        metrics_host=o["metrics_host"], metrics_port=o["metrics_port"], state_file=o["state_file"],
        state_interval=o["state_interval"], max_sensors=o["max_sensors"], queue_size=o["queue_size"], publish_buffer=o["publish_buffer"],
        max_batch=o["max_batch"], max_payload=o["max_payload"], max_future_s=o["max_future"], runtime=o["runtime"],
        threads=o["threads"], output_format=o["output_format"], ha_discovery=o["ha_discovery"],
        aggregate=o["aggregate"], slot_grace=o["slot_grace"], intervals=parse_levels(",".join(o["interval"])),
        live_scoring=o["live_scoring"], metrics_per_sensor=o["metrics_per_sensor"], anomaly_topic=o["anomaly_topic"], anomaly_level=o["anomaly_level"],
        anomaly_step=o["anomaly_step"], watch=o["watch"], watch_interval=o["watch_interval"], **_payload_rules(o), **replica_settings(ctx, o),
    )
    if config.state_file:
        from forecaster.serve.state import StateStore

        StateStore(config.state_file, None).check_writable()  # before TensorFlow loads
    meta = read_meta(o["model"], expect="forecast")  # checks kind, schema and checksums without TensorFlow
    check_levels(o["model"], meta, config.intervals)
    if o["runtime"] == "tflite" and "model.tflite" not in meta.get("files", {}):
        raise ForecasterError(f"{o['model']}: no model.tflite; run `forecaster export --model {o['model']} --format tflite` first")
    ctx.exit(_serve_until_signalled(config))


def _serve_until_signalled(config: ServeConfig) -> int:
    """The process around the daemon: TensorFlow threads, the model, the garbage collector
    and the signal handlers (they only set the stop flag); then serve until it is set."""
    from forecaster.model import Forecaster
    from forecaster.serve.daemon import Daemon

    if config.threads and config.runtime == "keras":
        from forecaster.nn.tf_env import limit_threads

        limit_threads(config.threads)  # process-wide, before TensorFlow's first op
    model = Forecaster.load(config.bundle, runtime=config.runtime, threads=config.threads or None)
    daemon = Daemon(config, model)
    daemon.warm_up()
    # TensorFlow leaves millions of long-lived Python objects; a full garbage collection that
    # scans them all stalls the worker for 100+ ms. Freeze them out of the collector's view.
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _signum, _frame: stop.set())  # only a flag
        signal.signal(signal.SIGHUP, lambda _signum, _frame: daemon.reload())  # only a flag: the reload thread loads
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: every thread's stack on stderr
    return daemon.run_until(stop)


@click.command(epilog=EPILOG_REPLAY)
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="CSV to publish (one series or a sensor column).")
@mqtt_options
@click.option("--topic", default="sensors/{sensor}/readings", show_default=True, help="Topic template for the readings.")
@click.option("--sensor", default="0", show_default=True, help="Sensor id of a single-series file (the id `forecaster predict` uses).")
@click.option("--time-col", default=None,
              help="Time column, or two to join such as Date,Time [default: ts/time/timestamp/date/datetime, else the first].")
@click.option("--sensor-col", default=None, help="Sensor id column [default: 'sensor' if present].")
@click.option("--columns", default=None, help="Comma-separated value columns to send [default: all].")
@click.option("--rate", default=None, type=float, help="Messages per second [default: as fast as possible].")
@click.option("--speed", default=None, type=float, help="Multiple of real time, from the timestamps (3600: an hour per second).")
@click.option("--qos", default=1, show_default=True, type=click.IntRange(0, 2))
@click.option("--retain/--no-retain", default=False, show_default=True)
@csv_format
@click.pass_context
def replay(ctx: click.Context, **o) -> None:
    """Publish a CSV's rows as live readings (JSON), in time order."""
    from forecaster.serve.replay import ReplayConfig, run_replay
    from pipelines.csv_source import read_csv

    columns = tuple(c.strip() for c in o["columns"].split(",") if c.strip()) if o["columns"] else None
    config = ReplayConfig(
        mqtt=_mqtt_settings(ctx, o), topic=o["topic"], sensor=o["sensor"], columns=columns,
        rate=o["rate"], speed=o["speed"], qos=o["qos"], retain=o["retain"],
    )
    frame = read_csv(o["data"], time_col=o["time_col"], sensor_col=o["sensor_col"], **csv_keywords(o))
    quiet = ctx.parent is not None and ctx.parent.params.get("quiet")
    sent, skipped = run_replay(config, frame, progress=None if quiet else _replay_progress)
    note = f" ({skipped} rows with a missing value skipped)" if skipped else ""
    click.echo(f"published {sent} readings from {o['data']} to {config.mqtt.broker}{note}")


def _replay_progress(sent: int, total: int, ts) -> None:
    """One progress line on stderr (stdout keeps the summary)."""
    click.echo(f"replay: {sent}/{total} readings ({100 * sent // total} %), up to {ts:%Y-%m-%dT%H:%M:%SZ}", err=True)


@click.command(epilog=EPILOG_PARSE)
@click.argument("topic")
@click.argument("payload")
@click.option("--model", "bundle", default=None, type=click.Path(file_okay=False), help="Take the features from this bundle.")
@click.option("--features", default=None, help="Comma-separated features (instead of --model).")
@click.option("--subscribe", default="sensors/+/readings", show_default=True, help="The filter the message would match.")
@payload_options
def parse(topic: str, payload: str, bundle: str | None, features: str | None, subscribe: str, **o) -> None:
    """Show what one MQTT message becomes (a reading, or why it is rejected). PAYLOAD '-' reads stdin.

    A missing value prints as null; fields no rule uses are listed under "ignored".
    """
    import math

    import pandas as pd

    from pipelines.payloads import ParseRules, Rejection, format_timestamp, parse_message

    known: tuple[str, ...] = ()
    if bundle:
        from forecaster.bundle import read_meta

        spec = read_meta(bundle)["spec"]
        names, known = tuple(spec["features"]), tuple(spec["targets"])
    elif features:
        names = tuple(f.strip() for f in features.split(",") if f.strip())
    else:
        raise ForecasterError("give --model BUNDLE or --features a,b to say what a reading holds")
    raw = sys.stdin.buffer.read() if payload == "-" else payload.encode()
    rules = ParseRules(subscription=subscribe, features=names, known=known, **_payload_rules(o))
    item = parse_message(topic, raw, rules, now=pd.Timestamp.now(tz="UTC"))
    if isinstance(item, Rejection):
        raise ForecasterError(f"rejected ({item.cause}): {item.detail}")
    for feature in item.absent:
        if feature in rules.paths:
            click.echo(f"warning: --map {feature}={rules.paths[feature]}: no such path in this message", err=True)
    values = {n: (None if math.isnan(v) else v) for n, v in zip(names, item.values)}
    out = {"sensor": item.sensor, "ts": format_timestamp(item.ts), "values": values}
    click.echo(json.dumps({**out, "ignored": list(item.ignored)} if item.ignored else out))
